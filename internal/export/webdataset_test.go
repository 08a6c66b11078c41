package export

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	_ "image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/sharedtest"
)

var testClasses = []string{"zumwalt", "type052", "carrier"}

// mixedFixture has five kept images in three classes and two formats, with
// rows that must not be exported between them.
func mixedFixture(t *testing.T) *fixture {
	f := &fixture{}
	f.keptRow(t, "zumwalt", "png", 1)
	f.add(catalog.ExportRow{Status: "failed", Reason: "http-404", Class: "zumwalt", URL: "https://img.example/gone.jpg", HTTPStatus: 404})
	m := f.keptRow(t, "type052", "jpeg", 2)
	f.rows[len(f.rows)-1] = scored(m, &catalog.Score{OffTopic: 0.25, OffTopicThreshold: 0.5, OffTopicMethod: "project",
		Misfiled: 0.875, MisfiledThreshold: 0.75, Suggest: "zumwalt"})
	f.add(catalog.ExportRow{Status: "pending", Class: "type052", URL: "https://img.example/later.jpg"})
	c := f.keptRow(t, "carrier", "png", 3)
	f.rows[len(f.rows)-1] = scored(c, &catalog.Score{OffTopic: 1.5, OffTopicThreshold: 0.5, OffTopicMethod: "outlier"})
	q := f.keptRow(t, "zumwalt", "jpeg", 4)
	f.rows[len(f.rows)-1].Status = catalog.StatusQuarantined
	f.add(catalog.ExportRow{Status: "duplicate", Reason: "duplicate", SHA256: q.SHA256, Class: "zumwalt", URL: "https://mirror.example/4.jpg"})
	f.keptRow(t, "type052", "png", 5)
	f.keptRow(t, "zumwalt", "jpeg", 6)
	return f
}

// scored gives r clean's scores as the catalog exports them: a view with no
// threshold was not judged and has no values.
func scored(r catalog.ExportRow, s *catalog.Score) catalog.ExportRow {
	if s.OffTopicThreshold != 0 {
		r.OffTopic, r.OffTopicThreshold, r.OffTopicMethod = &s.OffTopic, &s.OffTopicThreshold, s.OffTopicMethod
	}
	if s.MisfiledThreshold != 0 {
		r.Misfiled, r.MisfiledThreshold = &s.Misfiled, &s.MisfiledThreshold
	}
	r.SuggestedClass = s.Suggest
	return r
}

// wantSamples is the kept rows, in order: what the shards must hold.
func wantSamples(rows []catalog.ExportRow) []catalog.ExportRow {
	var kept []catalog.ExportRow
	for _, r := range rows {
		if r.Status == catalog.StatusKept {
			kept = append(kept, r)
		}
	}
	return kept
}

// allTrain puts every image in the training set.
func allTrain(string) string { return "train" }

// checkSample checks that three members are one whole sample of row r in
// the training set.
func checkSample(t *testing.T, shard string, ms []member, r catalog.ExportRow, store blobs) {
	t.Helper()
	checkSampleIn(t, shard, ms, r, store, "train")
}

