// Package vision names what is in images. Its local backend runs ImageNet
// classifiers (MobileNetV2 int8 by default, embedded in the binary) in
// process with ONNX Runtime, loaded at run time from a shared library; cloud
// backends fit the same Labeler interface.
package vision

import (
	"context"
	"image"
)

// Label is one thing a labeler saw in an image.
type Label struct {
	Name       string  // for ImageNet models, the WordNet synonyms: "tabby, tabby cat"
	Confidence float64 // in [0,1]
}

// Result is what a labeler says about one image.
type Result struct {
	Labels    []Label   // most confident first
	Embedding []float32 // L2-normalised feature vector; nil when the backend has none
	// Err is set when this image alone could not be labelled (a cloud API
	// refused it, say); Labels and Embedding are then empty and the other
	// images of the batch are unaffected.
	Err error
}

// Labeler names what is in images.
//
// Label returns exactly one Result per image, in the order given; a batch may
// be of any length and the labeler splits it as its backend needs. A failure
// that concerns one image goes in that image's Result.Err. A failure of the
// whole call (backend unusable, ctx cancelled, labeler closed) returns a nil
// slice and an error marked with errkind, so retry loops can tell a throttled
// API from a broken model. Labelers are safe for concurrent use; a backend
// that cannot run calls in parallel serialises them. Close releases the
// backend; Label after Close fails, and Close is idempotent.
type Labeler interface {
	Name() string
	Label(ctx context.Context, imgs []image.Image) ([]Result, error)
	Close() error
}

// BytesLabeler is implemented by labelers that work on encoded files rather
// than pixels (cloud APIs upload the JPEG as fetched). A caller that holds
// the original bytes should prefer it when a Labeler also implements it; the
// contract is Label's, with data[i] the encoded image i.
type BytesLabeler interface {
	LabelBytes(ctx context.Context, data [][]byte) ([]Result, error)
}
