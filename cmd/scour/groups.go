package main

import (
	"context"

	"github.com/scour-dev/scour/internal/project"
)

// groupLookup returns the near-duplicate group of each image as recorded by
// clean, so that split keeps groups on one side; nil before clean has run.
func groupLookup(ctx context.Context, p *project.Project) func(string) string {
	var exists int
	if p.Catalog.DB().QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type='table' AND name='clean_groups'`).Scan(&exists); exists == 0 {
		return nil
	}
	groups := map[string]string{}
	rows, err := p.Catalog.DB().QueryContext(ctx, `SELECT sha256, group_id FROM clean_groups`)
	if err != nil {
		return nil
	}
	defer rows.Close()
	for rows.Next() {
		var sha, g string
		if rows.Scan(&sha, &g) == nil {
			groups[sha] = g
		}
	}
	return func(sha string) string { return groups[sha] }
}
