package pipeline

import (
	"context"
	"fmt"
	"os"

	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/train"
)

// Prediction is one file's class, or why it could not be classified.
type Prediction struct {
	File       string             `json:"file"`
	Class      string             `json:"class,omitempty"`
	Confidence float64            `json:"confidence,omitempty"`
	Scores     map[string]float64 `json:"scores,omitempty"`
	Error      string             `json:"error,omitempty"`
}

// Predict classifies image files with a model file written by train. A
// file that cannot be read or classified is named with its error and the
// others are still classified; the error then says how many failed. The
// predictions are nil only when the model could not be loaded.
func Predict(ctx context.Context, model string, files []string) ([]Prediction, error) {
	pr, err := train.LoadPredictor(ctx, model)
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	out := make([]Prediction, 0, len(files))
	failed := 0
	for _, f := range files {
		p, err := predictFile(pr, f)
		if err != nil {
			p.Error = err.Error()
			failed++
		}
		out = append(out, p)
	}
	if failed > 0 {
		return out, fmt.Errorf("%d of %d images could not be classified", failed, len(files))
	}
	return out, nil
}

func predictFile(pr *train.Predictor, file string) (Prediction, error) {
	p := Prediction{File: file}
	b, err := os.ReadFile(file)
	if err != nil {
		return p, err
	}
	img, _, err := imaging.Decode(b, imaging.Limits{})
	if err != nil {
		return p, err
	}
	probs, err := pr.Predict(img)
	if err != nil {
		return p, err
	}
	classes := pr.Meta.Classes
	p.Scores = map[string]float64{}
	best := 0
	for i, v := range probs {
		p.Scores[classes[i]] = float64(v)
		if v > probs[best] {
			best = i
		}
	}
	p.Class, p.Confidence = classes[best], float64(probs[best])
	return p, nil
}
