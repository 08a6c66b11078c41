package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// The review page reads the images it shows a page at a time, so that a
// quarantine of tens of thousands of images costs the page what one screen
// of them costs. What it shows is a union: every quarantined image (with a
// discard, if the person gave one), every image the person kept through the
// page (under the reason it was quarantined for) and every image the person
// moved to another class (under the class it was found in).

// ReviewUndecided selects, in ReviewQuery.State, the images the person has
// not decided on yet.
const ReviewUndecided = "undecided"

// ReviewScoring names the reasons whose images are ranked by one of clean's
// scores (catalog.Score), the most doubtful first; the images of any other
// reason rank by class and hash alone. The catalog sits below clean, so
// clean's reason names come from the caller.
type ReviewScoring struct {
	OffTopic string // the reason ranked by Score.OffTopic
	Misfiled string // the reason ranked by Score.Misfiled
}

// ReviewItem is one image as the review page shows it.
type ReviewItem struct {
	SHA256 string
	// Class is the class the image was found in (for a moved image, the
	// class it left; MovedTo is where it went).
	Class          string
	Reason, Method string
	Score          float64
	Width, Height  int
	Bytes          int64
	Decision       string // "", ReviewKeep, ReviewDiscard or ReviewMove
	MovedTo        string
	Scores         Score // clean's scores; zero thresholds where not judged
	Scored         bool  // Doubt is one of clean's scores, not a stand-in 0
	Doubt          float64
	Flags          []CleanFlag // every flag of the image, by reason
}

// Cursor is where the next page starts: just after this item in the
// page's order.
func (it ReviewItem) Cursor() ReviewCursor {
	return ReviewCursor{Doubt: it.Doubt, Class: it.Class, SHA256: it.SHA256}
}

// ReviewCursor is an item's place in the review order: doubt descending,
// then class, then hash.
type ReviewCursor struct {
	Doubt  float64
	Class  string
	SHA256 string
}

// ReviewQuery selects a page of review items.
type ReviewQuery struct {
	Scoring ReviewScoring
	Reason  string // required
	Class   string // "" for every class
	// State is "" for every image, ReviewUndecided, or one decision
	// (ReviewKeep, ReviewDiscard, ReviewMove).
	State string
	// After continues from a page's last item (keyset pagination, which
	// neither skips nor repeats an image when earlier pages change). With
	// no After, Offset skips that many items first: a jump into the
	// middle of a long list, costing what reading those items would.
	After  *ReviewCursor
	Offset int
	Limit  int
}

// ReviewGroup counts the images of one reason, class and decision.
type ReviewGroup struct {
	Reason, Class, Decision string
	Count                   int
	Scored                  int     // how many have a score of their reason
	MaxDoubt                float64 // the first one's doubt in the review order (0 stands in for no score)
	// How many clean judged off-topic or misfiled (a non-zero threshold),
	// whatever their reason: a page sizes its cards for the scores it will
	// show.
	OffTopicJudged, MisfiledJudged int
	// How many are misfiled (flagged so, or scored at or over the
	// threshold) with a suggested class other than their own: the page
	// offers those a move.
	Suggested int
}

// reviewItems is every item with its doubt, filtered by where. SQLite
// pushes the filters on reason and class into each arm of the union. The
// arms of the person's decisions start from the decisions (CROSS JOIN fixes
// SQLite's join order): a project has far fewer of them than kept images.
func reviewItems(where []string) string {
	w := ""
	if len(where) > 0 {
		w = " AND " + strings.Join(where, " AND ")
	}
	return `SELECT it.sha256, it.class, it.reason, it.score, it.method, it.decision, it.moved_to, it.width, it.height, it.bytes,
		coalesce(s.offtopic, 0), coalesce(s.offtopic_threshold, 0) AS offtopic_threshold, coalesce(s.offtopic_method, ''),
		coalesce(s.misfiled, 0) AS misfiled, coalesce(s.misfiled_threshold, 0) AS misfiled_threshold, coalesce(s.suggest, '') AS suggest,
		CASE WHEN it.reason = :off AND s.offtopic_threshold != 0 THEN s.offtopic
		     WHEN it.reason = :mis AND s.misfiled_threshold != 0 THEN s.misfiled END AS doubt
	FROM (
		SELECT i.sha256, i.class, i.reason, i.score, i.method,
			CASE WHEN d.decision = '` + ReviewDiscard + `' THEN '` + ReviewDiscard + `' ELSE '' END AS decision,
			'' AS moved_to, i.width, i.height, i.bytes
		FROM images i LEFT JOIN review_decisions d ON d.sha256 = i.sha256
		WHERE i.status = '` + StatusQuarantined + `'
		UNION ALL
		SELECT i.sha256, i.class, d.reason, d.score, d.method, '` + ReviewKeep + `', '', i.width, i.height, i.bytes
		FROM review_decisions d CROSS JOIN images i ON i.sha256 = d.sha256
		WHERE d.decision = '` + ReviewKeep + `' AND i.status = '` + StatusKept + `'
		UNION ALL
		SELECT i.sha256, m.from_class, d.reason, d.score, d.method, '` + ReviewMove + `', m.to_class, i.width, i.height, i.bytes
		FROM review_decisions d CROSS JOIN images i ON i.sha256 = d.sha256 CROSS JOIN class_moves m ON m.sha256 = d.sha256
		WHERE d.decision = '` + ReviewMove + `' AND i.status = '` + StatusKept + `'
	) it LEFT JOIN clean_scores s ON s.sha256 = it.sha256 WHERE 1` + w
}

