package cleanbench

import (
	"context"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/sharedtest"
	"github.com/scour-dev/scour/internal/vision"
)

// The misfiled benchmark alone (go test -run TestMisfiled): both boats
// sets meet the targets for precision, recall and the suggested
// class.
func TestMisfiled(t *testing.T) {
	if testing.Short() {
		t.Skip("labels about 870 photos")
	}
	shared := sharedtest.Dir(t)
	if _, err := vision.RuntimeLibrary(); err != nil {
		t.Skipf("no ONNX Runtime: %v", err)
	}
	var out strings.Builder
	if err := Misfiled(context.Background(), WebOptions{Shared: shared}, &out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	var sets int
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, "misfiled flags") || strings.Contains(l, "suggestion right") {
			sets++
			if !strings.Contains(l, "met") {
				t.Errorf("target missed: %s", strings.TrimSpace(l))
			}
		}
	}
	if sets != 4 {
		t.Errorf("%d figure lines, want 4 (two sets, flags and suggestion)", sets)
	}
}
