package catalog

import (
	"context"
	"database/sql"
	"fmt"
)

// URL states.
const (
	StatePending   = "pending"
	StateDone      = "done"      // fetched and kept as an image (Image.SHA256 = sha256)
	StateDuplicate = "duplicate" // fetched, but the same bytes were already in the catalog
	StateFailed    = "failed"    // see cause, error and retryable
)

// Candidate is a URL a search returned, before it is fetched.
type Candidate struct {
	URL, Class, Engine, Query string
	Rank                      int
	PageURL, ThumbURL, Title  string
	License, Author           string
}

// URLRow is a candidate and what became of it.
type URLRow struct {
	ID string
	Candidate
	State, Cause, Error string
	Retryable           bool
	HTTPStatus          int
	Attempts            int
	SHA256              string
}

// AddCandidates records candidates that are not yet in the catalog and
// returns how many were new. Known URLs keep their state, so re-running a
// search never resets what was fetched; every candidate, new or known, is
// recorded as a sighting of its engine and query.
func (c *Catalog) AddCandidates(ctx context.Context, cs []Candidate) (int, error) {
	if len(cs) == 0 {
		return 0, nil
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, c.corrupt(err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO urls(id,url,class,engine,query,rank,page_url,thumb_url,title,license,author,found_at,updated_at)
		VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO NOTHING`)
	if err != nil {
		return 0, c.corrupt(err)
	}
	defer st.Close()
	added := 0
	t := now()
	for _, x := range cs {
		res, err := st.ExecContext(ctx, URLID(x.Class, x.URL), x.URL, x.Class, x.Engine, x.Query, x.Rank, x.PageURL, x.ThumbURL, x.Title, x.License, x.Author, t, t)
		if err != nil {
			return 0, c.corrupt(fmt.Errorf("catalog: add %s: %w", x.URL, err))
		}
		if n, _ := res.RowsAffected(); n > 0 {
			added++
		}
		if err := addSighting(ctx, tx, x, t); err != nil {
			return 0, c.corrupt(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, c.corrupt(err)
	}
	return added, nil
}

// RecordFailure records a candidate that failed before it could be fetched
// (for example an unparsable line of a URL list), so that it is accounted for.
func (c *Catalog) RecordFailure(ctx context.Context, cand Candidate, cause, msg string) error {
	id := URLID(cand.Class, cand.URL)
	t := now()
	_, err := c.db.ExecContext(ctx, `INSERT INTO urls(id,url,class,engine,query,rank,page_url,title,state,cause,error,found_at,updated_at)
		VALUES(?,?,?,?,?,?,?,?,'failed',?,?,?,?) ON CONFLICT(id) DO UPDATE SET state='failed', cause=excluded.cause, error=excluded.error, updated_at=excluded.updated_at`,
		id, cand.URL, cand.Class, cand.Engine, cand.Query, cand.Rank, cand.PageURL, cand.Title, cause, msg, t, t)
	if err == nil {
		err = addSighting(ctx, c.db, cand, t)
	}
	return c.corrupt(err)
}

// ForEachTodo calls fn, in id order and in pages of limit rows, with every
// URL that still needs fetching: pending ones, and failed ones marked
// retryable when retryFailed is set. The page is read before fn is called,
// so fn may record outcomes. Memory stays flat however many URLs there are.
func (c *Catalog) ForEachTodo(ctx context.Context, limit int, retryFailed bool, fn func([]URLRow) error) error {
	after := ""
	for {
		q := `SELECT id,url,class,engine,query,rank,page_url,thumb_url,title,license,author,state,cause,error,retryable,http_status,attempts,sha256
			FROM urls WHERE id > ? AND (state = 'pending'`
		if retryFailed {
			q += ` OR (state = 'failed' AND retryable = 1)`
		}
		q += `) ORDER BY id LIMIT ?`
		rows, err := c.db.QueryContext(ctx, q, after, limit)
		if err != nil {
			return c.corrupt(err)
		}
		var page []URLRow
		for rows.Next() {
			r, err := scanURL(rows)
			if err != nil {
				rows.Close()
				return c.corrupt(err)
			}
			after = r.ID
			page = append(page, r)
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return c.corrupt(err)
		}
		rows.Close()
		if len(page) == 0 {
			return nil
		}
		if err := fn(page); err != nil {
			return err
		}
	}
}

type scanner interface{ Scan(...any) error }

func scanURL(s scanner) (URLRow, error) {
	var r URLRow
	var retry int
	err := s.Scan(&r.ID, &r.URL, &r.Class, &r.Engine, &r.Query, &r.Rank, &r.PageURL, &r.ThumbURL, &r.Title, &r.License, &r.Author,
		&r.State, &r.Cause, &r.Error, &retry, &r.HTTPStatus, &r.Attempts, &r.SHA256)
	r.Retryable = retry != 0
	return r, err
}

// GetURL returns one URL row.
func (c *Catalog) GetURL(ctx context.Context, id string) (URLRow, error) {
	row := c.db.QueryRowContext(ctx, `SELECT id,url,class,engine,query,rank,page_url,thumb_url,title,license,author,state,cause,error,retryable,http_status,attempts,sha256 FROM urls WHERE id=?`, id)
	r, err := scanURL(row)
	if err == sql.ErrNoRows {
		return r, fmt.Errorf("url %s: %w", id, ErrNotFound)
	}
	return r, c.corrupt(err)
}

// CountURLs returns the number of URL rows per state and, for failures, per cause.
func (c *Catalog) CountURLs(ctx context.Context) (byState map[string]int, byCause map[string]int, err error) {
	byState, byCause = map[string]int{}, map[string]int{}
	rows, err := c.db.QueryContext(ctx, `SELECT state, cause, count(*) FROM urls GROUP BY state, cause`)
	if err != nil {
		return nil, nil, c.corrupt(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s, cause string
		var n int
		if err := rows.Scan(&s, &cause, &n); err != nil {
			return nil, nil, c.corrupt(err)
		}
		byState[s] += n
		if s == StateFailed {
			byCause[cause] += n
		}
	}
	return byState, byCause, c.corrupt(rows.Err())
}

// CountClassURLs returns, for one class, how many URL rows there are and how
// many ended as a kept image.
func (c *Catalog) CountClassURLs(ctx context.Context, class string) (total, done int, err error) {
	err = c.db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(state='done'),0) FROM urls WHERE class=?`, class).Scan(&total, &done)
	return total, done, c.corrupt(err)
}

// CountRetryable returns how many URLs failed for a reason that may pass.
func (c *Catalog) CountRetryable(ctx context.Context) (int, error) {
	var n int
	err := c.db.QueryRowContext(ctx, `SELECT count(*) FROM urls WHERE state='failed' AND retryable=1`).Scan(&n)
	return n, c.corrupt(err)
}
