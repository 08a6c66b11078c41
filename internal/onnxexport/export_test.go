//go:build cgo

package onnxexport

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/nn"
	"github.com/scour-dev/scour/internal/sharedtest"
	"github.com/scour-dev/scour/internal/train"
	"github.com/scour-dev/scour/internal/vision"
)

// tol is how far the exported model's probabilities may be from scour's.
const tol = 1e-4

// boats decodes the first per photos of each class of the shared boat set.
func boats(t *testing.T, per int) (imgs []image.Image, labels []int32, classes []string) {
	t.Helper()
	root := sharedtest.Path(t, "images", "boats", "train")
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(root, d.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, f := range files {
			if got == per {
				break
			}
			data, err := os.ReadFile(filepath.Join(root, d.Name(), f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			img, _, err := imaging.Decode(data, imaging.Limits{})
			if err != nil {
				continue
			}
			imgs = append(imgs, img)
			labels = append(labels, int32(len(classes)))
			got++
		}
		classes = append(classes, d.Name())
	}
	if len(imgs) == 0 {
		t.Skip("no boat photos in the shared data")
	}
	return imgs, labels, classes
}

// nhwc01 is how `scour predict` feeds a CNN: the image resized to s x s,
// RGB/255, NHWC.
func nhwc01(imgs []image.Image, s int) []float32 {
	var x []float32
	for _, img := range imgs {
		for _, v := range imaging.ResizeRGB(img, s, s) {
			x = append(x, float32(v)/255)
		}
	}
	return x
}

// toNCHW reorders n images of s x s x 3 from NHWC to NCHW, the exported layout.
func toNCHW(x []float32, n, s int) []float32 {
	out := make([]float32, len(x))
	for i := range n {
		for p := range s * s {
			for c := range 3 {
				out[(i*3+c)*s*s+p] = x[(i*s*s+p)*3+c]
			}
		}
	}
	return out
}

// cropped01 is the exported head's documented input: shorter side resized
// to Resize, centre crop, RGB/255, NCHW.
func cropped01(imgs []image.Image, p vision.Prep) []float32 {
	var x []float32
	for _, img := range imgs {
		w, h := imaging.ScaleShorter(img.Bounds().Size(), p.Resize)
		rgb := imaging.ResizeCropRGB(img, w, h, imaging.CenterCrop(w, h, p.Crop, p.Crop))
		for _, v := range rgb {
			x = append(x, float32(v)/255)
		}
	}
	return toNCHW(x, len(imgs), p.Crop)
}

func initORT(t *testing.T) {
	t.Helper()
	lib, err := vision.RuntimeLibrary()
	if err != nil {
		t.Skipf("no ONNX Runtime (run .ci/onnxruntime.sh and set SCOUR_ONNXRUNTIME_LIB): %v", err)
	}
	if !ort.IsInitialized() {
		ort.SetSharedLibraryPath(lib)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			t.Fatal(err)
		}
	}
}

// runORT runs an exported model on n images of s x s and returns its
// probabilities.
func runORT(t *testing.T, model []byte, x []float32, n, s, classes int) []float32 {
	t.Helper()
	initORT(t)
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(model, []string{InputName}, []string{OutputName}, nil)
	if err != nil {
		t.Fatalf("ONNX Runtime refuses the export: %v", err)
	}
	defer sess.Destroy()
	in, err := ort.NewTensor(ort.NewShape(int64(n), 3, int64(s), int64(s)), x)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	outs := []ort.Value{nil}
	if err := sess.Run([]ort.Value{in}, outs); err != nil {
		t.Fatal(err)
	}
	defer outs[0].Destroy()
	got := outs[0].(*ort.Tensor[float32])
	if sh := got.GetShape(); !slices.Equal(sh, ort.NewShape(int64(n), int64(classes))) {
		t.Fatalf("output shape %v, want [%d %d]", sh, n, classes)
	}
	return slices.Clone(got.GetData())
}

// maxDiff is the largest |a-b|; it fails on NaN.
func maxDiff(t *testing.T, a, b []float32) float64 {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d values against %d", len(a), len(b))
	}
	d := 0.0
	for i := range a {
		e := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(e) {
			t.Fatalf("value %d: %v against %v", i, a[i], b[i])
		}
		d = max(d, e)
	}
	return d
}

