package headbench

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/sharedtest"
	"github.com/scour-dev/scour/internal/train"
	"github.com/scour-dev/scour/internal/vision"
)

// TestHeadMatchesSklearn fits scour's head and scikit-learn's
// LogisticRegression on the same MobileNetV2 embeddings of real boat
// photos, split the same way, and asks scour to do at least as well on the
// test split of every class set.
func TestHeadMatchesSklearn(t *testing.T) {
	dir := sharedtest.Path(t, "images", "boats", "train")
	if _, err := vision.RuntimeLibrary(); err != nil {
		t.Skipf("no ONNX Runtime to embed the photos with (set SCOUR_ONNXRUNTIME_LIB=$(.ci/onnxruntime.sh)): %v", err)
	}
	sets := DefaultSets[1:]
	if testing.Short() {
		sets = sets[:1]
	}
	var b strings.Builder
	rs, err := Run(context.Background(), &b, Options{Dir: dir, Sets: sets})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", b.String())
	for _, r := range rs {
		name := strings.Join(r.Classes, " vs ")
		if r.Sklearn == nil {
			if strings.Contains(r.SklearnErr, ErrNoSklearn.Error()) {
				t.Skipf("%s (scour's head reached test accuracy %.3f on %s)", r.SklearnErr, r.Scour.TestAcc, name)
			}
			t.Fatalf("%s: scikit-learn failed: %s", name, r.SklearnErr)
		}
		if r.Scour.TestAcc < r.Sklearn.TestAcc {
			t.Errorf("%s: scour's head scores %.3f on the %d test photos, scikit-learn %.3f", name, r.Scour.TestAcc, r.Test, r.Sklearn.TestAcc)
		}
		if r.Scour.TestAcc < 0.75 {
			t.Errorf("%s: test accuracy %.3f: the head learned little", name, r.Scour.TestAcc)
		}
	}
}

func TestRunNeedsAFolder(t *testing.T) {
	if _, err := Run(context.Background(), nil, Options{}); err == nil || !strings.Contains(err.Error(), "folder") {
		t.Fatalf("no folder: %v", err)
	}
	if _, err := Run(context.Background(), nil, Options{Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "class sets") {
		t.Fatalf("a folder without the default classes: %v", err)
	}
}

func TestSklearnMissingIsNamed(t *testing.T) {
	// A Python without scikit-learn, or no Python: either way an error that
	// says what to install or which interpreter failed, never a silent 0.
	e := []train.Embedded{{X: []float32{1, 0}}, {Label: 1, X: []float32{0, 1}}}
	d := Embedded{Classes: []string{"a", "b"}, Train: e, Val: e, Test: e}
	_, err := Sklearn(context.Background(), "/nonexistent/python3", d, t.TempDir())
	if err == nil || errors.Is(err, ErrNoSklearn) || !strings.Contains(err.Error(), "/nonexistent/python3") {
		t.Fatalf("missing interpreter: %v", err)
	}
}