// checkSampleIn checks that three members are one whole sample of row r in
// set.
func checkSampleIn(t *testing.T, shard string, ms []member, r catalog.ExportRow, store blobs, set string) {
	t.Helper()
	ext := map[string]string{"png": ".png", "jpeg": ".jpg"}[r.Format]
	wantNames := []string{r.SHA256 + ext, r.SHA256 + ".json", r.SHA256 + ".cls"}
	var names []string
	for _, m := range ms {
		names = append(names, m.name)
	}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("%s: members %q, want %q adjacent", shard, names, wantNames)
	}
	if !bytes.Equal(ms[0].data, store[r.Key]) {
		t.Errorf("%s: %s is not the stored image (%d bytes, want %d)", shard, ms[0].name, len(ms[0].data), len(store[r.Key]))
	}
	var meta map[string]any
	if err := json.Unmarshal(ms[1].data, &meta); err != nil {
		t.Fatalf("%s: %s: %v", shard, ms[1].name, err)
	}
	wantMeta := map[string]any{
		"split": set, "class": r.Class, "sha256": r.SHA256, "url": r.URL, "page_url": r.PageURL, "title": r.Title,
		"license": r.License, "author": r.Author, "width": float64(r.Width), "height": float64(r.Height), "format": r.Format,
	}
	for k, v := range map[string]*float64{"offtopic_score": r.OffTopic, "offtopic_threshold": r.OffTopicThreshold,
		"misfiled_score": r.Misfiled, "misfiled_threshold": r.MisfiledThreshold} {
		if v != nil {
			wantMeta[k] = *v
		}
	}
	for k, v := range map[string]string{"offtopic_method": r.OffTopicMethod, "suggested_class": r.SuggestedClass} {
		if v != "" {
			wantMeta[k] = v
		}
	}
	for k, v := range wantMeta {
		if meta[k] != v {
			t.Errorf("%s: %s: %s = %v, want %v", shard, ms[1].name, k, meta[k], v)
		}
	}
	if len(meta) != len(wantMeta) {
		t.Errorf("%s: %s has keys %v, want exactly %d", shard, ms[1].name, meta, len(wantMeta))
	}
	if strings.Contains(string(ms[1].data), `\u003c`) {
		t.Errorf("%s: %s escapes HTML characters: %s", shard, ms[1].name, ms[1].data)
	}
	if got, want := string(ms[2].data), strconv.Itoa(slices.Index(testClasses, r.Class)); got != want {
		t.Errorf("%s: %s = %q, want %q", shard, ms[2].name, got, want)
	}
}

