package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/progress"
)

// TestExportNeedsSplit runs the per-set exports on a real project: before
// split they say to run it; after it, images gathered later are left out
// with a warning that counts them.
func TestExportNeedsSplit(t *testing.T) {
	p := newProject(t, baseYAML)
	ctx := context.Background()
	run(t, p, Gather{})
	out := t.TempDir()
	if _, err := ExportWebDataset(ctx, p, filepath.Join(out, "wds"), 10, quiet{}); err == nil || !strings.Contains(err.Error(), "run `scour split` first") {
		t.Fatalf("webdataset before split: %v", err)
	}
	if _, err := ExportImageFolder(ctx, p, filepath.Join(out, "hf"), quiet{}); err == nil || !strings.Contains(err.Error(), "run `scour split` first") {
		t.Fatalf("imagefolder before split: %v", err)
	}

	run(t, p, Split{})
	writePhotos(t, p.Path("photos/red"), "red", 8, 3)
	run(t, p, Gather{})

	rec := &progress.Recorder{}
	wds, err := ExportWebDataset(ctx, p, filepath.Join(out, "wds"), 10, rec)
	if err != nil {
		t.Fatal(err)
	}
	if wds.Samples != 16 || wds.Unsplit != 3 || wds.Splits["train"] == 0 || wds.Splits["val"] == 0 || wds.Splits["test"] == 0 {
		t.Errorf("webdataset summary %+v, want the 16 split images and 3 unsplit", wds)
	}
	for _, s := range wds.Shards {
		if _, err := os.Stat(s); err != nil {
			t.Error(err)
		}
	}
	hf, err := ExportImageFolder(ctx, p, filepath.Join(out, "hf"), rec)
	if err != nil {
		t.Fatal(err)
	}
	if hf.Images != 16 || hf.Unsplit != 3 || hf.Splits["validation"] != wds.Splits["val"] {
		t.Errorf("imagefolder summary %+v, webdataset %+v", hf, wds)
	}
	notes := rec.Notes()
	if len(notes) != 2 || !strings.Contains(notes[0], "3 kept images") || !strings.Contains(notes[0], "re-run `scour split`") {
		t.Errorf("notes %q, want one warning per export counting 3 images", notes)
	}
}
