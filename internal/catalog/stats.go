package catalog

import (
	"context"
	"sort"
)

// ClassStats is what happened to one class's URLs and images.
type ClassStats struct {
	Class       string
	URLs        int            // candidate URLs recorded
	Done        int            // fetched and kept as a new image
	Duplicates  int            // fetched, bytes already known
	Failed      map[string]int // by cause
	Kept        int            // images with status kept
	Quarantined map[string]int // images by quarantine reason
}

// Stats returns per-class statistics, for classes in the given order
// (classes found in the catalog but not listed are appended).
func (c *Catalog) Stats(ctx context.Context, classes []string) ([]ClassStats, error) {
	by := map[string]*ClassStats{}
	get := func(class string) *ClassStats {
		s := by[class]
		if s == nil {
			s = &ClassStats{Class: class, Failed: map[string]int{}, Quarantined: map[string]int{}}
			by[class] = s
		}
		return s
	}
	for _, cl := range classes {
		get(cl)
	}
	rows, err := c.db.QueryContext(ctx, `SELECT class, state, cause, count(*) FROM urls GROUP BY class, state, cause`)
	if err != nil {
		return nil, c.corrupt(err)
	}
	for rows.Next() {
		var class, state, cause string
		var n int
		if err := rows.Scan(&class, &state, &cause, &n); err != nil {
			rows.Close()
			return nil, c.corrupt(err)
		}
		if class == "" {
			continue
		}
		s := get(class)
		s.URLs += n
		switch state {
		case StateDone:
			s.Done += n
		case StateDuplicate:
			s.Duplicates += n
		case StateFailed:
			s.Failed[cause] += n
		}
	}
	rows.Close()
	rows, err = c.db.QueryContext(ctx, `SELECT class, status, reason, count(*) FROM images GROUP BY class, status, reason`)
	if err != nil {
		return nil, c.corrupt(err)
	}
	defer rows.Close()
	for rows.Next() {
		var class, status, reason string
		var n int
		if err := rows.Scan(&class, &status, &reason, &n); err != nil {
			return nil, c.corrupt(err)
		}
		s := get(class)
		if status == StatusKept {
			s.Kept += n
		} else {
			s.Quarantined[reason] += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, c.corrupt(err)
	}
	out := make([]ClassStats, 0, len(by))
	seen := map[string]bool{}
	for _, cl := range classes {
		out = append(out, *by[cl])
		seen[cl] = true
	}
	var extra []string
	for cl := range by {
		if !seen[cl] {
			extra = append(extra, cl)
		}
	}
	sort.Strings(extra)
	for _, cl := range extra {
		out = append(out, *by[cl])
	}
	return out, nil
}

// Provenance counts kept images by source engine and by license.
func (c *Catalog) Provenance(ctx context.Context) (engines, licenses map[string]int, err error) {
	engines, licenses = map[string]int{}, map[string]int{}
	rows, err := c.db.QueryContext(ctx, `SELECT coalesce(u.engine,''), coalesce(u.license,''), count(*) FROM images i LEFT JOIN urls u ON u.id = i.url_id
		WHERE i.status = 'kept' GROUP BY 1, 2`)
	if err != nil {
		return nil, nil, c.corrupt(err)
	}
	defer rows.Close()
	for rows.Next() {
		var e, l string
		var n int
		if err := rows.Scan(&e, &l, &n); err != nil {
			return nil, nil, c.corrupt(err)
		}
		if l == "" {
			l = "unknown"
		}
		engines[e] += n
		licenses[l] += n
	}
	return engines, licenses, c.corrupt(rows.Err())
}