func TestWriteWebDatasetShards(t *testing.T) {
	f := mixedFixture(t)
	want := wantSamples(f.rows)
	for _, perShard := range []int{1, 2, 3, len(want), 100} {
		t.Run("per shard "+strconv.Itoa(perShard), func(t *testing.T) {
			dir := t.TempDir()
			sum, err := WriteWebDataset(context.Background(), f.iter(), f.store.open, allTrain, dir, perShard, testClasses)
			if err != nil {
				t.Fatal(err)
			}
			wantShards := (len(want) + perShard - 1) / perShard
			if len(sum.Shards) != wantShards || sum.Samples != len(want) || sum.Duplicates != 0 {
				t.Fatalf("summary %+v, want %d shards, %d samples", sum, wantShards, len(want))
			}
			var wantBytes int64
			for _, r := range want {
				wantBytes += int64(len(f.store[r.Key]))
			}
			if sum.Bytes != wantBytes {
				t.Errorf("summary bytes %d, want %d", sum.Bytes, wantBytes)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != wantShards {
				t.Errorf("dir holds %d files, want %d shards", len(entries), wantShards)
			}
			next := 0
			for i, shard := range sum.Shards {
				if filepath.Base(shard) != shardName("train", i) || filepath.Dir(shard) != dir {
					t.Errorf("shard %d is %s, want %s in %s", i, shard, shardName("train", i), dir)
				}
				ms := readTar(t, shard)
				n := min(perShard, len(want)-next)
				if len(ms) != 3*n {
					t.Fatalf("%s has %d members, want %d samples of 3", shard, len(ms), n)
				}
				for j := 0; j < len(ms); j += 3 {
					checkSample(t, shard, ms[j:j+3], want[next], f.store)
					next++
				}
			}
			if next != len(want) {
				t.Errorf("shards hold %d samples, want %d", next, len(want))
			}

			// The same rows export to the same bytes.
			again := t.TempDir()
			sum2, err := WriteWebDataset(context.Background(), f.iter(), f.store.open, allTrain, again, perShard, testClasses)
			if err != nil {
				t.Fatal(err)
			}
			for i := range sum.Shards {
				a, _ := os.ReadFile(sum.Shards[i])
				b, _ := os.ReadFile(sum2.Shards[i])
				if !bytes.Equal(a, b) {
					t.Errorf("shard %d differs between two exports of the same rows", i)
				}
			}
		})
	}
}

func TestWriteWebDatasetDuplicateBytes(t *testing.T) {
	f := &fixture{}
	a := f.keptRow(t, "zumwalt", "png", 1)
	f.keptRow(t, "type052", "png", 2)
	// The same bytes kept twice (two shards fetched them before a merge):
	// WebDataset keys must be unique, so the second is left out.
	second := a
	second.URL, second.Class = "https://other.example/1.png", "type052"
	f.add(second)
	dir := t.TempDir()
	sum, err := WriteWebDataset(context.Background(), f.iter(), f.store.open, allTrain, dir, 10, testClasses)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Samples != 2 || sum.Duplicates != 1 {
		t.Fatalf("summary %+v, want 2 samples and 1 duplicate", sum)
	}
	ms := readTar(t, sum.Shards[0])
	if len(ms) != 6 {
		t.Fatalf("%d members, want 6", len(ms))
	}
	checkSample(t, sum.Shards[0], ms[:3], a, f.store)
}

// TestWriteWebDatasetErrors breaks one thing at the fourth kept image with
// two samples per shard: the export must fail, naming the problem, and leave
// the first shard whole and nothing else.
func TestWriteWebDatasetErrors(t *testing.T) {
	cases := []struct {
		name   string
		break4 func(f *fixture, r *catalog.ExportRow)
		want   string
	}{
		{"class not in scour.yaml", func(f *fixture, r *catalog.ExportRow) { r.Class = "frigate" }, `class "frigate"`},
		{"store holds other bytes", func(f *fixture, r *catalog.ExportRow) { f.store[r.Key] = append(f.store[r.Key], 0) }, "disagree"},
		{"object missing", func(f *fixture, r *catalog.ExportRow) { delete(f.store, r.Key) }, "opening image"},
		{"short sha256", func(f *fixture, r *catalog.ExportRow) { r.SHA256 = r.SHA256[:20] }, "bad sha256"},
		{"sha256 not hex", func(f *fixture, r *catalog.ExportRow) { r.SHA256 = strings.Repeat("zz", 32) }, "bad sha256"},
		{"no extension known", func(f *fixture, r *catalog.ExportRow) {
			f.store["blob"] = f.store[r.Key]
			r.Format, r.Key = "", "blob"
		}, "no file extension"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fixture{}
			for i := range 5 {
				f.keptRow(t, testClasses[i%len(testClasses)], "png", i)
			}
			tc.break4(f, &f.rows[3])
			dir := t.TempDir()
			_, err := WriteWebDataset(context.Background(), f.iter(), f.store.open, allTrain, dir, 2, testClasses)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			onlyWholeShards(t, dir, 1, 2)
		})
	}
}

// onlyWholeShards checks that dir holds exactly shards 0..n-1, each with
// perShard whole samples, and no temporary files.
func onlyWholeShards(t *testing.T, dir string, n, perShard int) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	var want []string
	for i := range n {
		want = append(want, shardName("train", i))
	}
	if !slices.Equal(names, want) {
		t.Fatalf("dir holds %q, want %q", names, want)
	}
	for _, name := range names {
		if ms := readTar(t, filepath.Join(dir, name)); len(ms) != 3*perShard {
			t.Errorf("%s has %d members, want %d", name, len(ms), 3*perShard)
		}
	}
}

