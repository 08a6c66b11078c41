//go:build !cgo

package vision

import (
	"context"
	"fmt"
	"image"

	"github.com/scour-dev/scour/internal/errkind"
)

// LocalOptions tune the local labeler; see the cgo build.
type LocalOptions struct {
	TopK      int
	BatchSize int
	Threads   int
}

// Local is unavailable without cgo: ONNX Runtime is a C library.
type Local struct{}

// NewLocal always fails in a build without cgo, with an error wrapping
// ErrNoRuntime, so callers fall back to the checks that need no model.
func NewLocal(m Model, opts LocalOptions) (*Local, error) {
	return nil, errkind.WithCause(errkind.Fatal(fmt.Errorf(
		"%w: this scour was built without cgo (CGO_ENABLED=0), which loading ONNX Runtime needs", ErrNoRuntime)),
		"no-onnxruntime")
}

func (*Local) Name() string { return "local" }

func (*Local) Label(context.Context, []image.Image) ([]Result, error) {
	return nil, errkind.Fatal(ErrNoRuntime)
}

func (*Local) Close() error { return nil }
