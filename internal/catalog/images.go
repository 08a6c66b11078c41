package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Image statuses.
const (
	StatusKept        = "kept"
	StatusQuarantined = "quarantined"
)

// Image is one kept image.
type Image struct {
	SHA256        string
	Class         string
	Key           string // store key of the bytes
	Format        string
	Width, Height int
	Bytes         int64
	PHash         uint64
	URLID         string
	FetchedAt     string
	Status        string
	Reason        string
	Score         float64
	Method        string
}

// Outcome is what happened to one fetched URL. Exactly one of Image (kept or
// duplicate of a known image) or a failure (Cause/Err) is set.
type Outcome struct {
	URLID      string
	Image      *Image // set on success; Image.URLID is ignored
	Cause      string // failure cause, e.g. "http-404", "not-an-image"
	Err        string
	Retryable  bool
	HTTPStatus int
}

// Resolution tells the caller what Record decided for one outcome.
type Resolution struct {
	URLID     string
	State     string
	Duplicate *Image // the image already in the catalog, when State is duplicate
}

// Record stores a batch of outcomes in one transaction and returns, for each,
// the state it ended in. An image whose bytes are already in the catalog
// (from this batch or an earlier one) marks the URL as a duplicate of that
// image; the caller then removes the copy it wrote if it used another key.
// Replaying the same batch is harmless.
func (c *Catalog) Record(ctx context.Context, outs []Outcome) ([]Resolution, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, c.corrupt(err)
	}
	defer tx.Rollback()
	t := now()
	res := make([]Resolution, 0, len(outs))
	for _, o := range outs {
		if o.Image == nil {
			retry := 0
			if o.Retryable {
				retry = 1
			}
			if _, err := tx.ExecContext(ctx, `UPDATE urls SET state='failed', cause=?, error=?, retryable=?, http_status=?, attempts=attempts+1, updated_at=? WHERE id=?`,
				o.Cause, o.Err, retry, o.HTTPStatus, t, o.URLID); err != nil {
				return nil, c.corrupt(err)
			}
			res = append(res, Resolution{URLID: o.URLID, State: StateFailed})
			continue
		}
		im := *o.Image
		if im.FetchedAt == "" {
			im.FetchedAt = t
		}
		r, err := tx.ExecContext(ctx, `INSERT INTO images(sha256,class,key,format,width,height,bytes,phash,url_id,fetched_at)
			VALUES(?,?,?,?,?,?,?,?,?,?) ON CONFLICT(sha256) DO NOTHING`,
			im.SHA256, im.Class, im.Key, im.Format, im.Width, im.Height, im.Bytes, int64(im.PHash), o.URLID, im.FetchedAt)
		if err != nil {
			return nil, c.corrupt(err)
		}
		state := StateDone
		var dup *Image
		if n, _ := r.RowsAffected(); n == 0 {
			existing, err := getImage(ctx, tx, im.SHA256)
			if err != nil {
				return nil, c.corrupt(err)
			}
			if existing.URLID != o.URLID {
				state = StateDuplicate
				dup = &existing
			}
		}
		cause := ""
		if state == StateDuplicate {
			cause = "duplicate"
		}
		if _, err := tx.ExecContext(ctx, `UPDATE urls SET state=?, cause=?, error='', retryable=0, http_status=?, attempts=attempts+1, sha256=?, updated_at=? WHERE id=?`,
			state, cause, o.HTTPStatus, im.SHA256, t, o.URLID); err != nil {
			return nil, c.corrupt(err)
		}
		res = append(res, Resolution{URLID: o.URLID, State: state, Duplicate: dup})
	}
	if err := tx.Commit(); err != nil {
		return nil, c.corrupt(err)
	}
	return res, nil
}

const imageCols = `sha256,class,key,format,width,height,bytes,phash,url_id,fetched_at,status,reason,score,method`

