package catalog

import (
	"context"
	"fmt"
)

// MergeStats says what a Merge changed.
type MergeStats struct {
	URLs       int      `json:"urls"`                  // URL rows added or updated
	Images     int      `json:"images"`                // images added
	Duplicates int      `json:"duplicates"`            // images already present under another URL
	Orphans    []string `json:"orphan_keys,omitempty"` // store keys no image row uses any more
}

// Merge folds another catalog (a shard's) into c. It is idempotent and
// order-independent: merging shards in any order, or one shard twice, gives
// the same catalog.
//
// A shard is authoritative for the URL rows it holds, which are copied
// over. Images are keyed by content, so the same bytes fetched by two shards
// are one image; the copy kept is the one whose URL id sorts first, exactly
// as if one process had fetched both, and the other URL becomes a duplicate.
// When the copy that loses was stored under another key (another class), its
// key is returned in Orphans for the caller to delete from the store. An
// image either catalog has set aside (quarantined, discarded) stays set
// aside: a shard that fetched the same bytes again does not bring it back.
func (c *Catalog) Merge(ctx context.Context, other *Catalog) (MergeStats, error) {
	var st MergeStats
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return st, c.corrupt(err)
	}
	defer tx.Rollback()

	urlCols := `id,url,class,engine,query,rank,page_url,thumb_url,title,license,author,state,cause,error,retryable,http_status,attempts,sha256,found_at,updated_at`
	rows, err := other.db.QueryContext(ctx, `SELECT `+urlCols+` FROM urls ORDER BY id`)
	if err != nil {
		return st, other.corrupt(err)
	}
	up, err := tx.PrepareContext(ctx, `INSERT INTO urls(`+urlCols+`) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(id) DO UPDATE SET state=excluded.state, cause=excluded.cause, error=excluded.error, retryable=excluded.retryable,
		http_status=excluded.http_status, attempts=excluded.attempts, sha256=excluded.sha256, updated_at=excluded.updated_at
		WHERE excluded.updated_at > urls.updated_at`)
	if err != nil {
		rows.Close()
		return st, c.corrupt(err)
	}
	for rows.Next() {
		vals := make([]any, 20)
		ptrs := make([]any, 20)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return st, other.corrupt(err)
		}
		r, err := up.ExecContext(ctx, vals...)
		if err != nil {
			rows.Close()
			return st, c.corrupt(err)
		}
		if n, _ := r.RowsAffected(); n > 0 {
			st.URLs++
		}
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return st, other.corrupt(err)
	}
	rows.Close()

	// The images stream through imageMerger one row at a time: buffering a
	// shard's images cost about 300 bytes each, gigabytes at millions.
	m, err := c.newImageMerger(ctx, tx, &st)
	if err != nil {
		return st, err
	}
	defer m.close()
	if err := other.ForEachImage(ctx, ImageFilter{}, func(im Image) error { return m.merge(ctx, im) }); err != nil {
		return st, err
	}
	if err := tx.Commit(); err != nil {
		return st, c.corrupt(err)
	}
	if err := c.mergeSightings(ctx, other.Path()); err != nil {
		return st, err
	}
	return st, c.mergeCaches(ctx, other.Path())
}

// mergeCaches copies the cache tables' rows that c lacks from the catalog
// file at path. SQLite copies between attached databases itself, which is
// both the fastest way and the one that needs no knowledge of the columns.
func (c *Catalog) mergeCaches(ctx context.Context, path string) error {
	if len(cacheTables) == 0 {
		return nil
	}
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return c.corrupt(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS shard`, path); err != nil {
		return c.corrupt(fmt.Errorf("attaching %s: %w", path, err))
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE shard`)
	for _, t := range cacheTables {
		var n int
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM shard.sqlite_master WHERE type='table' AND name=?`, t).Scan(&n); err != nil || n == 0 {
			continue // an older shard without the table
		}
		if _, err := conn.ExecContext(ctx, `INSERT OR IGNORE INTO main.`+t+` SELECT * FROM shard.`+t); err != nil {
			return c.corrupt(fmt.Errorf("merging %s: %w", t, err))
		}
	}
	return nil
}
