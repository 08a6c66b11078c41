package vision

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"image"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/imaging"
)

// The default model ships inside the binary so that labelling works offline
// with nothing but the ONNX Runtime library; see models/README.md.
var (
	//go:embed models/mobilenetv2-12-int8_with_embedding.onnx
	mobileNetV2ONNX []byte
	//go:embed models/synset_words.txt
	synsetWords string
)

// Prep is how a model wants its pixels: the shorter side resized to Resize
// with PIL's antialiased bilinear filter, a centred Crop x Crop square, then
// per channel (in the order fed: BGR when BGR is set) v*Scale - Mean, divided
// by Std, laid out NCHW in float32.
type Prep struct {
	Resize, Crop int
	BGR          bool
	Scale        float64
	Mean, Std    [3]float64
}

// Model is an ImageNet-1k classifier in ONNX and the recipe to feed it.
type Model struct {
	Name      string
	ONNX      []byte
	Input     string // float32 [N,3,Crop,Crop]
	Output    string // one score per class: [N,1000] (or [N,1000,1,1])
	Softmaxed bool   // Output holds probabilities already, not logits
	Embedding string // optional [N,D] feature output; "" when the model has none
	Prep      Prep
	Labels    []string // class names in output order
}

// MobileNetV2 returns the embedded default model: ONNX Model Zoo MobileNetV2
// 1.0 int8 (opset 12) with an added 1280-d embedding output.
func MobileNetV2() Model {
	return Model{
		Name:      "mobilenetv2-12-int8",
		ONNX:      mobileNetV2ONNX,
		Input:     "input",
		Output:    "output",
		Embedding: "embedding_1280",
		Prep: Prep{
			Resize: 256, Crop: 224,
			Scale: 1.0 / 255,
			Mean:  [3]float64{0.485, 0.456, 0.406},
			Std:   [3]float64{0.229, 0.224, 0.225},
		},
		Labels: ImageNetLabels(),
	}
}

// SqueezeNet reads SqueezeNet 1.1 (the Caffe2 export from the WinML
// repository, converted to fp32) from path; it is not embedded. The model's
// 512-d embedding output is used when the file has it.
func SqueezeNet(path string) (Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Model{}, errkind.WithCause(errkind.Fatal(fmt.Errorf("vision: reading SqueezeNet model: %w", err)), "bad-model")
	}
	m := Model{
		Name:      "squeezenet1.1",
		ONNX:      data,
		Input:     "data_0",
		Output:    "softmaxout_1",
		Softmaxed: true,
		Prep: Prep{
			Resize: 256, Crop: 224,
			BGR:   true,
			Scale: 1,
			Mean:  [3]float64{104, 117, 123}, // B, G, R
			Std:   [3]float64{1, 1, 1},
		},
		Labels: ImageNetLabels(),
	}
	if bytes.Contains(data, []byte("embedding_512")) {
		m.Embedding = "embedding_512"
	}
	return m, nil
}

// ImageNetLabels returns the 1000 ILSVRC-2012 class names in index order,
// each the WordNet synonym list ("tench, Tinca tinca").
func ImageNetLabels() []string { return slices.Clone(imageNetLabels()) }

var imageNetLabels = sync.OnceValue(func() []string {
	var names []string
	sc := bufio.NewScanner(strings.NewReader(synsetWords))
	for sc.Scan() {
		// "n01440764 tench, Tinca tinca": the WordNet id, then the names.
		_, name, _ := strings.Cut(sc.Text(), " ")
		names = append(names, name)
	}
	return names
})

// Preprocess writes img, prepared as p describes, into dst in CHW order;
// dst must hold 3*Crop*Crop values.
func (p Prep) Preprocess(img image.Image, dst []float32) {
	w, h := imaging.ScaleShorter(img.Bounds().Size(), p.Resize)
	crop := imaging.CenterCrop(w, h, p.Crop, p.Crop)
	if crop.Dx() != p.Crop || crop.Dy() != p.Crop {
		// Only when Resize < Crop, which no known model does; fail loudly
		// rather than feed a misaligned tensor.
		panic(fmt.Sprintf("vision: crop %d does not fit a %dx%d resize", p.Crop, w, h))
	}
	rgb := imaging.ResizeCropRGB(img, w, h, crop)
	// A pixel has 256 possible values per channel: a table computed in
	// float64 gives each the float32 nearest the exact value, and costs
	// less than the arithmetic it replaces.
	var lut [3][256]float32
	for c := range 3 {
		for v := range 256 {
			lut[c][v] = float32((float64(v)*p.Scale - p.Mean[c]) / p.Std[c])
		}
	}
	plane := p.Crop * p.Crop
	dst = dst[:3*plane]
	for c := range 3 {
		src := c // output channel c takes R, G, B in order, or B, G, R
		if p.BGR {
			src = 2 - c
		}
		out := dst[c*plane : (c+1)*plane]
		for i := range out {
			out[i] = lut[c][rgb[i*3+src]]
		}
	}
}
