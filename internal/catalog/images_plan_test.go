package catalog

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestImagePagesWalkTheKey guards ForEachImage against a plan that sorts
// the whole filtered set for every page (quadratic at millions of images).
func TestImagePagesWalkTheKey(t *testing.T) {
	ctx := context.Background()
	c, err := Open(ctx, filepath.Join(t.TempDir(), "scour.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, f := range []ImageFilter{{}, {Status: StatusKept}, {Class: "a"}, {Class: "a", Status: StatusQuarantined}} {
		q, args := imagePageQuery(f)
		rows, err := c.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		if strings.Contains(p, "TEMP B-TREE") || !strings.Contains(p, "sha256>?") {
			t.Errorf("filter %+v: plan %q, want a walk of the sha256 key without sorting", f, p)
		}
	}
}
