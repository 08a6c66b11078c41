package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Snapshot writes a consistent copy of the catalog to path, which must not
// exist, even while other connections use it: the WAL is folded into the
// file first, then SQLite copies it in one read transaction.
func (c *Catalog) Snapshot(ctx context.Context, path string) error {
	if _, err := c.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return c.corrupt(err)
	}
	if _, err := c.db.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return c.corrupt(fmt.Errorf("snapshot of %s: %w", c.path, err))
	}
	return nil
}

// MergedShard returns the version of the shard catalog name last merged
// into this one, or "" when none was.
func (c *Catalog) MergedShard(ctx context.Context, name string) (string, error) {
	var v string
	err := c.db.QueryRowContext(ctx, `SELECT version FROM merged_shards WHERE name=?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, c.corrupt(err)
}

// SetMergedShard records that version of the shard catalog name is merged.
func (c *Catalog) SetMergedShard(ctx context.Context, name, version string) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO merged_shards(name, version, merged_at) VALUES(?,?,?)
		ON CONFLICT(name) DO UPDATE SET version=excluded.version, merged_at=excluded.merged_at`, name, version, time.Now().UTC().Format(time.RFC3339))
	return c.corrupt(err)
}
