package catalog

import (
	"context"
	"database/sql"
	"fmt"
)

// A sighting is one search (engine and query) finding one URL row. A URL
// row keeps the engine and query that found it first; every later finding
// by another query or engine adds a sighting instead of vanishing, so that
// per-query counts are true and an image's whole provenance can be told.

// Sighting is one (engine, query) that led to a URL.
type Sighting struct {
	URLID, URL, Class string
	Engine, Query     string
	Rank              int
	PageURL           string
	State             string // the URL row's state: pending | done | duplicate | failed
}

// sightingInsert adds a sighting; a search that finds the same URL again
// changes nothing.
const sightingInsert = `INSERT INTO url_sightings(url_id,engine,query,class,rank,page_url,found_at)
	VALUES(?,?,?,?,?,?,?) ON CONFLICT(url_id,engine,query) DO NOTHING`

type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

func addSighting(ctx context.Context, db execer, x Candidate, t string) error {
	if _, err := db.ExecContext(ctx, sightingInsert, URLID(x.Class, x.URL), x.Engine, x.Query, x.Class, x.Rank, x.PageURL, t); err != nil {
		return fmt.Errorf("catalog: sighting of %s: %w", x.URL, err)
	}
	return nil
}

// QueryStats is what one search (engine, class, query) brought. Counts are
// of the URLs it found, also those another search found first, so a URL
// two queries found counts for both.
type QueryStats struct {
	Engine string `json:"engine"`
	Class  string `json:"class"`
	Query  string `json:"query"`
	// Found is the candidate URLs the search returned.
	Found int `json:"found"`
	// Downloaded is how many of them were fetched and proved an image
	// (kept, or the same bytes as an image already there).
	Downloaded int `json:"downloaded"`
	// Kept is the distinct images those downloads are: copies of one
	// picture under several URLs count once.
	Kept int `json:"kept"`
	// CleanKept is how many of Kept are still kept: not quarantined by clean
	// or discarded by a person. Before clean has run it equals Kept.
	CleanKept int `json:"kept_after_clean"`
}

// EngineStats is QueryStats summed over an engine's searches, with images
// counted once per engine however many of its queries found them.
type EngineStats struct {
	Engine     string `json:"engine"`
	Found      int    `json:"found"`
	Downloaded int    `json:"downloaded"`
	Kept       int    `json:"kept"`
	CleanKept  int    `json:"kept_after_clean"`
}

const statsSelect = `count(*),
	coalesce(sum(u.state IN ('done','duplicate')), 0),
	count(DISTINCT CASE WHEN u.state IN ('done','duplicate') THEN u.sha256 END),
	count(DISTINCT CASE WHEN u.state IN ('done','duplicate') AND i.status = 'kept' THEN u.sha256 END)
	FROM url_sightings s JOIN urls u ON u.id = s.url_id LEFT JOIN images i ON i.sha256 = u.sha256`

// QueryStats returns what every search brought, by engine, class and query.
func (c *Catalog) QueryStats(ctx context.Context) ([]QueryStats, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT s.engine, s.class, s.query, `+statsSelect+`
		GROUP BY s.engine, s.class, s.query ORDER BY s.engine, s.class, s.query`)
	if err != nil {
		return nil, c.corrupt(err)
	}
	defer rows.Close()
	var out []QueryStats
	for rows.Next() {
		var q QueryStats
		if err := rows.Scan(&q.Engine, &q.Class, &q.Query, &q.Found, &q.Downloaded, &q.Kept, &q.CleanKept); err != nil {
			return nil, c.corrupt(err)
		}
		out = append(out, q)
	}
	return out, c.corrupt(rows.Err())
}

// EngineStats returns what every engine brought, over all its searches.
func (c *Catalog) EngineStats(ctx context.Context) ([]EngineStats, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT s.engine, `+statsSelect+` GROUP BY s.engine ORDER BY s.engine`)
	if err != nil {
		return nil, c.corrupt(err)
	}
	defer rows.Close()
	var out []EngineStats
	for rows.Next() {
		var e EngineStats
		if err := rows.Scan(&e.Engine, &e.Found, &e.Downloaded, &e.Kept, &e.CleanKept); err != nil {
			return nil, c.corrupt(err)
		}
		out = append(out, e)
	}
	return out, c.corrupt(rows.Err())
}