// doubtOrder is the review order; ties on doubt fall back to class and
// hash, which are unique together.
const doubtOrder = `coalesce(doubt, 0) DESC, class, sha256`

func scoringArgs(s ReviewScoring) []any {
	return []any{sql.Named("off", s.OffTopic), sql.Named("mis", s.Misfiled)}
}

// filter turns q's reason, class and state into conditions on the union.
func (q ReviewQuery) filter() ([]string, []any, error) {
	if q.Reason == "" {
		return nil, nil, fmt.Errorf("catalog: a review page needs a reason")
	}
	where := []string{`it.reason = :reason`}
	args := []any{sql.Named("reason", q.Reason)}
	if q.Class != "" {
		where = append(where, `it.class = :class`)
		args = append(args, sql.Named("class", q.Class))
	}
	switch q.State {
	case "":
	case ReviewUndecided:
		where = append(where, `it.decision = ''`)
	case ReviewKeep, ReviewDiscard, ReviewMove:
		where = append(where, `it.decision = :state`)
		args = append(args, sql.Named("state", q.State))
	default:
		return nil, nil, fmt.Errorf("catalog: review state %q: want %q, %q, %q, %q or none", q.State, ReviewUndecided, ReviewKeep, ReviewDiscard, ReviewMove)
	}
	return where, append(args, scoringArgs(q.Scoring)...), nil
}