func scanImage(s scanner) (Image, error) {
	var im Image
	var ph int64
	err := s.Scan(&im.SHA256, &im.Class, &im.Key, &im.Format, &im.Width, &im.Height, &im.Bytes, &ph, &im.URLID, &im.FetchedAt, &im.Status, &im.Reason, &im.Score, &im.Method)
	im.PHash = uint64(ph)
	return im, err
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func getImage(ctx context.Context, q querier, sha string) (Image, error) {
	im, err := scanImage(q.QueryRowContext(ctx, `SELECT `+imageCols+` FROM images WHERE sha256=?`, sha))
	if err == sql.ErrNoRows {
		return im, fmt.Errorf("image %s: %w", sha, ErrNotFound)
	}
	return im, err
}

// GetImage returns the image with the given content hash.
func (c *Catalog) GetImage(ctx context.Context, sha string) (Image, error) {
	im, err := getImage(ctx, c.db, sha)
	if err != nil && !isNotFound(err) {
		return im, c.corrupt(err)
	}
	return im, err
}

func isNotFound(err error) bool { return err != nil && errors.Is(err, ErrNotFound) }

// ImageFilter selects images; zero values match everything.
type ImageFilter struct {
	Class  string
	Status string
}

// ForEachImage calls fn for every image matching f, in content-hash order,
// reading in pages so memory stays flat.
func (c *Catalog) ForEachImage(ctx context.Context, f ImageFilter, fn func(Image) error) error {
	q, args := imagePageQuery(f)
	for {
		rows, err := c.db.QueryContext(ctx, q, args...)
		if err != nil {
			return c.corrupt(err)
		}
		var page []Image
		for rows.Next() {
			im, err := scanImage(rows)
			if err != nil {
				rows.Close()
				return c.corrupt(err)
			}
			page = append(page, im)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return c.corrupt(err)
		}
		if len(page) == 0 {
			return nil
		}
		for _, im := range page {
			if err := fn(im); err != nil {
				return err
			}
		}
		args[0] = page[len(page)-1].SHA256
	}
}

// imagePageQuery is one page of ForEachImage, with its arguments (the
// first is the cursor). The unary + keeps SQLite off the images_status
// index: with it the planner sorts every matching row
// for each page of 1000, which made walking a million-image catalog
// quadratic; walking the sha256 key is one pass whatever the filter.
func imagePageQuery(f ImageFilter) (string, []any) {
	q := `SELECT ` + imageCols + ` FROM images WHERE sha256 > ?`
	args := []any{""} // the cursor: the last hash of the previous page
	if f.Class != "" {
		q += ` AND +class = ?`
		args = append(args, f.Class)
	}
	if f.Status != "" {
		q += ` AND +status = ?`
		args = append(args, f.Status)
	}
	return q + ` ORDER BY sha256 LIMIT 1000`, args
}

// SetStatus records a quarantine decision (or its undoing) for one image and
// the key its bytes now live under.
func (c *Catalog) SetStatus(ctx context.Context, sha, status, key, reason, method string, score float64) error {
	r, err := c.db.ExecContext(ctx, `UPDATE images SET status=?, key=?, reason=?, method=?, score=? WHERE sha256=?`, status, key, reason, method, score, sha)
	if err != nil {
		return c.corrupt(err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("image %s: %w", sha, ErrNotFound)
	}
	return nil
}

// CountImages returns the number of images per class and status.
func (c *Catalog) CountImages(ctx context.Context) (map[string]map[string]int, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT class, status, count(*) FROM images GROUP BY class, status`)
	if err != nil {
		return nil, c.corrupt(err)
	}
	defer rows.Close()
	out := map[string]map[string]int{}
	for rows.Next() {
		var class, status string
		var n int
		if err := rows.Scan(&class, &status, &n); err != nil {
			return nil, c.corrupt(err)
		}
		if out[class] == nil {
			out[class] = map[string]int{}
		}
		out[class][status] = n
	}
	return out, c.corrupt(rows.Err())
}

// CountKept returns the number of kept images of a class.
func (c *Catalog) CountKept(ctx context.Context, class string) (int, error) {
	var n int
	err := c.db.QueryRowContext(ctx, `SELECT count(*) FROM images WHERE class=? AND status='kept'`, class).Scan(&n)
	return n, c.corrupt(err)
}
