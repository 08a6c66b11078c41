package cleanbench

import (
	"bytes"
	"context"
	"image"
	"strings"
	"testing"
)

// Pages of a kind are a cluster of look-alikes, never copies, and the
// same on every run.
func TestRenderPage(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range pageKinds {
		for i := range 5 {
			a, b := renderPage(k, i).(*image.RGBA), renderPage(k, i).(*image.RGBA)
			if !bytes.Equal(a.Pix, b.Pix) {
				t.Fatalf("%s %d differs between runs", k, i)
			}
			key := string(a.Pix)
			if seen[key] {
				t.Errorf("%s %d repeats another page", k, i)
			}
			seen[key] = true
		}
	}
}

// The real scrape: the targets without references.
func TestNoisyWeb(t *testing.T) {
	shared := recognizerData(t, "labels 669 photos")
	var out strings.Builder
	if err := NoisyWeb(context.Background(), WebOptions{Shared: shared}, &out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	first := strings.SplitN(out.String(), "\n", 3)[1]
	if !strings.Contains(first, "met") {
		t.Errorf("no references: %s", first)
	}
}