// cvResult is what the independent check found.
type cvResult struct {
	Checker     string            `json:"checker"`
	Metadata    map[string]string `json:"metadata"`
	OpenCV      string            `json:"opencv_version"`
	OpenCVError string            `json:"opencv_error"`
	MaxAbsDiff  float64           `json:"max_abs_diff"`
	Top1Agree   int               `json:"top1_agree"`
	EmbDiff     float64           `json:"embedding_max_abs_diff"`
	EmbCosine   float64           `json:"embedding_min_cosine"`
	ZooDiff     float64           `json:"zoo_embedding_max_abs_diff"`
	ZooCosine   float64           `json:"zoo_embedding_min_cosine"`
	Probs, Emb  []float32         // OpenCV's outputs; Emb raw, for heads only
}

// independent checks the file with python3-onnx's checker and runs it in
// OpenCV's dnn module, comparing with want (and, for a head, OpenCV's
// embeddings with scour's embs); it skips when Debian's python3-onnx or
// python3-opencv is missing.
func independent(t *testing.T, model []byte, x []float32, n, s int, want []float32, info Info, embs []float32) cvResult {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import onnx, cv2, numpy").Run(); err != nil {
		t.Skipf("the independent check needs Debian's python3-onnx and python3-opencv (apt-get install -y python3-onnx python3-opencv): %v", err)
	}
	dir := t.TempDir()
	write := func(name string, v []float32) string {
		b := make([]byte, 0, 4*len(v))
		for _, f := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	read := func(name string) []float32 {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		v := make([]float32, len(b)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return v
	}
	mp := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(mp, model, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"testdata/check_onnx.py", mp, write("x.f32", x), strconv.Itoa(n), strconv.Itoa(s),
		write("want.f32", want), strconv.Itoa(len(info.Classes))}
	if embs != nil {
		zoo := filepath.Join(dir, "zoo.onnx")
		if err := os.WriteFile(zoo, vision.MobileNetV2().ONNX, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, write("emb.f32", embs), strconv.Itoa(len(embs)/n), zoo)
	}
	cmd := exec.Command(py, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("check_onnx.py: %v\n%s", err, stderr.String())
	}
	var res cvResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("check_onnx.py printed %q: %v", out, err)
	}
	if res.Checker != "ok" {
		t.Fatalf("onnx checker: %s", out)
	}
	var classes []string
	if err := json.Unmarshal([]byte(res.Metadata["classes"]), &classes); err != nil || !slices.Equal(classes, info.Classes) {
		t.Fatalf("metadata classes %q (%v), want %q", res.Metadata["classes"], err, info.Classes)
	}
	for k, v := range map[string]string{"input_size": strconv.Itoa(s), "layout": "NCHW", "scour_kind": info.Kind, "preprocess": info.Preprocess} {
		if res.Metadata[k] != v {
			t.Fatalf("metadata %s = %q, want %q", k, res.Metadata[k], v)
		}
	}
	if res.OpenCVError != "" {
		return res
	}
	res.Probs = read("opencv_probs.f32")
	if embs != nil {
		res.Emb = read("opencv_emb.f32")
	}
	return res
}

