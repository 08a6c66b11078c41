//go:build cgo

package vision

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/sharedtest"
)

// newLocal opens a labeler or skips the test when the ONNX Runtime library
// is not installed (run .ci/onnxruntime.sh to get it).
func newLocal(t testing.TB, m Model, opts LocalOptions) *Local {
	t.Helper()
	if _, err := RuntimeLibrary(); err != nil {
		t.Skipf("no ONNX Runtime: %v", err)
	}
	l, err := NewLocal(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func decodeFile(t testing.TB, path string) image.Image {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := imaging.Decode(data, imaging.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// golden reads ../shared/models/GOLDEN_top5.json: for each model, image ->
// five [class index, score, name] triples recorded with onnxruntime 1.30.0
// and PIL preprocessing.
func golden(t *testing.T) map[string]map[string][][3]any {
	var g map[string]json.RawMessage
	data, err := os.ReadFile(sharedtest.Path(t, "models", "GOLDEN_top5.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string][][3]any{}
	for k, v := range g {
		var m map[string][][3]any
		if json.Unmarshal(v, &m) == nil {
			out[strings.Fields(k)[0]] = m
		}
	}
	return out
}

var goldenImages = map[string][]string{
	"kitten_224.png":  {"models", "onnx", "kitten_224.png"},
	"fish.png":        {"models", "onnx", "fish.png"},
	"bald_eagle.jpeg": {"models", "testimages", "bald_eagle.jpeg"},
	"pelican.jpeg":    {"models", "testimages", "pelican.jpeg"},
}

func TestGoldenTop5(t *testing.T) {
	g := golden(t)
	for _, tc := range []struct {
		name   string
		golden string
		model  func(t *testing.T) Model
	}{
		{"mobilenetv2", "mobilenetv2-12-int8.onnx", func(*testing.T) Model { return MobileNetV2() }},
		{"squeezenet", "SqueezeNet1.1_caffe2_fp32_from_fp16.onnx", func(t *testing.T) Model {
			m, err := SqueezeNet(sharedtest.Path(t, "models", "onnx", "SqueezeNet1.1_caffe2_fp32_with_embedding.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			return m
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, ok := g[tc.golden]
			if !ok {
				t.Fatalf("GOLDEN_top5.json has no entry for %s", tc.golden)
			}
			l := newLocal(t, tc.model(t), LocalOptions{})
			var names []string
			var imgs []image.Image
			for name, path := range goldenImages {
				names = append(names, name)
				imgs = append(imgs, decodeFile(t, sharedtest.Path(t, path...)))
			}
			scores, _, err := l.infer(context.Background(), imgs)
			if err != nil {
				t.Fatal(err)
			}
			for i, name := range names {
				got := topIndices(scores[i], 5)
				for rank, w := range want[name] {
					idx, score := int(w[0].(float64)), w[1].(float64)
					// The file rounds scores to 5 decimals; classes it shows
					// as equal may come in either order.
					if got[rank] != idx && !tiedInGolden(want[name], got[rank], score) {
						t.Errorf("%s rank %d: class %d (%.5f), want %d %q (%.5f)", name, rank, got[rank],
							scores[i][got[rank]], idx, w[2], score)
					}
					if d := math.Abs(float64(scores[i][idx]) - score); d > 1e-3 {
						t.Errorf("%s class %d: score %.5f, want %.5f", name, idx, scores[i][idx], score)
					}
				}
			}
		})
	}
}

// tiedInGolden reports whether class idx appears in top with this score.
func tiedInGolden(top [][3]any, idx int, score float64) bool {
	for _, w := range top {
		if int(w[0].(float64)) == idx && w[1].(float64) == score {
			return true
		}
	}
	return false
}

func topIndices(s []float32, k int) []int {
	var out []int
	used := map[int]bool{}
	for range k {
		best := -1
		for i, v := range s {
			if !used[i] && (best < 0 || v > s[best]) {
				best = i
			}
		}
		used[best] = true
		out = append(out, best)
	}
	return out
}

func TestLabel(t *testing.T) {
	l := newLocal(t, MobileNetV2(), LocalOptions{BatchSize: 3, TopK: 4})
	kitten := decodeFile(t, sharedtest.Path(t, "models", "onnx", "kitten_224.png"))
	fish := decodeFile(t, sharedtest.Path(t, "models", "onnx", "fish.png"))
	eagle := decodeFile(t, sharedtest.Path(t, "models", "testimages", "bald_eagle.jpeg"))
	// Seven images over three runs of three, one of them unusable.
	imgs := []image.Image{kitten, fish, eagle, nil, fish, image.NewRGBA(image.Rect(0, 0, 0, 0)), kitten}
	want := []string{"tabby, tabby cat", "tench, Tinca tinca", "bald eagle, American eagle, Haliaeetus leucocephalus",
		"", "tench, Tinca tinca", "", "tabby, tabby cat"}
	res, err := l.Label(context.Background(), imgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(imgs) {
		t.Fatalf("%d results for %d images", len(res), len(imgs))
	}
	for i, r := range res {
		if want[i] == "" {
			if r.Err == nil || errkind.Cause(r.Err) != "empty" || r.Labels != nil {
				t.Errorf("image %d (unusable): got %+v, want an \"empty\" error and no labels", i, r)
			}
			continue
		}
		if r.Err != nil {
			t.Fatalf("image %d: %v", i, r.Err)
		}
		if len(r.Labels) != 4 || r.Labels[0].Name != want[i] {
			t.Errorf("image %d: labels %v, want 4 starting with %q", i, r.Labels, want[i])
		}
		var sum float64
		for j, lb := range r.Labels {
			sum += lb.Confidence
			if lb.Confidence < 0 || lb.Confidence > 1 || (j > 0 && lb.Confidence > r.Labels[j-1].Confidence) {
				t.Errorf("image %d: confidences not in [0,1] and descending: %v", i, r.Labels)
			}
		}
		if sum > 1+1e-9 {
			t.Errorf("image %d: top-4 confidences sum to %v", i, sum)
		}
		if len(r.Embedding) != 1280 {
			t.Fatalf("image %d: embedding of %d values, want 1280", i, len(r.Embedding))
		}
		if n := norm(r.Embedding); math.Abs(n-1) > 1e-5 {
			t.Errorf("image %d: embedding norm %v, want 1", i, n)
		}
	}
	// The same image in different batches gives the same answer.
	if cos := dot(res[0].Embedding, res[6].Embedding); cos < 0.99999 {
		t.Errorf("kitten in batches 1 and 3: cosine %v", cos)
	}
	if res[1].Labels[0].Confidence != res[4].Labels[0].Confidence {
		t.Errorf("fish in batches 1 and 2: %v vs %v", res[1].Labels[0], res[4].Labels[0])
	}
	// Different things are further apart than the same thing.
	if cos := dot(res[0].Embedding, res[1].Embedding); cos > 0.6 {
		t.Errorf("kitten vs fish: cosine %v, want well below 1", cos)
	}
}

func TestLabelConcurrent(t *testing.T) {
	l := newLocal(t, MobileNetV2(), LocalOptions{BatchSize: 2})
	imgs := []image.Image{
		decodeFile(t, sharedtest.Path(t, "models", "onnx", "kitten_224.png")),
		decodeFile(t, sharedtest.Path(t, "models", "testimages", "pelican.jpeg")),
		decodeFile(t, sharedtest.Path(t, "models", "onnx", "fish.png")),
	}
	want, err := l.Label(context.Background(), imgs)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			got, err := l.Label(context.Background(), imgs)
			if err == nil {
				for i := range got {
					if got[i].Labels[0] != want[i].Labels[0] || dot(got[i].Embedding, want[i].Embedding) < 0.99999 {
						err = fmt.Errorf("image %d: %v, alone %v", i, got[i].Labels[0], want[i].Labels[0])
					}
				}
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func norm(v []float32) float64 { return math.Sqrt(dot(v, v)) }

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestLabelCancelledAndClosed(t *testing.T) {
	l := newLocal(t, MobileNetV2(), LocalOptions{})
	img := image.NewGray(image.Rect(0, 0, 50, 40))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res, err := l.Label(ctx, []image.Image{img}); !errors.Is(err, context.Canceled) || res != nil {
		t.Errorf("cancelled: got %v, %v; want nil, context.Canceled", res, err)
	}
	if res, err := l.Label(context.Background(), nil); err != nil || len(res) != 0 {
		t.Errorf("empty batch: got %v, %v", res, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := l.Label(context.Background(), []image.Image{img}); !errors.Is(err, errClosed) || !errkind.IsFatal(err) {
		t.Errorf("after Close: %v, want a fatal %v", err, errClosed)
	}
}

func TestNewLocalBadModels(t *testing.T) {
	if _, err := RuntimeLibrary(); err != nil {
		t.Skipf("no ONNX Runtime: %v", err)
	}
	good := MobileNetV2()
	withONNX := func(data []byte) Model { m := good; m.ONNX = data; return m }
	withLabels := func(n int) Model { m := good; m.Labels = m.Labels[:n]; return m }
	renamed := func(in, out, emb string) Model {
		m := good
		m.Input, m.Output, m.Embedding = in, out, emb
		return m
	}
	for _, tc := range []struct {
		name  string
		model Model
		inMsg string
	}{
		{"truncated file", withONNX(good.ONNX[:len(good.ONNX)/2]), "not a usable ONNX file"},
		{"not onnx at all", withONNX([]byte("<html>404 not found</html>")), "not a usable ONNX file"},
		{"empty", withONNX(nil), "not a usable ONNX file"},
		{"input 100x100", withONNX(poolModel(1, 100)), "want float32 [N 3 224 224]"},
		{"3 classes not 1000", withONNX(poolModel(-1, 224)), "3 values per image"},
		{"labels do not match", withLabels(999), "there are 999 labels"},
		{"no such input", renamed("data_0", "output", ""), `no input "data_0"`},
		{"no such output", renamed("input", "softmaxout_1", ""), `no output "softmaxout_1"`},
		{"no such embedding", renamed("input", "output", "embedding_512"), `no embedding output "embedding_512"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewLocal(tc.model, LocalOptions{})
			if err == nil {
				l.Close()
				t.Fatal("NewLocal accepted a bad model")
			}
			if !strings.Contains(err.Error(), tc.inMsg) {
				t.Errorf("error %q does not say %q", err, tc.inMsg)
			}
			if errkind.Cause(err) != "bad-model" || !errkind.IsFatal(err) {
				t.Errorf("cause %q, fatal %v; want bad-model, fatal", errkind.Cause(err), errkind.IsFatal(err))
			}
		})
	}
	if _, err := SqueezeNet(filepath.Join(t.TempDir(), "missing.onnx")); errkind.Cause(err) != "bad-model" {
		t.Errorf("missing SqueezeNet file: %v", err)
	}
}

// poolModel is a real ONNX model, written out field by field: input
// "input" float32 [batch,3,size,size] -> GlobalAveragePool -> Flatten ->
// output "output" [batch,3]. A batch of -1 leaves it symbolic ("N").
func poolModel(batch, size int64) []byte {
	dims := func(d ...int64) []byte {
		var shape pb
		for _, v := range d {
			if v < 0 {
				shape = shape.bytes(1, pb(nil).bytes(2, []byte("N")))
			} else {
				shape = shape.bytes(1, pb(nil).varint(1, uint64(v)))
			}
		}
		tensor := pb(nil).varint(1, 1).bytes(2, shape) // elem_type FLOAT
		return pb(nil).bytes(1, tensor)                // TypeProto.tensor_type
	}
	valueInfo := func(name string, d ...int64) []byte {
		return pb(nil).bytes(1, []byte(name)).bytes(2, dims(d...))
	}
	node := func(in, out, op string) []byte {
		return pb(nil).bytes(1, []byte(in)).bytes(2, []byte(out)).bytes(4, []byte(op))
	}
	graph := pb(nil).
		bytes(1, node("input", "pooled", "GlobalAveragePool")).
		bytes(1, node("pooled", "output", "Flatten")).
		bytes(2, []byte("pool")).
		bytes(11, valueInfo("input", batch, 3, size, size)).
		bytes(12, valueInfo("output", batch, 3))
	return pb(nil).
		varint(1, 7).                                  // ir_version
		bytes(8, pb(nil).bytes(1, nil).varint(2, 12)). // opset_import: default domain, 12
		bytes(7, graph)
}

// pb appends protobuf wire-format fields.
type pb []byte

func (p pb) varint(field int, v uint64) pb {
	p = binary.AppendUvarint(p, uint64(field)<<3)
	return binary.AppendUvarint(p, v)
}

func (p pb) bytes(field int, b []byte) pb {
	p = binary.AppendUvarint(p, uint64(field)<<3|2)
	p = binary.AppendUvarint(p, uint64(len(b)))
	return append(p, b...)
}

// TestNewLocalUnloadableLibrary loads a file that is not a shared library,
// in a child process: the runtime can be loaded only once per process.
func TestNewLocalUnloadableLibrary(t *testing.T) {
	if os.Getenv("SCOUR_TEST_CHILD") == "1" {
		_, err := NewLocal(MobileNetV2(), LocalOptions{})
		if !errors.Is(err, ErrNoRuntime) || errkind.Cause(err) != "no-onnxruntime" {
			t.Fatalf("want ErrNoRuntime, got %v", err)
		}
		fmt.Printf("child error: %v\n", err)
		return
	}
	bogus := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	if err := os.WriteFile(bogus, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNewLocalUnloadableLibrary$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SCOUR_TEST_CHILD=1", "SCOUR_ONNXRUNTIME_LIB="+bogus)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, s := range []string{bogus, ".ci/onnxruntime.sh", "SCOUR_ONNXRUNTIME_LIB"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("error does not mention %q:\n%s", s, out)
		}
	}
}
