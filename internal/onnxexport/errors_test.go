package onnxexport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/nn"
	"github.com/scour-dev/scour/internal/train"
	"github.com/scour-dev/scour/internal/vision"
)

func TestNotAModel(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "best.scour")
	if err := os.WriteFile(in, []byte("not a model at all, just text"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(out, []byte("an earlier export"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ExportFile(in, out, Options{})
	if !errors.Is(err, train.ErrModelFile) {
		t.Fatalf("err = %v, want train.ErrModelFile", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "an earlier export" {
		t.Fatalf("a failed export changed the existing output to %q", b)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

// headFile trains a small head on random dim-d embeddings, as if computed
// by the embedding model named model, and returns its model file.
func headFile(t *testing.T, model string, dim int) string {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	var es []train.Embedded
	for i := range 6 {
		x := make([]float32, dim)
		for j := range x {
			x[j] = float32(r.NormFloat64())
		}
		es = append(es, train.Embedded{SHA256: fmt.Sprint(i), Label: int32(i % 2), X: x})
	}
	res, err := train.RunHead(context.Background(), []string{"a", "b"}, es, es, es,
		train.HeadConfig{Name: "head", Model: model, Epochs: 2, Seed: 1}, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.ModelPath
}

func TestHeadOnOtherEmbeddings(t *testing.T) {
	var buf bytes.Buffer
	_, err := Export(headFile(t, "local/squeezenet1.1", 512), &buf, Options{})
	if err == nil || !strings.Contains(err.Error(), "squeezenet1.1") {
		t.Fatalf("a head on SqueezeNet embeddings: err = %v", err)
	}
	_, err = Export(headFile(t, "local/"+vision.MobileNetV2().Name, 32), &buf, Options{})
	if err == nil || !strings.Contains(err.Error(), "1280") {
		t.Fatalf("a 32-input head: err = %v", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("failed exports wrote %d bytes", buf.Len())
	}
}

func TestUnknownLayer(t *testing.T) {
	var g graph
	_, err := appendLayers(&g, InputName, []nn.Layer{{Kind: "attention"}})
	if err == nil || !strings.Contains(err.Error(), "attention") {
		t.Fatalf("err = %v", err)
	}
}
