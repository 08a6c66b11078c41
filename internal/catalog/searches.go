package catalog

import (
	"context"
	"database/sql"
)

// SearchState is how far one query on one engine has been searched, so a
// resumed gather does not ask the engine again for what it already has.
type SearchState struct {
	Engine, Class, Query string
	Found                int  // candidates seen in the last search
	Exhausted            bool // the engine had nothing more
}

// SearchState returns the recorded state, or a zero state if never searched.
func (c *Catalog) SearchState(ctx context.Context, engine, class, query string) (SearchState, error) {
	s := SearchState{Engine: engine, Class: class, Query: query}
	var ex int
	err := c.db.QueryRowContext(ctx, `SELECT found, exhausted FROM searches WHERE engine=? AND class=? AND query=?`, engine, class, query).Scan(&s.Found, &ex)
	if err == sql.ErrNoRows {
		return s, nil
	}
	s.Exhausted = ex != 0
	return s, c.corrupt(err)
}

// SaveSearchState records the outcome of a search.
func (c *Catalog) SaveSearchState(ctx context.Context, s SearchState) error {
	ex := 0
	if s.Exhausted {
		ex = 1
	}
	_, err := c.db.ExecContext(ctx, `INSERT INTO searches(engine,class,query,found,exhausted,updated_at) VALUES(?,?,?,?,?,?)
		ON CONFLICT(engine,class,query) DO UPDATE SET found=excluded.found, exhausted=excluded.exhausted, updated_at=excluded.updated_at`,
		s.Engine, s.Class, s.Query, s.Found, ex, now())
	return c.corrupt(err)
}
