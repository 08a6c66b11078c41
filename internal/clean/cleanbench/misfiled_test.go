package cleanbench

import (
	"context"
	"strings"
	"testing"
)

// The misfiled benchmark alone (go test -run TestMisfiled): both boats
// sets meet the targets for precision, recall and the suggested
// class.
func TestMisfiled(t *testing.T) {
	shared := recognizerData(t, "labels about 870 photos")
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