func TestWriteWebDatasetCancelled(t *testing.T) {
	f := &fixture{}
	for i := range 6 {
		f.keptRow(t, "zumwalt", "png", i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel as the fifth row arrives: two whole shards of two are done, the
	// third has one sample and must not appear.
	rows := func(yield func(catalog.ExportRow) error) error {
		for i, r := range f.rows {
			if i == 4 {
				cancel()
			}
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	}
	dir := t.TempDir()
	_, err := WriteWebDataset(ctx, rows, f.store.open, allTrain, dir, 2, testClasses)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	onlyWholeShards(t, dir, 2, 2)
}

func TestWriteWebDatasetReplacesEarlierExport(t *testing.T) {
	dir := t.TempDir()
	stale := []string{"shard-000000.tar", "shard-000007.tar", ".shard-000002.tar.tmp-123456",
		"train-000003.tar", "val-000000.tar", "test-000012.tar", ".val-000001.tar.tmp-42"}
	keep := []string{"README.txt", "shard-notes.tar", "shard-000001.tar.bak", ".shard-000003.tar", "dev-000000.tar", "train.tar"}
	for _, name := range append(slices.Clone(stale), keep...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{}
	f.keptRow(t, "carrier", "jpeg", 1)
	sum, err := WriteWebDataset(context.Background(), f.iter(), f.store.open, allTrain, dir, 4, testClasses)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := append(slices.Clone(keep), "train-000000.tar")
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("dir holds %q, want %q", names, want)
	}
	ms := readTar(t, sum.Shards[0])
	if len(ms) != 3 {
		t.Fatalf("%d members, want 3", len(ms))
	}
	checkSample(t, sum.Shards[0], ms, f.rows[0], f.store)
}

func TestWriteWebDatasetNoKeptImages(t *testing.T) {
	rows := sliceRows([]catalog.ExportRow{{Status: "pending", Class: "zumwalt", URL: "https://img.example/1.jpg"}})
	dir := t.TempDir()
	sum, err := WriteWebDataset(context.Background(), rows, blobs{}.open, allTrain, dir, 10, testClasses)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Shards) != 0 || sum.Samples != 0 {
		t.Fatalf("summary %+v, want nothing written", sum)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("dir holds %d files, want none", len(entries))
	}
}

func TestWriteWebDatasetBadPerShard(t *testing.T) {
	for _, n := range []int{0, -1} {
		if _, err := WriteWebDataset(context.Background(), sliceRows(nil), blobs{}.open, allTrain, t.TempDir(), n, testClasses); err == nil {
			t.Errorf("perShard %d: no error", n)
		}
	}
}

// TestWriteWebDatasetRealPhotos exports real scraped JPEGs and decodes them
// back from the shard: the bytes arrive intact and the sizes in the JSON are
// the images' own.
func TestWriteWebDatasetRealPhotos(t *testing.T) {
	dir := sharedtest.Path(t, "images", "boats", "train", "Destroyers")
	files, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil || len(files) < 3 {
		t.Skipf("want 3 photos in %s, found %d (%v)", dir, len(files), err)
	}
	f := &fixture{store: blobs{}}
	for i, path := range files[:3] {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil || format != "jpeg" {
			t.Fatalf("%s: %v (format %q)", path, err, format)
		}
		sha := sha256Hex(data)
		r := catalog.ExportRow{Status: catalog.StatusKept, SHA256: sha, Class: testClasses[i], URL: "file://" + path,
			Key: "images/" + testClasses[i] + "/" + sha + ".jpg", Format: format, Width: cfg.Width, Height: cfg.Height}
		f.store[r.Key] = data
		f.add(r)
	}
	sum, err := WriteWebDataset(context.Background(), f.iter(), f.store.open, allTrain, t.TempDir(), 2, testClasses)
	if err != nil {
		t.Fatal(err)
	}
	var ms []member
	for _, s := range sum.Shards {
		ms = append(ms, readTar(t, s)...)
	}
	if len(ms) != 9 {
		t.Fatalf("%d members, want 9", len(ms))
	}
	for i, r := range f.rows {
		checkSample(t, "shards", ms[3*i:3*i+3], r, f.store)
		cfg, _, err := image.DecodeConfig(bytes.NewReader(ms[3*i].data))
		if err != nil {
			t.Fatalf("%s does not decode: %v", ms[3*i].name, err)
		}
		if cfg.Width != r.Width || cfg.Height != r.Height {
			t.Errorf("%s is %dx%d, want %dx%d", ms[3*i].name, cfg.Width, cfg.Height, r.Width, r.Height)
		}
	}
}

// TestWriteWebDatasetPerSplit gives the mixed fixture a recorded split that
// leaves one kept image out, and checks each set's series of shards.
func TestWriteWebDatasetPerSplit(t *testing.T) {
	f := mixedFixture(t)
	kept := wantSamples(f.rows)
	sets := map[string]string{}
	want := map[string][]catalog.ExportRow{}
	for i, r := range kept {
		set := []string{"train", "val", "train", "test", ""}[i%5]
		if set != "" {
			sets[r.SHA256] = set
			want[set] = append(want[set], r)
		}
	}
	dir := t.TempDir()
	sum, err := WriteWebDataset(context.Background(), f.iter(), f.store.open, func(sha string) string { return sets[sha] }, dir, 1, testClasses)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Samples != len(kept)-1 || sum.Unsplit != 1 || sum.Splits["train"] != 2 || sum.Splits["val"] != 1 || sum.Splits["test"] != 1 {
		t.Fatalf("summary %+v", sum)
	}
	var names []string
	for _, s := range sum.Shards {
		names = append(names, filepath.Base(s))
	}
	if w := []string{"train-000000.tar", "train-000001.tar", "val-000000.tar", "test-000000.tar"}; !slices.Equal(names, w) {
		t.Fatalf("shards %q, want %q", names, w)
	}
	for _, set := range splitOrder {
		for i, r := range want[set] {
			shard := filepath.Join(dir, shardName(set, i))
			checkSampleIn(t, shard, readTar(t, shard), r, f.store, set)
		}
	}
	pythonReadsWebDataset(t, dir, sum)
}

// pythonReadsWebDataset reads the shards with Python's tarfile and groups
// members into samples as WebDataset does (key = the member name up to the
// first dot of its base name; a sample's members adjacent), when python3 is
// installed.
func pythonReadsWebDataset(t *testing.T, dir string, sum WebDatasetSummary) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Log("no python3: the shards were read with archive/tar only")
		return
	}
	script := `
import json, os, re, sys, tarfile
out = {}
for shard in sys.argv[1:]:
    prefix = os.path.basename(shard).split("-")[0]
    samples, last = [], None
    with tarfile.open(shard) as tf:
        for m in tf:
            if not m.isfile():
                sys.exit("%s: %s is not a file" % (shard, m.name))
            # webdataset.tariterators.base_plus_ext
            key, ext = re.match(r"^((?:.*/|)[^.]+)[.]([^/]*)$", m.name).groups()
            if key != last:
                if any(s["__key__"] == key for s in samples):
                    sys.exit("%s: members of %s are not adjacent" % (shard, key))
                samples.append({"__key__": key})
                last = key
            samples[-1][ext] = tf.extractfile(m).read()
    for s in samples:
        meta = json.loads(s["json"])
        if meta["split"] != prefix or meta["sha256"] != s["__key__"]:
            sys.exit("%s: sample %s says split %s, sha256 %s" % (shard, s["__key__"], meta["split"], meta["sha256"]))
        img = [e for e in s if e not in ("__key__", "json", "cls")]
        out.setdefault(prefix, []).append([s["__key__"], img, int(s["cls"]), meta["class"], len(s[img[0]])])
print(json.dumps(out))
`
	cmd := exec.Command(py, append([]string{"-c", script}, sum.Shards...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 tarfile: %v\n%s", err, stderr.Bytes())
	}
	var got map[string][][]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for set, n := range sum.Splits {
		if len(got[set]) != n {
			t.Errorf("python read %d samples of %s, want %d", len(got[set]), set, n)
		}
		for _, s := range got[set] {
			class, _ := s[3].(string)
			if ci := int(s[2].(float64)); testClasses[ci] != class {
				t.Errorf("sample %v: .cls %d is not class %q", s[0], ci, class)
			}
			if exts, _ := s[1].([]any); len(exts) != 1 {
				t.Errorf("sample %v: image members %v, want one", s[0], exts)
			}
		}
	}
	if len(got) != len(sum.Splits) {
		t.Errorf("python read sets %v, want %v", got, sum.Splits)
	}
}
