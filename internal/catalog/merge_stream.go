package catalog

import (
	"context"
	"database/sql"
	"fmt"
)

// imageMerger folds a shard's images into c one at a time, inside Merge's
// transaction. The two statements every image runs are prepared once: at
// millions of images, preparing them per image took most of the merge.
type imageMerger struct {
	c      *Catalog
	tx     *sql.Tx
	st     *MergeStats
	get    *sql.Stmt
	insert *sql.Stmt
}

func (c *Catalog) newImageMerger(ctx context.Context, tx *sql.Tx, st *MergeStats) (*imageMerger, error) {
	m := &imageMerger{c: c, tx: tx, st: st}
	var err error
	if m.get, err = tx.PrepareContext(ctx, `SELECT `+imageCols+` FROM images WHERE sha256=?`); err != nil {
		return nil, c.corrupt(err)
	}
	if m.insert, err = tx.PrepareContext(ctx, `INSERT INTO images(`+imageCols+`) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)`); err != nil {
		m.get.Close()
		return nil, c.corrupt(err)
	}
	return m, nil
}

func (m *imageMerger) close() {
	m.get.Close()
	m.insert.Close()
}

// merge is one image of Merge: a new content hash is inserted; one already
// there under another URL makes a duplicate, a set-aside copy winning (see
// mergeTombstone), else the copy whose URL id sorts first.
func (m *imageMerger) merge(ctx context.Context, im Image) error {
	c, tx, st := m.c, m.tx, m.st
	cur, err := scanImage(m.get.QueryRowContext(ctx, im.SHA256))
	switch {
	case err == nil:
		if settled, err := mergeTombstone(ctx, tx, cur, im, st); err != nil {
			return c.corrupt(err)
		} else if settled {
			return nil
		}
		if cur.URLID == im.URLID {
			return nil
		}
		st.Duplicates++
		winner, loser := cur, im
		if im.URLID < cur.URLID {
			winner, loser = im, cur
			if _, err := tx.ExecContext(ctx, `UPDATE images SET class=?, key=?, format=?, width=?, height=?, bytes=?, phash=?, url_id=?, fetched_at=? WHERE sha256=?`,
				im.Class, im.Key, im.Format, im.Width, im.Height, im.Bytes, int64(im.PHash), im.URLID, im.FetchedAt, im.SHA256); err != nil {
				return c.corrupt(err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE urls SET state='duplicate', cause='duplicate' WHERE id=?`, loser.URLID); err != nil {
			return c.corrupt(err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE urls SET state='done', cause='' WHERE id=?`, winner.URLID); err != nil {
			return c.corrupt(err)
		}
		if loser.Key != winner.Key {
			st.Orphans = append(st.Orphans, loser.Key)
		}
	case isNotFound(err) || err == sql.ErrNoRows:
		if _, err := m.insert.ExecContext(ctx,
			im.SHA256, im.Class, im.Key, im.Format, im.Width, im.Height, im.Bytes, int64(im.PHash), im.URLID, im.FetchedAt, im.Status, im.Reason, im.Score, im.Method); err != nil {
			return c.corrupt(err)
		}
		st.Images++
	default:
		return c.corrupt(fmt.Errorf("merge image %s: %w", im.SHA256, err))
	}
	return nil
}
