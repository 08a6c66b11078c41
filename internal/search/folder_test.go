package search

import (
	"context"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/sharedtest"
)

// TestFolderBoats imports the real boats tree and checks it against a
// listing made here with filepath.WalkDir.
func TestFolderBoats(t *testing.T) {
	root := sharedtest.Path(t, "images", "boats", "train")
	type item struct{ class, path string }
	var want []item
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, path)
		parts := strings.Split(rel, string(filepath.Separator))
		if !d.IsDir() && len(parts) > 1 && imageExts[strings.ToLower(filepath.Ext(path))] {
			want = append(want, item{parts[0], path})
		}
		return nil
	})
	if len(want) < 800 {
		t.Fatalf("only %d images in %s", len(want), root)
	}

	eng, err := NewFolder(Options{Path: root, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	pager, err := eng.Search(context.Background(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	pages := readAll(t, pager)
	var got []item
	for i, p := range pages {
		if i < len(pages)-1 && len(p) != 100 {
			t.Errorf("page %d has %d results, want 100", i, len(p))
		}
		for _, r := range p {
			u, err := url.Parse(r.MediaURL)
			if err != nil || u.Scheme != "file" {
				t.Fatalf("MediaURL %q is not a file URL", r.MediaURL)
			}
			got = append(got, item{r.Class, filepath.FromSlash(u.Path)})
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %d images, want %d in WalkDir order; first got %v want %v", len(got), len(want), got[:1], want[:1])
	}
	classes := map[string]int{}
	for _, it := range got {
		classes[it.class]++
	}
	if len(classes) != 9 {
		t.Errorf("classes %v, want the 9 boat classes", classes)
	}
	// Paths with spaces ("Cruise Ships") survive the URL round trip.
	if classes["Cruise Ships"] == 0 {
		t.Errorf("no Cruise Ships: %v", classes)
	}

	one, err := NewFolder(Options{Path: root, Class: "Tugs"})
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := one.Search(context.Background(), Query{})
	var tugs []Result
	for _, p := range readAll(t, p1) {
		tugs = append(tugs, p...)
	}
	if len(tugs) != classes["Tugs"] {
		t.Errorf("class Tugs alone gave %d images, want %d", len(tugs), classes["Tugs"])
	}
}

func mkfile(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFolderTree(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	for _, p := range []string{
		"stray.jpg",   // no class
		"notes.txt",   // not an image
		"cats/a.JPG",  // upper-case extension
		"cats/b.jpeg", //
		"cats/sub/deep/c.webp",
		"cats/readme.md",
		"cats/.hidden.jpg",
		"cats/._a.JPG", // macOS resource fork, not an image
		".cache/x.jpg",
		"dogs/d.TIFF",
		"dogs/e.bmp",
		"dogs/f.gif",
		"dogs/g.png",
		"dogs/h.tif",
	} {
		mkfile(t, filepath.Join(root, p))
	}
	mkfile(t, filepath.Join(outside, "linked.png"))
	links := map[string]string{
		"cats/sub/loop":     filepath.Join(root, "cats"), // a loop back up
		"cats/sub/rootloop": root,                        // a loop to the root
		"cats/broken.jpg":   filepath.Join(root, "nope.jpg"),
		"dogs/elsewhere":    outside, // followed once
		"birds":             outside, // a class that is a link to the same folder
		"dogs/g-copy.png":   filepath.Join(root, "dogs/g.png"),
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(root, l)); err != nil {
			t.Skipf("no symbolic links here: %v", err)
		}
	}

	var skipped []Skipped
	eng, err := NewFolder(Options{Path: root, PageSize: 3, OnSkip: func(s Skipped) { skipped = append(skipped, s) }})
	if err != nil {
		t.Fatal(err)
	}
	pager, _ := eng.Search(context.Background(), Query{Text: "ignored"})
	done := make(chan [][]Result)
	go func() { done <- readAll(t, pager) }()
	var pages [][]Result
	select {
	case pages = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the walk does not end: symbolic link loop?")
	}
	var got []string
	for _, p := range pages {
		for _, r := range p {
			got = append(got, r.Class+" "+r.Title)
		}
	}
	// birds comes first and takes the outside folder; dogs/elsewhere then
	// points at a folder already imported.
	want := []string{
		"birds birds/linked.png",
		"cats cats/a.JPG",
		"cats cats/b.jpeg",
		"cats cats/sub/deep/c.webp",
		"dogs dogs/d.TIFF",
		"dogs dogs/e.bmp",
		"dogs dogs/f.gif",
		"dogs dogs/g-copy.png",
		"dogs dogs/g.png",
		"dogs dogs/h.tif",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("imported\n got %q\nwant %q", got, want)
	}
	var reasons []string
	for _, s := range skipped {
		rel, _ := filepath.Rel(root, s.Text)
		reason := s.Reason
		if strings.HasPrefix(reason, "already imported") {
			reason = "already imported"
		}
		reasons = append(reasons, rel+": "+reason)
	}
	sort.Strings(reasons)
	wantReasons := []string{
		"cats/broken.jpg: broken symbolic link",
		"cats/sub/loop: already imported",
		"cats/sub/rootloop: already imported",
		"dogs/elsewhere: already imported",
		"stray.jpg: not inside a class folder",
	}
	if !reflect.DeepEqual(reasons, wantReasons) {
		t.Errorf("skipped\n got %q\nwant %q", reasons, wantReasons)
	}
}

func TestFolderBadOptions(t *testing.T) {
	root := t.TempDir()
	mkfile(t, filepath.Join(root, "cats", "a.jpg"))
	file := filepath.Join(root, "cats", "a.jpg")
	tests := []struct {
		name    string
		opts    Options
		wantMsg string
	}{
		{"no path", Options{}, "no root folder"},
		{"missing", Options{Path: filepath.Join(root, "nope")}, "no such file"},
		{"a file", Options{Path: file}, "not a folder"},
		{"unknown class", Options{Path: root, Class: "dogs"}, `no class folder "dogs"`},
		{"class with a path", Options{Path: root, Class: "../dogs"}, `no class folder "../dogs" (or "dogs")`},
	}
	for _, tt := range tests {
		_, err := NewFolder(tt.opts)
		if !errkind.IsFatal(err) || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("%s: err = %v, want a fatal error saying %q", tt.name, err, tt.wantMsg)
		}
	}
	if _, err := NewFolder(Options{Path: root, Class: "dogs"}); err == nil || !strings.Contains(err.Error(), "found: cats") {
		t.Errorf("the error does not list the classes there: %v", err)
	}
}

// A class folder is found under the class's name as written, decomposed (as
// macOS writes names) or in its folder form, and its images carry the class
// as written.
func TestFolderFreeTextClasses(t *testing.T) {
	root := t.TempDir()
	mkfile(t, filepath.Join(root, "Cruise Ships", "a.jpg"))
	mkfile(t, filepath.Join(root, "a_b", "b.jpg"))
	mkfile(t, filepath.Join(root, "Cafe\u0301", "c.jpg"))
	mkfile(t, filepath.Join(root, "望遠鏡", "d.jpg"))
	mkfile(t, filepath.Join(root, "other", "e.jpg"))
	classes := []string{"Cruise Ships", "a/b", "Caf\u00e9", "望遠鏡"}
	eng, err := NewFolder(Options{Path: root, Classes: classes})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := eng.Search(context.Background(), Query{})
	got := map[string]string{}
	for _, page := range readAll(t, p) {
		for _, r := range page {
			got[filepath.Base(r.Title)] = r.Class
		}
	}
	want := map[string]string{"a.jpg": "Cruise Ships", "b.jpg": "a/b", "c.jpg": "Caf\u00e9", "d.jpg": "望遠鏡", "e.jpg": "other"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("classes by file %v, want %v", got, want)
	}
	for _, c := range classes {
		one, err := NewFolder(Options{Path: root, Class: c})
		if err != nil {
			t.Fatalf("class %q alone: %v", c, err)
		}
		p, _ := one.Search(context.Background(), Query{})
		n := 0
		for _, page := range readAll(t, p) {
			for _, r := range page {
				if r.Class != c {
					t.Errorf("class %q alone gave an image of %q", c, r.Class)
				}
				n++
			}
		}
		if n != 1 {
			t.Errorf("class %q alone gave %d images, want 1", c, n)
		}
	}
}
