package catalog

import (
	"context"
	"fmt"

	"modernc.org/sqlite"
)

// PageSnapshot writes a consistent copy of the catalog to path, which must
// not exist, page for page: SQLite's online backup copies every page of one
// read transaction to the same page number, so a page the catalog did not
// touch since the last snapshot is byte-identical in the next one. That is
// what lets a shard upload only the pages that changed (VACUUM INTO, which
// Snapshot uses, rebuilds every index and moves almost every page).
func (c *Catalog) PageSnapshot(ctx context.Context, path string) error {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return c.corrupt(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		b, ok := dc.(interface {
			NewBackup(dst string) (*sqlite.Backup, error)
		})
		if !ok {
			return fmt.Errorf("the SQLite driver (%T) has no online backup", dc)
		}
		bk, err := b.NewBackup(path)
		if err != nil {
			return err
		}
		if _, err := bk.Step(-1); err != nil {
			bk.Finish()
			return err
		}
		return bk.Finish()
	})
	if err != nil {
		return c.corrupt(fmt.Errorf("snapshot of %s: %w", c.path, err))
	}
	return nil
}
