package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
)

// readFolderMeta reads one set folder's metadata.jsonl as generic JSON.
func readFolderMeta(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v: %s", path, err, sc.Bytes())
		}
		out = append(out, m)
	}
	return out
}

// filesUnder lists the files under dir, relative and with slashes.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		r, _ := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(r))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestWriteImageFolder(t *testing.T) {
	f := mixedFixture(t)
	kept := wantSamples(f.rows)
	sets := map[string]string{}
	want := map[string][]catalog.ExportRow{}
	for i, r := range kept {
		set := []string{"train", "val", "train", "test", ""}[i%5]
		if set != "" {
			sets[r.SHA256] = set
			want[imageFolderSets[set]] = append(want[imageFolderSets[set]], r)
		}
	}
	splitOf := func(sha string) string { return sets[sha] }
	dir := filepath.Join(t.TempDir(), "hf")
	sum, err := WriteImageFolder(context.Background(), f.iter(), f.store.open, splitOf, dir)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Images != len(kept)-1 || sum.Unsplit != 1 || sum.Splits["train"] != 2 || sum.Splits["validation"] != 1 || sum.Splits["test"] != 1 {
		t.Fatalf("summary %+v", sum)
	}
	wantFiles := []string{imageFolderMarker}
	for folder, rs := range want {
		wantFiles = append(wantFiles, folder+"/metadata.jsonl")
		ms := readFolderMeta(t, filepath.Join(dir, folder, "metadata.jsonl"))
		if len(ms) != len(rs) {
			t.Fatalf("%s: %d metadata lines, want %d", folder, len(ms), len(rs))
		}
		for i, r := range rs {
			ext := map[string]string{"png": ".png", "jpeg": ".jpg"}[r.Format]
			name := r.Class + "/" + r.SHA256 + ext
			wantFiles = append(wantFiles, folder+"/"+name)
			got, err := os.ReadFile(filepath.Join(dir, folder, name))
			if err != nil || !bytes.Equal(got, f.store[r.Key]) {
				t.Errorf("%s/%s: not the stored image (%v)", folder, name, err)
			}
			m := ms[i]
			wantMeta := map[string]any{"file_name": name, "class": r.Class, "sha256": r.SHA256, "url": r.URL, "page_url": r.PageURL,
				"title": r.Title, "license": r.License, "author": r.Author, "engine": r.Engine, "query": r.Query,
				"width": float64(r.Width), "height": float64(r.Height), "offtopic_score": nil, "offtopic_threshold": nil,
				"offtopic_method": r.OffTopicMethod, "misfiled_score": nil, "misfiled_threshold": nil, "suggested_class": r.SuggestedClass}
			for k, v := range map[string]*float64{"offtopic_score": r.OffTopic, "offtopic_threshold": r.OffTopicThreshold,
				"misfiled_score": r.Misfiled, "misfiled_threshold": r.MisfiledThreshold} {
				if v != nil {
					wantMeta[k] = *v
				}
			}
			for k, v := range wantMeta {
				if m[k] != v {
					t.Errorf("%s line %d: %s = %v, want %v", folder, i, k, m[k], v)
				}
			}
			if len(m) != len(wantMeta) {
				t.Errorf("%s line %d has keys %v, want exactly %d (and no label)", folder, i, m, len(wantMeta))
			}
		}
	}
	slices.Sort(wantFiles)
	if got := filesUnder(t, dir); !slices.Equal(got, wantFiles) {
		t.Fatalf("export holds\n%q\nwant\n%q", got, wantFiles)
	}
	pythonReadsImageFolder(t, dir)

	// A second export with everything in train replaces the first whole:
	// no validation or test folder is left from it.
	sum, err = WriteImageFolder(context.Background(), f.iter(), f.store.open, allTrain, dir)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Images != len(kept) || sum.Splits["train"] != len(kept) {
		t.Fatalf("second export: %+v", sum)
	}
	for _, p := range filesUnder(t, dir) {
		if p != imageFolderMarker && !strings.HasPrefix(p, "train/") {
			t.Errorf("second export left %s", p)
		}
	}
	if ms := readFolderMeta(t, filepath.Join(dir, "train", "metadata.jsonl")); len(ms) != len(kept) {
		t.Errorf("train metadata has %d lines, want %d", len(ms), len(kept))
	}
}

func TestWriteImageFolderRefusesForeignFolder(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "test", "keep.txt")
	if err := os.MkdirAll(filepath.Dir(mine), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mine, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := mixedFixture(t)
	_, err := WriteImageFolder(context.Background(), f.iter(), f.store.open, allTrain, dir)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("got %v, want a refusal", err)
	}
	if got := filesUnder(t, dir); !slices.Equal(got, []string{"test/keep.txt"}) {
		t.Errorf("folder now holds %q", got)
	}
}

