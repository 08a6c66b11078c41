package clean

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/vision"
)

// A catalog from before the reference method read LabelsPerImage labels
// holds the local model's top 5: opening it drops those (the next clean
// labels again) and keeps what other labelers said, which did not change.
func TestOldLocalLabelsAreDropped(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "scour.db")
	cat, err := catalog.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	top5 := features{Labels: []vision.Label{{Name: "aircraft carrier", Confidence: 0.5}}, Embedding: []float32{1, 0}}
	for _, model := range []string{"local/mobilenetv2-12-int8", "rekognition"} {
		if err := saveFeatures(ctx, cat, model, map[string]features{"ab12": top5}); err != nil {
			t.Fatal(err)
		}
	}
	// As the catalog was before migration 301 existed.
	if _, err := cat.DB().ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = 301`); err != nil {
		t.Fatal(err)
	}
	cat.Close()

	cat, err = catalog.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for model, want := range map[string]int{"local/mobilenetv2-12-int8": 0, "rekognition": 1} {
		got, err := loadFeatures(ctx, cat, model)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Errorf("%s: %d cached rows after the upgrade, want %d", model, len(got), want)
		}
	}
	// Once applied it does not run again: labels cached from now on stay.
	if err := saveFeatures(ctx, cat, "local/mobilenetv2-12-int8", map[string]features{"ab12": top5}); err != nil {
		t.Fatal(err)
	}
	cat.Close()
	cat, err = catalog.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := loadFeatures(ctx, cat, "local/mobilenetv2-12-int8"); len(got) != 1 {
		t.Errorf("the upgrade ran again: %d rows", len(got))
	}
	cat.Close()
}