// TestCNN trains small CNNs of every layer kind for a few steps on real
// photos, exports them, and checks that ONNX Runtime and OpenCV give the
// probabilities scour's own prediction path gives.
func TestCNN(t *testing.T) {
	imgs, labels, classes := boats(t, 2)
	for _, c := range []struct {
		spec string
		s    int
	}{
		{"8-16/bn", 40},                 // conv, batch norm, ReLU, max pool, flatten, dropout, dense
		{"8-16/same/d2@0.2/h32-16", 40}, // fused conv+ReLU+pool, same padding, two hidden layers
		{"6-12/bn/gap/k5/same", 40},     // global average pooling
		{"8/h0/d0", 40},                 // no hidden layer
		{"32-64-128", 128},              // the reference model at its size
	} {
		spec, s := c.spec, c.s
		t.Run(spec, func(t *testing.T) {
			sp, err := nn.ParseSpec(spec)
			if err != nil {
				t.Fatal(err)
			}
			m, err := nn.Build(sp, nn.Shape{H: s, W: s, C: 3}, len(classes), 7)
			if err != nil {
				t.Fatal(err)
			}
			// Training moves the biases and batch-norm statistics away from
			// their initial 0 and 1, which an export could otherwise get
			// wrong unnoticed, and makes the probabilities far from uniform,
			// so that an error in the logits shows in them.
			x := nhwc01(imgs, s)
			opt := nn.NewAdam(1e-2)
			for range 20 {
				if _, _, err := m.TrainBatch(x, labels, opt); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(t.TempDir(), "best.scour")
			meta := train.Meta{Kind: "cnn", Classes: classes, Size: s, Preprocess: "rgb/255", Spec: sp.String()}
			if err := train.SaveModelFile(path, meta, m.Save); err != nil {
				t.Fatal(err)
			}

			// scour's prediction path: the saved model, fed as predict feeds it.
			_, loaded, err := train.LoadCNN(path)
			if err != nil {
				t.Fatal(err)
			}
			want, err := loaded.Predict(x, len(imgs))
			if err != nil {
				t.Fatal(err)
			}

			var buf bytes.Buffer
			info, err := Export(path, &buf, Options{Version: "test"})
			if err != nil {
				t.Fatal(err)
			}
			if info.Kind != "cnn" || info.InputSize != s || info.Bytes != buf.Len() {
				t.Fatalf("info %+v for %d bytes", info, buf.Len())
			}
			xc := toNCHW(x, len(imgs), s)
			got := runORT(t, buf.Bytes(), xc, len(imgs), s, len(classes))
			d := maxDiff(t, got, want)
			t.Logf("%s: ops %v; ONNX Runtime max |diff| %.3g over %d images (largest probability %.3f)", spec, info.Ops, d, len(imgs), slices.Max(want))
			if d > tol {
				t.Fatalf("ONNX Runtime differs from scour by %.3g (> %g)", d, tol)
			}

			cv := independent(t, buf.Bytes(), xc, len(imgs), s, want, info, nil)
			if cv.OpenCVError != "" {
				t.Fatalf("OpenCV cannot run the CNN: %s", cv.OpenCVError)
			}
			t.Logf("OpenCV %s: max |diff| %.3g, top-1 agrees on %d of %d", cv.OpenCV, cv.MaxAbsDiff, cv.Top1Agree, len(imgs))
			if cv.MaxAbsDiff > tol || cv.Top1Agree != len(imgs) {
				t.Fatalf("OpenCV differs from scour by %.3g (> %g), top-1 agrees on %d of %d", cv.MaxAbsDiff, tol, cv.Top1Agree, len(imgs))
			}
		})
	}
}

// embedRef returns scour's embeddings of imgs: MobileNetV2 through vision,
// L2-normalised, exactly what a head is trained on and predicts from.
func embedRef(t *testing.T, imgs []image.Image) []train.Embedded {
	t.Helper()
	initORT(t)
	lab, err := vision.NewLocal(vision.MobileNetV2(), vision.LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	rs, err := lab.Label(context.Background(), imgs)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]train.Embedded, len(imgs))
	for i, r := range rs {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		out[i] = train.Embedded{SHA256: fmt.Sprint(i), X: r.Embedding}
	}
	return out
}

