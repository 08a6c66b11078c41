package catalog

import (
	"context"
	"database/sql"
)

// Shortfall says why a class ended its last top-up short of its target.
type Shortfall struct {
	Class          string
	Target, Kept   int
	Rounds         int
	Reason, Detail string
}

// SaveShortfalls replaces the recorded shortfalls with those of the
// top-up that just ended: a class that reached its target has none.
func (c *Catalog) SaveShortfalls(ctx context.Context, fs []Shortfall) error {
	return c.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM topup_shortfalls`); err != nil {
			return err
		}
		at := now()
		for _, f := range fs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO topup_shortfalls(class,target,kept,rounds,reason,detail,updated_at) VALUES(?,?,?,?,?,?,?)`,
				f.Class, f.Target, f.Kept, f.Rounds, f.Reason, f.Detail, at); err != nil {
				return err
			}
		}
		return nil
	})
}

// Shortfalls returns the recorded shortfalls by class name.
func (c *Catalog) Shortfalls(ctx context.Context) (map[string]Shortfall, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT class, target, kept, rounds, reason, detail FROM topup_shortfalls`)
	if err != nil {
		return nil, c.corrupt(err)
	}
	defer rows.Close()
	out := map[string]Shortfall{}
	for rows.Next() {
		var f Shortfall
		if err := rows.Scan(&f.Class, &f.Target, &f.Kept, &f.Rounds, &f.Reason, &f.Detail); err != nil {
			return nil, c.corrupt(err)
		}
		out[f.Class] = f
	}
	return out, c.corrupt(rows.Err())
}

// Credit is what attributing one kept image takes: where it came from and
// under which terms, as its source gave them.
type Credit struct {
	SHA256, Class, Key              string
	Title, Author, License, PageURL string
	URL                             string
}

// ForEachKeptCredit calls fn for every kept image with the title, author,
// license and page of the URL it was first fetched from, by class and key.
// It streams: fn must not use the catalog.
func (c *Catalog) ForEachKeptCredit(ctx context.Context, fn func(Credit) error) error {
	rows, err := c.db.QueryContext(ctx, `SELECT i.sha256, i.class, i.key, coalesce(u.title,''), coalesce(u.author,''), coalesce(u.license,''), coalesce(u.page_url,''), coalesce(u.url,'')
		FROM images i LEFT JOIN urls u ON u.id = i.url_id WHERE i.status = 'kept' ORDER BY i.class, i.key`)
	if err != nil {
		return c.corrupt(err)
	}
	defer rows.Close()
	for rows.Next() {
		var cr Credit
		if err := rows.Scan(&cr.SHA256, &cr.Class, &cr.Key, &cr.Title, &cr.Author, &cr.License, &cr.PageURL, &cr.URL); err != nil {
			return c.corrupt(err)
		}
		if err := fn(cr); err != nil {
			return err
		}
	}
	return c.corrupt(rows.Err())
}