// ReviewPage returns up to q.Limit items of q's reason, in the review
// order (the most doubtful first), with their flags.
func (c *Catalog) ReviewPage(ctx context.Context, q ReviewQuery) ([]ReviewItem, error) {
	where, args, err := q.filter()
	if err != nil {
		return nil, err
	}
	if q.After != nil {
		where = append(where, `(coalesce(doubt, 0) < :d OR (coalesce(doubt, 0) = :d AND (it.class > :c OR (it.class = :c AND it.sha256 > :s))))`)
		args = append(args, sql.Named("d", q.After.Doubt), sql.Named("c", q.After.Class), sql.Named("s", q.After.SHA256))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	offset := 0
	if q.After == nil {
		offset = max(q.Offset, 0)
	}
	args = append(args, sql.Named("limit", limit), sql.Named("offset", offset))
	items, err := c.reviewQuery(ctx, `SELECT * FROM (`+reviewItems(where)+`) ORDER BY `+doubtOrder+` LIMIT :limit OFFSET :offset`, args...)
	if err != nil {
		return nil, err
	}
	return items, c.withFlags(ctx, items)
}

// ReviewItemOf returns the item the review page shows for sha, or
// ErrNotFound when the page shows no such image.
func (c *Catalog) ReviewItemOf(ctx context.Context, s ReviewScoring, sha string) (ReviewItem, error) {
	items, err := c.reviewQuery(ctx, reviewItems([]string{`it.sha256 = :sha`}), append(scoringArgs(s), sql.Named("sha", sha))...)
	if err != nil {
		return ReviewItem{}, err
	}
	if len(items) == 0 {
		return ReviewItem{}, fmt.Errorf("review item %s: %w", sha, ErrNotFound)
	}
	return items[0], c.withFlags(ctx, items[:1])
}

// ReviewIndex returns how many items of q come before at in the review
// order: its place in q's list, when it is one of them. q's After, Offset
// and Limit are ignored.
func (c *Catalog) ReviewIndex(ctx context.Context, q ReviewQuery, at ReviewCursor) (int, error) {
	where, args, err := q.filter()
	if err != nil {
		return 0, err
	}
	where = append(where, `(coalesce(doubt, 0) > :d OR (coalesce(doubt, 0) = :d AND (it.class < :c OR (it.class = :c AND it.sha256 < :s))))`)
	args = append(args, sql.Named("d", at.Doubt), sql.Named("c", at.Class), sql.Named("s", at.SHA256))
	var n int
	err = c.db.QueryRowContext(ctx, `SELECT count(*) FROM (`+reviewItems(where)+`)`, args...).Scan(&n)
	return n, c.corrupt(err)
}

// ReviewGroups counts the review items by reason, class and decision:
// everything the page needs to lay out its lists without reading them.
func (c *Catalog) ReviewGroups(ctx context.Context, s ReviewScoring) ([]ReviewGroup, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT reason, class, decision, count(*), count(doubt), max(coalesce(doubt, 0)),
		count(CASE WHEN offtopic_threshold != 0 THEN 1 END), count(CASE WHEN misfiled_threshold != 0 THEN 1 END),
		count(CASE WHEN suggest != '' AND suggest != class AND (reason = :mis OR misfiled_threshold != 0 AND misfiled >= misfiled_threshold) THEN 1 END)
		FROM (`+reviewItems(nil)+`) GROUP BY reason, class, decision ORDER BY reason, class, decision`, scoringArgs(s)...)
	if err != nil {
		return nil, c.corrupt(err)
	}
	defer rows.Close()
	var out []ReviewGroup
	for rows.Next() {
		var g ReviewGroup
		if err := rows.Scan(&g.Reason, &g.Class, &g.Decision, &g.Count, &g.Scored, &g.MaxDoubt, &g.OffTopicJudged, &g.MisfiledJudged, &g.Suggested); err != nil {
			return nil, c.corrupt(err)
		}
		out = append(out, g)
	}
	return out, c.corrupt(rows.Err())
}

func (c *Catalog) reviewQuery(ctx context.Context, q string, args ...any) ([]ReviewItem, error) {
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, c.corrupt(fmt.Errorf("catalog: reading review items: %w", err))
	}
	defer rows.Close()
	var out []ReviewItem
	for rows.Next() {
		var it ReviewItem
		var doubt sql.NullFloat64
		sc := &it.Scores
		if err := rows.Scan(&it.SHA256, &it.Class, &it.Reason, &it.Score, &it.Method, &it.Decision, &it.MovedTo, &it.Width, &it.Height, &it.Bytes,
			&sc.OffTopic, &sc.OffTopicThreshold, &sc.OffTopicMethod, &sc.Misfiled, &sc.MisfiledThreshold, &sc.Suggest, &doubt); err != nil {
			return nil, c.corrupt(err)
		}
		sc.SHA256 = it.SHA256
		it.Doubt, it.Scored = doubt.Float64, doubt.Valid
		out = append(out, it)
	}
	return out, c.corrupt(rows.Err())
}

// withFlags reads the flags of a page's images in one query.
func (c *Catalog) withFlags(ctx context.Context, items []ReviewItem) error {
	if len(items) == 0 {
		return nil
	}
	at := make(map[string]int, len(items))
	args := make([]any, len(items))
	for i, it := range items {
		at[it.SHA256] = i
		args[i] = it.SHA256
	}
	rows, err := c.db.QueryContext(ctx, `SELECT sha256, reason, score, method, detail FROM clean_flags
		WHERE sha256 IN (?`+strings.Repeat(",?", len(items)-1)+`) ORDER BY sha256, reason`, args...)
	if err != nil {
		return c.corrupt(err)
	}
	defer rows.Close()
	for rows.Next() {
		var f CleanFlag
		if err := rows.Scan(&f.SHA256, &f.Reason, &f.Score, &f.Method, &f.Detail); err != nil {
			return c.corrupt(err)
		}
		it := &items[at[f.SHA256]]
		it.Flags = append(it.Flags, f)
	}
	return c.corrupt(rows.Err())
}

// ReviewChanges says where the catalog's history stands: it differs between
// two calls whenever anything was written in between, by this process or by
// another one, so that a caller can keep a count (ReviewGroups) until then.
// It relies on the catalog's single connection: SQLite's data_version sees
// other connections' commits, total_changes this one's rows. Were the
// connection ever opened again, both would start over; an answer that
// happened to match an old one would keep that count until the next write.
type ReviewChanges struct{ DataVersion, TotalChanges int64 }

// ReviewChanges reads where the catalog's history stands (see the type).
func (c *Catalog) ReviewChanges(ctx context.Context) (ReviewChanges, error) {
	var r ReviewChanges
	err := c.db.QueryRowContext(ctx, `SELECT data_version, total_changes() FROM pragma_data_version`).Scan(&r.DataVersion, &r.TotalChanges)
	return r, c.corrupt(err)
}