// ImageSightings returns every search that led to an image: through the URL
// it was fetched from and through every other URL that brought the same
// bytes, in any class.
func (c *Catalog) ImageSightings(ctx context.Context, sha string) ([]Sighting, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT u.id, u.url, u.class, s.engine, s.query, s.rank, s.page_url, u.state
		FROM urls u JOIN url_sightings s ON s.url_id = u.id
		WHERE u.sha256 = ? OR u.id = (SELECT url_id FROM images WHERE sha256 = ?)
		ORDER BY u.class, s.engine, s.query, u.id`, sha, sha)
	if err != nil {
		return nil, c.corrupt(err)
	}
	defer rows.Close()
	var out []Sighting
	for rows.Next() {
		var s Sighting
		if err := rows.Scan(&s.URLID, &s.URL, &s.Class, &s.Engine, &s.Query, &s.Rank, &s.PageURL, &s.State); err != nil {
			return nil, c.corrupt(err)
		}
		out = append(out, s)
	}
	return out, c.corrupt(rows.Err())
}

// OtherClasses returns, for each image that searches for more than one
// class led to, the classes other than its own that found the same bytes:
// which class is right is clean's cross-class question. A class a person
// moved the image out of has been answered and is left out.
func (c *Catalog) OtherClasses(ctx context.Context) (map[string][]string, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT DISTINCT i.sha256, u.class FROM images i JOIN urls u ON u.sha256 = i.sha256
		WHERE u.class <> i.class AND u.state IN ('done','duplicate')
		AND NOT EXISTS (SELECT 1 FROM class_moves m WHERE m.sha256 = i.sha256 AND m.from_class = u.class)
		ORDER BY i.sha256, u.class`)
	if err != nil {
		return nil, c.corrupt(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var sha, class string
		if err := rows.Scan(&sha, &class); err != nil {
			return nil, c.corrupt(err)
		}
		out[sha] = append(out[sha], class)
	}
	return out, c.corrupt(rows.Err())
}

// mergeSightings adds the sightings of the catalog file at path that c
// lacks: they are facts, so the union is the merge, in any order.
func (c *Catalog) mergeSightings(ctx context.Context, path string) error {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return c.corrupt(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS sightings_src`, path); err != nil {
		return c.corrupt(fmt.Errorf("attaching %s: %w", path, err))
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE sightings_src`)
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM sightings_src.sqlite_master WHERE type='table' AND name='url_sightings'`).Scan(&n); err != nil {
		return c.corrupt(err)
	}
	if n == 0 {
		return nil // a catalog from before sightings: its URL rows were migrated when opened
	}
	if _, err := conn.ExecContext(ctx, `INSERT OR IGNORE INTO main.url_sightings(url_id,engine,query,class,rank,page_url,found_at)
		SELECT url_id,engine,query,class,rank,page_url,found_at FROM sightings_src.url_sightings`); err != nil {
		return c.corrupt(fmt.Errorf("merging sightings of %s: %w", path, err))
	}
	return nil
}

// tombstoned says whether an image was set aside (quarantined by clean, or
// discarded by a person, which leaves it quarantined): such an image never
// comes back as kept, whatever URL or shard brings its bytes again.
func tombstoned(im Image) bool { return im.Status == StatusQuarantined }

// mergeTombstone settles an image that both catalogs hold when either has
// set it aside: the set-aside row wins whichever URL sorts first, so merge
// stays order-independent, and the other copy's bytes become an orphan.
// (The old rule, first URL id wins, brought a discarded image back when a
// shard fetched its bytes from a URL that sorts first.)
// It reports whether it settled the pair.
func mergeTombstone(ctx context.Context, tx *sql.Tx, cur, in Image, st *MergeStats) (bool, error) {
	if !tombstoned(cur) && !tombstoned(in) {
		return false, nil
	}
	winner, loser := cur, in
	// Set aside in both: the first URL id wins, as for kept copies, so that
	// the order of merges does not matter.
	if tombstoned(in) && (!tombstoned(cur) || in.URLID < cur.URLID) {
		winner, loser = in, cur
		if _, err := tx.ExecContext(ctx, `UPDATE images SET class=?, key=?, format=?, width=?, height=?, bytes=?, phash=?, url_id=?, fetched_at=?, status=?, reason=?, score=?, method=? WHERE sha256=?`,
			in.Class, in.Key, in.Format, in.Width, in.Height, in.Bytes, int64(in.PHash), in.URLID, in.FetchedAt, in.Status, in.Reason, in.Score, in.Method, in.SHA256); err != nil {
			return true, err
		}
	}
	if winner.URLID != loser.URLID {
		st.Duplicates++
		if _, err := tx.ExecContext(ctx, `UPDATE urls SET state='duplicate', cause='duplicate' WHERE id=?`, loser.URLID); err != nil {
			return true, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE urls SET state='done', cause='' WHERE id=?`, winner.URLID); err != nil {
			return true, err
		}
	}
	if loser.Key != winner.Key {
		st.Orphans = append(st.Orphans, loser.Key)
	}
	return true, nil
}

// minJudged is how many candidates a search must have found before its
// yield says anything about the query rather than about chance.
const minJudged = 5

// WorstQuery returns the index in qs of the search whose candidates least
// often became images that are still kept (kept after clean / found), or
// -1 when no search stands out: fewer than two searches found minJudged
// candidates, or they all did equally well.
func WorstQuery(qs []QueryStats) int {
	worst, best := -1, -1.0
	var worstYield float64
	judged := 0
	for i, q := range qs {
		if q.Found < minJudged {
			continue
		}
		judged++
		y := float64(q.CleanKept) / float64(q.Found)
		if worst < 0 || y < worstYield {
			worst, worstYield = i, y
		}
		best = max(best, y)
	}
	if judged < 2 || worstYield >= best {
		return -1
	}
	return worst
}
