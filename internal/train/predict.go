package train

import (
	"context"
	"fmt"
	"image"

	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/vision"
)

// EmbeddingModel names the embeddings clean caches with the local labeler,
// the inputs a transfer-learning head is trained on and predicts from.
func EmbeddingModel() string { return "local/" + vision.MobileNetV2().Name }

// cnnPreprocess is how a CNN turns pixels into inputs (see tensors); a
// model file that says otherwise was written by another scour.
const cnnPreprocess = "rgb/255"

// Predictor classifies decoded images with a model file written by Run or
// RunHead, preparing each image exactly as training prepared its inputs.
type Predictor struct {
	Meta  Meta
	probs func(image.Image) ([]float32, error)
	close func()
}

// Predict returns the class probabilities of img, in Meta.Classes order.
func (p *Predictor) Predict(img image.Image) ([]float32, error) { return p.probs(img) }

// Close releases the recognizer a head predictor runs.
func (p *Predictor) Close() {
	if p.close != nil {
		p.close()
	}
}

// LoadPredictor opens a model file of either kind: a CNN sees the image
// resized to its input size and scaled as in training; a head sees the
// MobileNetV2 embedding that clean would cache for it.
func LoadPredictor(ctx context.Context, path string) (*Predictor, error) {
	meta, _, err := ReadModelFile(path)
	if err != nil {
		return nil, err
	}
	switch meta.Kind {
	case "cnn":
		meta, m, err := LoadCNN(path)
		if err != nil {
			return nil, err
		}
		if meta.Preprocess != cnnPreprocess {
			return nil, fmt.Errorf("%s expects inputs prepared as %q; this scour prepares %q", path, meta.Preprocess, cnnPreprocess)
		}
		return &Predictor{Meta: meta, probs: func(img image.Image) ([]float32, error) {
			x, _ := tensors([]Example{{Pixels: imaging.ResizeRGB(img, meta.Size, meta.Size)}}, meta.Size)
			return m.Predict(x, 1)
		}}, nil
	case "head":
		meta, h, err := LoadHead(path)
		if err != nil {
			return nil, err
		}
		if meta.Preprocess != EmbeddingModel() {
			return nil, fmt.Errorf("%s was trained on %s embeddings; this scour computes %s", path, meta.Preprocess, EmbeddingModel())
		}
		lab, err := vision.NewLocal(vision.MobileNetV2(), vision.LocalOptions{})
		if err != nil {
			return nil, err
		}
		return &Predictor{Meta: meta, probs: func(img image.Image) ([]float32, error) {
			rs, err := lab.Label(ctx, []image.Image{img})
			if err != nil {
				return nil, err
			}
			if rs[0].Err != nil {
				return nil, rs[0].Err
			}
			return h.Probs(rs[0].Embedding), nil
		}, close: func() { lab.Close() }}, nil
	}
	return nil, fmt.Errorf("%s: unknown model kind %q", path, meta.Kind)
}
