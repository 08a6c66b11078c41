package shard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/store"
	_ "modernc.org/sqlite"
)

// addRows adds n URLs, fetched, from offset on.
func addRows(t *testing.T, c *catalog.Catalog, offset, n int) {
	t.Helper()
	ctx := context.Background()
	var cands []catalog.Candidate
	var outs []catalog.Outcome
	for i := offset; i < offset+n; i++ {
		url := fmt.Sprintf("http://h/%d", i)
		cands = append(cands, catalog.Candidate{URL: url, Class: "c", Title: strings.Repeat("t", i%50)})
		sha := fmt.Sprintf("%064x", i)
		outs = append(outs, catalog.Outcome{URLID: catalog.URLID("c", url), Image: &catalog.Image{SHA256: sha, Class: "c", Key: "images/c/" + sha + ".jpg", Format: "jpeg", Width: 1, Height: 1}})
	}
	if _, err := c.AddCandidates(ctx, cands); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Record(ctx, outs); err != nil {
		t.Fatal(err)
	}
}

// dump is a catalog's URL and image rows as text, for comparing two.
func dump(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id,url,class,title,state,cause,sha256 FROM urls ORDER BY id`,
		`SELECT sha256,class,key,url_id,status FROM images ORDER BY sha256`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			rows.Scan(ptrs...)
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
	}
	return b.String()
}

// mergedDump merges every finished shard in st into a new project catalog
// and dumps it.
func mergedDump(t *testing.T, st store.Store) string {
	t.Helper()
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "scour.db")
	proj, err := catalog.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(ctx, st, proj, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	proj.Close()
	return dump(t, p)
}

// failManifest is a real store whose manifest Puts fail while armed: a
// shard killed after sending a segment and before the manifest.
type failManifest struct {
	store.Store
	armed bool
}

func (f *failManifest) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if f.armed && strings.HasSuffix(key, ".manifest") {
		return errors.New("killed")
	}
	return f.Store.Put(ctx, key, r, size)
}

func TestIncrementalUploadMergesLikeWhole(t *testing.T) {
	ctx := context.Background()
	s := Spec{0, 2}
	inc := &failManifest{Store: local(t)}
	c, err := catalog.Open(ctx, filepath.Join(t.TempDir(), "shard.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addRows(t, c, 0, 3000)
	first, err := UploadPages(ctx, inc, s, c)
	if err != nil || !first.Whole || first.Changed != first.Pages {
		t.Fatalf("first upload: %+v %v", first, err)
	}
	MarkDone(ctx, inc, s, nil)
	before := mergedDump(t, inc)

	addRows(t, c, 3000, 200)
	// Killed between the segment and the manifest: the store still holds
	// the first upload, whole and mergeable.
	inc.armed = true
	if _, err := UploadPages(ctx, inc, s, c); err == nil {
		t.Fatal("the injected failure was not reported")
	}
	inc.armed = false
	if got := mergedDump(t, inc); got != before {
		t.Fatal("a killed upload changed what the store holds")
	}

	c.Record(ctx, []catalog.Outcome{{URLID: catalog.URLID("c", "http://h/7"), Err: "gone", Cause: "http-404"}})
	second, err := UploadPages(ctx, inc, s, c)
	if err != nil {
		t.Fatal(err)
	}
	if second.Whole || second.Changed == 0 || second.Changed*4 > second.Pages {
		t.Fatalf("second upload is not a small delta: %+v", second)
	}
	if again, err := UploadPages(ctx, inc, s, c); err != nil || again.Bytes != 0 {
		t.Fatalf("an unchanged catalog uploaded %+v %v", again, err)
	}

	whole := local(t)
	if err := UploadPages2Whole(ctx, whole, s, c); err != nil {
		t.Fatal(err)
	}
	MarkDone(ctx, whole, s, nil)
	want := mergedDump(t, whole)
	if want == before {
		t.Fatal("the changes did not reach the catalog")
	}
	if got := mergedDump(t, inc); got != want {
		t.Fatal("merging the incremental uploads differs from merging a whole upload")
	}

	// A pod restarted elsewhere rebuilds the catalog from the store and
	// goes on with deltas.
	dir := t.TempDir()
	lp := LocalPath(dir, s)
	os.MkdirAll(filepath.Dir(lp), 0o755)
	if err := Fetch(ctx, inc, s, lp); err != nil {
		t.Fatal(err)
	}
	if dump(t, lp) != dump(t, c.Path()) {
		t.Fatal("the rebuilt catalog differs from the uploaded one")
	}
	c2, err := catalog.Open(ctx, lp)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	addRows(t, c2, 5000, 10)
	third, err := UploadPages(ctx, inc, s, c2)
	if err != nil || third.Whole {
		t.Fatalf("upload after a restart: %+v %v", third, err)
	}
}

// UploadPages2Whole uploads c's catalog with no record of an earlier
// upload, as a first upload would.
func UploadPages2Whole(ctx context.Context, st store.Store, s Spec, c *catalog.Catalog) error {
	os.Remove(c.Path() + ".uploaded")
	us, err := UploadPages(ctx, st, s, c)
	if err == nil && !us.Whole {
		err = fmt.Errorf("not a whole upload: %+v", us)
	}
	return err
}

// TestCompaction checks that segments outweighing the catalog are replaced
// by one whole upload and deleted.
func TestCompaction(t *testing.T) {
	ctx := context.Background()
	s := Spec{1, 2}
	st := local(t)
	c, err := catalog.Open(ctx, filepath.Join(t.TempDir(), "shard.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addRows(t, c, 0, 3000)
	sawWhole := 0
	// Rewriting rows in place keeps the catalog's size while the deltas
	// pile up.
	for i := range 16 {
		var outs []catalog.Outcome
		for j := i; j < 3000; j += 10 {
			outs = append(outs, catalog.Outcome{URLID: catalog.URLID("c", fmt.Sprintf("http://h/%d", j)), Err: fmt.Sprint("round ", i), Cause: "http-500"})
		}
		if _, err := c.Record(ctx, outs); err != nil {
			t.Fatal(err)
		}
		us, err := UploadPages(ctx, st, s, c)
		if err != nil {
			t.Fatal(err)
		}
		if us.Whole {
			sawWhole++
		}
	}
	if sawWhole < 2 {
		t.Fatalf("%d whole uploads in 16: the segments were never compacted", sawWhole)
	}
	m, _, err := getManifest(ctx, st, s.Name())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	st.List(ctx, segmentDir(s.Name()), func(store.Info) error { n++; return nil })
	if n != len(m.Segments) {
		t.Fatalf("%d segments in the store, the manifest names %d", n, len(m.Segments))
	}
	MarkDone(ctx, st, s, nil)
	if got, want := mergedDump(t, st), dump(t, c.Path()); !strings.Contains(got, strings.SplitN(want, "\n", 2)[0]) || strings.Count(got, "\n") != strings.Count(want, "\n") {
		t.Fatal("the compacted upload does not merge to the shard's rows")
	}
}

// TestOlderWholeUpload reads a bucket written by an older scour, which
// put each shard's catalog whole under .db, and replaces that object with
// a manifest on the first upload.
func TestOlderWholeUpload(t *testing.T) {
	ctx := context.Background()
	st := local(t)
	s := Spec{0, 2}
	c, err := catalog.Open(ctx, filepath.Join(t.TempDir(), "old.db"))
	if err != nil {
		t.Fatal(err)
	}
	addRows(t, c, 0, 500)
	snap := filepath.Join(t.TempDir(), "snap.db")
	if err := c.Snapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	c.Close()
	f, err := os.Open(snap)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	err = st.Put(ctx, prefix+s.Name()+".db", f, fi.Size())
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	MarkDone(ctx, st, s, nil)
	want := dump(t, snap)
	if got := mergedDump(t, st); got != want {
		t.Fatal("merging an older whole upload lost rows")
	}
	lp := filepath.Join(t.TempDir(), "shard.db")
	if err := Fetch(ctx, st, s, lp); err != nil {
		t.Fatal(err)
	}
	c2, err := catalog.Open(ctx, lp)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if us, err := UploadPages(ctx, st, s, c2); err != nil || !us.Whole {
		t.Fatalf("first upload over an older bucket: %+v %v", us, err)
	}
	if _, err := st.Stat(ctx, prefix+s.Name()+".db"); !errors.Is(err, store.ErrNotExist) {
		t.Fatalf("the older whole upload is still there: %v", err)
	}
	if got := mergedDump(t, st); got != want {
		t.Fatal("the manifest that replaced the older upload merges differently")
	}
}