// TestHead fits heads on scour's embeddings of real photos, exports each
// with MobileNetV2 in front, and checks that the one-file model gives the
// probabilities of scour's path (vision's embedding, then the head).
func TestHead(t *testing.T) {
	// One photo per class: OpenCV runs MobileNetV2 twice per image (the
	// export and the zoo model alone), which is slow on a shared machine.
	imgs, labels, classes := boats(t, 1)
	embs := embedRef(t, imgs)
	for i := range embs {
		embs[i].Label = labels[i]
	}
	prep := vision.MobileNetV2().Prep
	x := cropped01(imgs, prep)
	n, s := len(imgs), prep.Crop

	var scourEmb []float32
	for _, e := range embs {
		scourEmb = append(scourEmb, e.X...)
	}
	// check compares the exported model with scour's path (vision's
	// embedding, then head) in ONNX Runtime and in OpenCV. OpenCV's int8
	// kernels round differently from ONNX Runtime's, so there the head part
	// is checked on OpenCV's own embeddings and the embeddings themselves
	// by cosine.
	check := func(t *testing.T, model []byte, info Info, head func(emb []float32) []float32) {
		var want []float32
		for _, e := range embs {
			want = append(want, head(e.X)...)
		}
		got := runORT(t, model, x, n, s, len(classes))
		d := maxDiff(t, got, want)
		t.Logf("ops %v; ONNX Runtime max |diff| %.3g over %d images (largest probability %.3f)", info.Ops, d, n, slices.Max(want))
		if d > tol {
			t.Fatalf("ONNX Runtime differs from scour by %.3g (> %g)", d, tol)
		}
		cv := independent(t, model, x, n, s, want, info, scourEmb)
		if cv.OpenCVError != "" {
			t.Fatalf("OpenCV cannot run the head's graph: %s", cv.OpenCVError)
		}
		var own []float32
		for i := range n {
			own = append(own, head(l2(cv.Emb[i*1280:(i+1)*1280]))...)
		}
		dOwn := maxDiff(t, cv.Probs, own)
		t.Logf("OpenCV %s: max |diff| %.3g from scour, top-1 agrees on %d of %d; embedding vs scour's: min cosine %.5f (the zoo model alone in OpenCV: %.5f), "+
			"vs the zoo model's in OpenCV: max |diff| %.3g; head on OpenCV's own embeddings: max |diff| %.3g",
			cv.OpenCV, cv.MaxAbsDiff, cv.Top1Agree, n, cv.EmbCosine, cv.ZooCosine, cv.ZooDiff, dOwn)
		// OpenCV's int8 kernels round differently from ONNX Runtime's (the
		// zoo model alone shows it), so end to end it cannot meet tol; the
		// parts the export adds can.
		if dOwn > tol {
			t.Fatalf("OpenCV's head output differs from the head on OpenCV's embeddings by %.3g (> %g)", dOwn, tol)
		}
		if cv.ZooDiff > 1e-3 {
			t.Fatalf("in OpenCV, the exported graph's embedding differs from the zoo model's by %.3g: the normalisation in front is wrong", cv.ZooDiff)
		}
	}

	// The head as `scour train` writes it today.
	for _, hidden := range []int{0, 16} {
		t.Run(fmt.Sprintf("trainhead-hidden%d", hidden), func(t *testing.T) {
			dir := t.TempDir()
			res, err := train.RunHead(context.Background(), classes, embs, embs, embs,
				train.HeadConfig{Name: "head", Model: "local/" + vision.MobileNetV2().Name, Hidden: hidden, Epochs: 20, Seed: 1}, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, h, err := train.LoadHead(res.ModelPath)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			info, err := Export(res.ModelPath, &buf, Options{Version: "test"})
			if err != nil {
				t.Fatal(err)
			}
			if info.Kind != "head" || info.InputSize != s {
				t.Fatalf("info %+v", info)
			}
			check(t, buf.Bytes(), info, h.Probs)
		})
	}

	// The head as an nn model of dense layers over the embedding, the form
	// the head is moving to.
	t.Run("nn-dense", func(t *testing.T) {
		sp, err := nn.ParseSpec("0/h32/d1@0.2")
		if err != nil {
			t.Fatal(err)
		}
		m, err := nn.Build(sp, nn.Shape{H: 1, W: 1, C: 1280}, len(classes), 3)
		if err != nil {
			t.Fatal(err)
		}
		var ex []float32
		for _, e := range embs {
			ex = append(ex, e.X...)
		}
		opt := nn.NewAdam(1e-2)
		for range 30 {
			if _, _, err := m.TrainBatch(ex, labels, opt); err != nil {
				t.Fatal(err)
			}
		}
		meta := train.Meta{Kind: "head", Classes: classes, Preprocess: "local/" + vision.MobileNetV2().Name, Spec: sp.String()}
		model, info, err := headModel(meta, m.Layers(), Options{Version: "test"})
		if err != nil {
			t.Fatal(err)
		}
		check(t, model, info, func(e []float32) []float32 {
			p, err := m.Predict(e, 1)
			if err != nil {
				t.Fatal(err)
			}
			return p
		})
	})
}

// l2 normalises v as vision does (in float64).
func l2(v []float32) []float32 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / math.Sqrt(ss))
	}
	return out
}
