package catalog

import (
	"context"
	"time"
)

// SplitMember is one kept image and the set (train, val or test) the
// recorded split put it in.
type SplitMember struct {
	SHA256, Class, Key, Split string
}

// Assignment puts one image in a set.
type Assignment struct {
	SHA256, Split string
}

// ReplaceSplit records a new split made with seed, dropping the last one,
// in one transaction: a split is never half old and half new.
func (c *Catalog) ReplaceSplit(ctx context.Context, seed int64, as []Assignment) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return c.corrupt(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM splits`); err != nil {
		return c.corrupt(err)
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO splits(sha256, split, seed, updated_at) VALUES(?,?,?,?)`)
	if err != nil {
		return c.corrupt(err)
	}
	defer st.Close()
	at := time.Now().UTC().Format(time.RFC3339)
	for _, a := range as {
		if _, err := st.ExecContext(ctx, a.SHA256, a.Split, seed, at); err != nil {
			return c.corrupt(err)
		}
	}
	return c.corrupt(tx.Commit())
}

// SplitMembers lists the kept images of one set ("" = all sets) that the
// recorded split placed, in class then hash order.
func (c *Catalog) SplitMembers(ctx context.Context, set string) ([]SplitMember, error) {
	q := `SELECT i.sha256, i.class, i.key, s.split FROM images i JOIN splits s ON s.sha256 = i.sha256 WHERE i.status = 'kept'`
	args := []any{}
	if set != "" {
		q += ` AND s.split = ?`
		args = append(args, set)
	}
	q += ` ORDER BY i.class, i.sha256`
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, c.corrupt(err)
	}
	defer rows.Close()
	var out []SplitMember
	for rows.Next() {
		var m SplitMember
		if err := rows.Scan(&m.SHA256, &m.Class, &m.Key, &m.Split); err != nil {
			return nil, c.corrupt(err)
		}
		out = append(out, m)
	}
	return out, c.corrupt(rows.Err())
}
