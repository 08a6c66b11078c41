package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
)

// The same bytes found for two classes are one image in the catalog, but
// both findings are kept, and clean puts the question to a person as
// cross-class.
func TestSameBytesForTwoClassesIsCrossClass(t *testing.T) {
	ctx := context.Background()
	p := newProject(t, baseYAML)
	b, err := os.ReadFile(filepath.Join(p.Dir, "photos", "red", "red-003.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.Dir, "photos", "blue", "also-red.png"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := (Gather{}).Do(ctx, p, quiet{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Kept != 16 || sum.Duplicates != 1 {
		t.Fatalf("gather kept %d with %d duplicates, want 16 and 1", sum.Kept, sum.Duplicates)
	}
	other, err := p.Catalog.OtherClasses(ctx)
	if err != nil || len(other) != 1 {
		t.Fatalf("images found for another class: %v %v, want the copied one", other, err)
	}
	var sha string
	for s := range other {
		sha = s
	}
	if _, err := (Clean{Labeler: "none"}).Do(ctx, p, quiet{}); err != nil {
		t.Fatal(err)
	}
	im, err := p.Catalog.GetImage(ctx, sha)
	if err != nil || im.Status != catalog.StatusQuarantined || im.Reason != "cross-class" {
		t.Fatalf("the image found for red and blue is %s (%s), want quarantined as cross-class: %v", im.Status, im.Reason, err)
	}
	// Only that one.
	counts, _ := p.Catalog.CountImages(ctx)
	if counts["red"]["kept"] != 7 || counts["blue"]["kept"] != 8 {
		t.Fatalf("kept after clean %v", counts)
	}
}
