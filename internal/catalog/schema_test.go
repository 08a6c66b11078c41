package catalog

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// restore builds a SQLite file from a dump made by the sqlite3 shell's
// .dump of a catalog written by an earlier scour.
func restore(t *testing.T, dump string) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", dump))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "scour.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(string(text)); err != nil {
		t.Fatalf("restoring %s: %v", dump, err)
	}
	return path
}

// schema lists every table, index and trigger with the statement that
// made it, which is what a migration's text decides.
func schema(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func versions(t *testing.T, db *sql.DB) []int {
	t.Helper()
	rows, err := db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func TestMigrationsAreInOrder(t *testing.T) {
	for i := 1; i < len(migrations); i++ {
		if migrations[i].version <= migrations[i-1].version {
			t.Errorf("migration %d is listed after %d: versions must only grow", migrations[i].version, migrations[i-1].version)
		}
	}
}

// A new catalog must hold every table, index and trigger that scour wrote
// on 2026-12-03, when every stage still added its own migrations, with the
// same statements under the same versions: otherwise catalogs made before
// and after would differ. Migrations added since come on top.
func TestNewCatalogHasEveryTable(t *testing.T) {
	c := open(t)
	ref, err := sql.Open("sqlite", restore(t, "schema-2026-12-03.sql"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	got := schema(t, c.db)
	for _, s := range schema(t, ref) {
		if !slices.Contains(got, s) {
			t.Errorf("a new catalog lacks, or has changed, what testdata/schema-2026-12-03.sql has:\n%s", s)
		}
	}
	applied := versions(t, c.db)
	for _, v := range versions(t, ref) {
		if !slices.Contains(applied, v) {
			t.Errorf("migration %d of 2026-12-03 is not applied (applied: %v)", v, applied)
		}
	}
	if len(applied) != len(migrations) {
		t.Errorf("applied %d migrations, want all %d listed", len(applied), len(migrations))
	}
	for _, table := range cacheTables {
		if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "table "+table+": ") }) {
			t.Errorf("cache table %s is not in the schema", table)
		}
	}
}

// A catalog written before clean_scores existed (2026-12-02) opens, gains
// what it lacks, and keeps its rows.
func TestOldCatalogMigrates(t *testing.T) {
	ctx := context.Background()
	path := restore(t, "catalog-2026-12-02.sql")
	c, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fresh := open(t)
	if got, want := schema(t, c.db), schema(t, fresh.db); !slices.Equal(got, want) {
		t.Errorf("migrated schema differs from a new catalog's:\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, want := versions(t, c.db), versions(t, fresh.db); !slices.Equal(got, want) {
		t.Errorf("applied migrations %v, want %v", got, want)
	}
	im, err := c.GetImage(ctx, "bb00000000000000000000000000000000000000000000000000000000000002")
	if err != nil {
		t.Fatal(err)
	}
	if im.Status != StatusQuarantined || im.Reason != "blurry" || im.Score != 12.5 {
		t.Errorf("image after migration: %+v", im)
	}
	s, err := c.SearchState(ctx, "bing", "cat", "cat photo")
	if err != nil || s.Found != 40 || !s.Exhausted {
		t.Errorf("search state after migration: %+v, %v", s, err)
	}
	if err := c.SaveScores(ctx, []Score{{SHA256: im.SHA256, OffTopic: 1}}); err != nil {
		t.Errorf("the table added by migration 310 takes rows: %v", err)
	}

	// Every stage's rows read back through the typed methods.
	kept := "aa00000000000000000000000000000000000000000000000000000000000001"
	var measured []string
	err = c.ForEachCleanMeasure(ctx, 3, func(sha string, maxPixels int64, m CleanMeasure) error {
		if maxPixels != 40000000 || m.PHash != uint64(1<<64-5) || m.Sharpness != 120.5 {
			t.Errorf("measure of %s: limit %d, %+v", sha, maxPixels, m)
		}
		measured = append(measured, sha)
		return nil
	})
	if err != nil || !slices.Equal(measured, []string{kept}) {
		t.Errorf("measures %v, %v", measured, err)
	}
	fs, err := c.CleanFeatures(ctx, "test/model")
	if f := fs[kept]; err != nil || len(f.Labels) != 1 || f.Labels[0] != (CleanLabel{"tabby", 0.9}) || !slices.Equal(f.Embedding, []float32{1}) {
		t.Errorf("features %+v, %v", fs, err)
	}
	flags, err := c.CleanFlags(ctx, "")
	if err != nil || !slices.Equal(flags, []CleanFlag{{im.SHA256, "blurry", 12.5, "laplacian", ""}}) {
		t.Errorf("flags %+v, %v", flags, err)
	}
	if gs, err := c.CleanGroups(ctx); err != nil || gs[kept] != kept || len(gs) != 1 {
		t.Errorf("groups %v, %v", gs, err)
	}
	if ds, err := c.CleanDecisions(ctx); err != nil || ds[kept] != "keep" || len(ds) != 1 {
		t.Errorf("clean decisions %v, %v", ds, err)
	}
	if ks, err := c.CleanOriginalKeys(ctx); err != nil || ks[im.SHA256] != "images/cat/"+im.SHA256+".jpg" {
		t.Errorf("original keys %v, %v", ks, err)
	}
	if ms, err := c.SplitMembers(ctx, ""); err != nil || !slices.Equal(ms, []SplitMember{{kept, "cat", "images/cat/" + kept + ".jpg", "train"}}) {
		t.Errorf("split %+v, %v", ms, err)
	}
	if d, ok, err := c.LastReviewDecision(ctx); err != nil || !ok || d.SHA256 != im.SHA256 || d.Decision != "discard" || d.Score != 12.5 {
		t.Errorf("review decision %+v, %v, %v", d, ok, err)
	}
	if v, err := c.MergedShard(ctx, "shard-0001-of-0002"); err != nil || v != "100@1" {
		t.Errorf("merged shard version %q, %v", v, err)
	}
}