// TestWriteImageFolderFailureKeepsEarlier breaks the store for a second
// export: it fails, and the first export is still there, whole.
func TestWriteImageFolderFailureKeepsEarlier(t *testing.T) {
	f := mixedFixture(t)
	dir := t.TempDir()
	if _, err := WriteImageFolder(context.Background(), f.iter(), f.store.open, allTrain, dir); err != nil {
		t.Fatal(err)
	}
	before := filesUnder(t, dir)
	last := wantSamples(f.rows)
	delete(f.store, last[len(last)-1].Key)
	_, err := WriteImageFolder(context.Background(), f.iter(), f.store.open, allTrain, dir)
	if err == nil || !strings.Contains(err.Error(), "opening image") {
		t.Fatalf("got %v, want the missing image named", err)
	}
	if got := filesUnder(t, dir); !slices.Equal(got, before) {
		t.Errorf("after a failed export the folder holds\n%q\nwant the earlier export\n%q", got, before)
	}
}

// Class folders carry free-text names as written (on Linux); names that
// cannot be one visible folder use their folder form and are reported,
// and the class column keeps every name as written.
func TestWriteImageFolderClassNames(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("exact class folders are for Linux")
	}
	g := &fixture{}
	want := map[string]string{} // class -> folder
	for i, c := range []struct{ class, folder string }{
		{"Cruise Ships", "Cruise Ships"}, {"望遠鏡", "望遠鏡"}, {"../x", "x"}, {"a/b", "a_b"}, {".hidden", "hidden"},
	} {
		g.keptRow(t, c.class, "png", i+1)
		want[c.class] = c.folder
	}
	sets := map[string]string{}
	for i, r := range g.rows {
		sets[r.SHA256] = []string{"train", "val", "test"}[i%3]
	}
	dir := t.TempDir()
	sum, err := WriteImageFolder(context.Background(), g.iter(), g.store.open, func(sha string) string { return sets[sha] }, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range imageFolderOrder {
		for _, m := range readFolderMeta(t, filepath.Join(dir, set, "metadata.jsonl")) {
			class, name := m["class"].(string), m["file_name"].(string)
			if folder, _, _ := strings.Cut(name, "/"); folder != want[class] {
				t.Errorf("class %q is in folder %q, want %q", class, folder, want[class])
			}
			if _, err := os.Stat(filepath.Join(dir, set, name)); err != nil {
				t.Error(err)
			}
			delete(want, class)
		}
	}
	if len(want) > 0 {
		t.Errorf("classes missing from metadata.jsonl: %v", want)
	}
	if got := strings.Join(sum.Renamed, "; "); got != `"../x" -> x; ".hidden" -> hidden; "a/b" -> a_b` {
		t.Errorf("renamed: %s", got)
	}
	pythonReadsImageFolder(t, dir)
}

// pythonReadsImageFolder loads the export with Hugging Face datasets when
// python3 has it; otherwise it checks, with Python's json, what the
// imagefolder builder relies on: each set folder's metadata.jsonl names
// files that exist relative to it, one line per image file in the folder.
func pythonReadsImageFolder(t *testing.T, dir string) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Log("no python3: the layout was checked from Go only")
		return
	}
	script := `
import json, os, sys
root = sys.argv[1]
try:
    import datasets
except ImportError:
    datasets = None
if datasets:
    ds = datasets.load_dataset("imagefolder", data_dir=root, drop_labels=False)
    out = {s: [len(ds[s]), ds[s].features["label"].names, sorted(ds[s].column_names)] for s in ds}
else:
    out = {}
    for split in sorted(os.listdir(root)):
        d = os.path.join(root, split)
        if split.startswith(".") or not os.path.isdir(d):
            continue
        rows = [json.loads(l) for l in open(os.path.join(d, "metadata.jsonl"))]
        files = sorted(os.path.relpath(os.path.join(p, f), d) for p, _, fs in os.walk(d) for f in fs if f != "metadata.jsonl")
        names = sorted(r["file_name"] for r in rows)
        if names != files:
            sys.exit("%s: metadata names %s, folder holds %s" % (split, names, files))
        out[split] = [len(rows), sorted({r["file_name"].split("/")[0] for r in rows}), sorted(rows[0])]
print(json.dumps(out))
`
	out, err := exec.Command(py, "-c", script, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	var got map[string][]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(got) != 3 || got["train"] == nil || got["validation"] == nil || got["test"] == nil {
		t.Errorf("python found sets %v, want train, validation, test", got)
	}
}
