package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/augment"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/nn"
	"github.com/scour-dev/scour/internal/pipeline"
	"github.com/scour-dev/scour/internal/project"
	"github.com/scour-dev/scour/internal/train"
	"github.com/scour-dev/scour/internal/vision"
	"image"
)

// trainFlags override scour.yaml's train section.
type trainFlags struct {
	model   string
	epochs  int
	batch   int
	lr      float64
	augment string
	name    string
}

func (f *trainFlags) register(c *cobra.Command, withModel bool) {
	if withModel {
		c.Flags().StringVar(&f.model, "model", "", `CNN spec, e.g. "32-64-128/d2" or "conv=32,64,128 dropout=2 dense=128" (default: train.model)`)
		c.Flags().StringVar(&f.name, "name", "", "run name: the folder under runs/ (default: from the spec)")
	}
	c.Flags().IntVar(&f.epochs, "epochs", 0, "epochs (default: train.epochs)")
	c.Flags().IntVar(&f.batch, "batch", 0, "batch size (default: train.batch)")
	c.Flags().Float64Var(&f.lr, "lr", 0, "learning rate (default: train.lr)")
	c.Flags().StringVar(&f.augment, "augment", "", `Keras ImageDataGenerator arguments, e.g. "zoom_range=0.2, horizontal_flip=True"; "none" for none`)
}

// config is train.model's or a sweep variant's run settings from
// scour.yaml, with the flags' overrides.
func (f *trainFlags) config(p *project.Project, spec string) (train.Config, error) {
	if _, err := nn.ParseSpec(spec); err != nil {
		return train.Config{}, usagef("%v", err)
	}
	c, err := pipeline.TrainConfig(p, spec)
	if err != nil {
		return c, err
	}
	if f.epochs > 0 {
		c.Epochs = f.epochs
	}
	if f.batch > 0 {
		c.Batch = f.batch
	}
	if f.lr > 0 {
		c.LR = f.lr
	}
	switch f.augment {
	case "":
	case "none":
		c.Augment = augment.Params{}
	default:
		a, err := augment.ParseParams(f.augment)
		if err != nil {
			return c, usagef("--augment %q: %v", f.augment, err)
		}
		c.Augment = a
	}
	return c, nil
}

func newTrainCmd(g *globals) *cobra.Command {
	var f trainFlags
	var head bool
	var hidden int
	c := &cobra.Command{
		Use:   "train",
		Short: "Train a CNN from scratch on the split",
		Long: `train fits one CNN (train.model in scour.yaml, or --model) on the train set,
with Keras-style augmentation of training batches, and measures loss and
accuracy on the validation set after every epoch. History is written as it
happens to runs/<name>/history.csv and .json; the best epoch's weights (lowest
validation loss) are kept in runs/<name>/best.scour, the file predict reads.

A killed or interrupted run resumes where it stopped when run again with the
same settings. Early stopping (train.patience) ends a run that stopped
improving.

--head trains a transfer-learning head instead: softmax regression (or with
--hidden N a small MLP) on the MobileNetV2 embeddings that clean computed and
cached for every image. It takes seconds, and on small datasets usually beats
the CNNs trained from scratch by a wide margin; compare them in the report.`,
		Example: `  scour train
  scour train --model 32-64-128/d2 --epochs 30
  scour train --augment "rotation_range=15, zoom_range=0.2, horizontal_flip=True"
  scour train --head             # transfer learning on clean's embeddings`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ui := newUI(g)
			p, err := project.Open(ctx, g.dir)
			if err != nil {
				return err
			}
			defer p.Close()
			if head {
				res, err := pipeline.TrainHead(ctx, p, hidden, f.epochs, ui)
				if err != nil {
					return err
				}
				return ui.result(res, func(w io.Writer) { printRun(w, res) })
			}
			spec := p.Config.Train.Model
			if f.model != "" {
				spec = f.model
			}
			cfg, err := f.config(p, spec)
			if err != nil {
				return err
			}
			if f.name != "" {
				cfg.Name = f.name
			}
			d, err := pipeline.LoadData(ctx, p, ui)
			if err != nil {
				return err
			}
			res, err := train.Run(ctx, d, cfg, filepath.Join(p.Dir, "runs", cfg.Name), ui)
			if err != nil {
				return err
			}
			return ui.result(res, func(w io.Writer) { printRun(w, res) })
		},
	}
	f.register(c, true)
	c.Flags().BoolVar(&head, "head", false, "train a transfer-learning head on clean's cached embeddings")
	c.Flags().IntVar(&hidden, "hidden", 0, "with --head: hidden units of an MLP head (0 = softmax regression)")
	return c
}

func printRun(w io.Writer, r train.Result) {
	b, fin := r.Best(), r.Final()
	fmt.Fprintf(w, "%s (%s, %d parameters): best epoch %d of %d, val acc %.3f (train %.3f)\n", r.Name, r.Spec, r.Params, r.BestEpoch, len(r.History), b.ValAcc, b.TrainAcc)
	fmt.Fprintf(w, "  final epoch gap (train - val accuracy): %+.3f\n", fin.TrainAcc-fin.ValAcc)
	if r.TestN > 0 {
		fmt.Fprintf(w, "  test accuracy %.3f on %d images\n", r.TestAcc, r.TestN)
	}
	fmt.Fprintf(w, "  model: %s\n", r.ModelPath)
}

func newSweepCmd(g *globals) *cobra.Command {
	var f trainFlags
	var variants []string
	c := &cobra.Command{
		Use:   "sweep",
		Short: "Train several CNN variants and rank them",
		Long: `sweep trains each variant in train.sweep (default: the original four
experiments: 32-64-128 and 32-64 filters, each with 1 and 2 dropout layers) on
the same data, then ranks them by validation accuracy and by overfitting gap
(final-epoch train accuracy minus validation accuracy). Each variant is an
ordinary run under runs/, so an interrupted sweep resumes.`,
		Example: `  scour sweep
  scour sweep --variant 32-64-128/d1 --variant 16-32-64/d2 --epochs 10`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ui := newUI(g)
			p, err := project.Open(ctx, g.dir)
			if err != nil {
				return err
			}
			defer p.Close()
			vs := p.Config.Train.Sweep
			if len(vs) == 0 {
				vs = defaultSweep
			}
			if len(variants) > 0 {
				vs = variants
			}
			var cfgs []train.Config
			for _, v := range vs {
				cfg, err := f.config(p, v)
				if err != nil {
					return err
				}
				cfgs = append(cfgs, cfg)
			}
			d, err := pipeline.LoadData(ctx, p, ui)
			if err != nil {
				return err
			}
			var results []train.Result
			for _, cfg := range cfgs {
				res, err := train.Run(ctx, d, cfg, filepath.Join(p.Dir, "runs", cfg.Name), ui)
				if err != nil {
					return fmt.Errorf("variant %s: %w", cfg.Spec, err)
				}
				results = append(results, res)
			}
			js, _ := json.MarshalIndent(results, "", "  ")
			if err := os.WriteFile(filepath.Join(p.Dir, "runs", "sweep.json"), js, 0o644); err != nil {
				return err
			}
			return ui.result(results, func(w io.Writer) { printSweep(w, results) })
		},
	}
	f.register(c, false)
	c.Flags().StringArrayVar(&variants, "variant", nil, "a variant's spec (repeatable; default: train.sweep)")
	return c
}

// defaultSweep is the original experiments: 32-64-128 and 32-64 filters,
// each with one and two dropout layers.
var defaultSweep = []string{"32-64-128/d1", "32-64-128/d2", "32-64/d1", "32-64/d2"}

func printSweep(w io.Writer, rs []train.Result) {
	sorted := append([]train.Result(nil), rs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Best().ValAcc > sorted[j].Best().ValAcc })
	fmt.Fprintf(w, "%-4s %-22s %9s %9s %8s %10s %9s\n", "rank", "variant", "val acc", "test acc", "gap", "params", "s/epoch")
	for i, r := range sorted {
		fin := r.Final()
		var sec float64
		for _, e := range r.History {
			sec += e.Seconds
		}
		if len(r.History) > 0 {
			sec /= float64(len(r.History))
		}
		fmt.Fprintf(w, "%-4d %-22s %9.3f %9.3f %+8.3f %10d %9.1f\n", i+1, r.Spec, r.Best().ValAcc, r.TestAcc, fin.TrainAcc-fin.ValAcc, r.Params, sec)
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		gi, gj := sorted[i].Final().TrainAcc-sorted[i].Final().ValAcc, sorted[j].Final().TrainAcc-sorted[j].Final().ValAcc
		return gi < gj
	})
	fmt.Fprintf(w, "smallest overfitting gap: %s\n", sorted[0].Spec)
}

func newPredictCmd(g *globals) *cobra.Command {
	var model string
	c := &cobra.Command{
		Use:   "predict IMAGE...",
		Short: "Classify images with a trained model",
		Example: `  scour predict --model runs/32-64-128_d1/best.scour photo.jpg
  scour predict --model best.scour --json *.jpg`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ui := newUI(g)
			if model == "" {
				return usagef("--model is required: a .scour file written by train (runs/<name>/best.scour)")
			}
			meta, classify, closeFn, err := loadClassifier(cmd.Context(), model)
			if err != nil {
				return err
			}
			defer closeFn()
			type pred struct {
				File       string             `json:"file"`
				Class      string             `json:"class,omitempty"`
				Confidence float64            `json:"confidence,omitempty"`
				Scores     map[string]float64 `json:"scores,omitempty"`
				Error      string             `json:"error,omitempty"`
			}
			var out []pred
			failed := 0
			for _, f := range args {
				pr := pred{File: f}
				b, err := os.ReadFile(f)
				if err == nil {
					var img image.Image
					img, _, err = imaging.Decode(b, imaging.Limits{})
					if err == nil {
						var probs []float32
						probs, err = classify(img)
						if err == nil {
							pr.Scores = map[string]float64{}
							best := 0
							for i, v := range probs {
								pr.Scores[meta.Classes[i]] = float64(v)
								if v > probs[best] {
									best = i
								}
							}
							pr.Class, pr.Confidence = meta.Classes[best], float64(probs[best])
						}
					}
				}
				if err != nil {
					pr.Error = err.Error()
					failed++
				}
				out = append(out, pr)
			}
			err = ui.result(out, func(w io.Writer) {
				for _, p := range out {
					if p.Error != "" {
						fmt.Fprintf(w, "%s\terror: %s\n", p.File, p.Error)
					} else {
						fmt.Fprintf(w, "%s\t%s\t%.3f\n", p.File, p.Class, p.Confidence)
					}
				}
			})
			if err == nil && failed > 0 {
				err = fmt.Errorf("%d of %d images could not be classified", failed, len(args))
			}
			return err
		},
	}
	c.Flags().StringVar(&model, "model", "", "model file written by train")
	return c
}

// loadClassifier opens a model file of either kind and returns a function
// from a decoded image to class probabilities.
func loadClassifier(ctx context.Context, path string) (train.Meta, func(image.Image) ([]float32, error), func(), error) {
	meta, _, err := train.ReadModelFile(path)
	if err != nil {
		return meta, nil, nil, err
	}
	switch meta.Kind {
	case "cnn":
		meta, m, err := train.LoadCNN(path)
		if err != nil {
			return meta, nil, nil, err
		}
		return meta, func(img image.Image) ([]float32, error) {
			px := imaging.ResizeRGB(img, meta.Size, meta.Size)
			x := make([]float32, len(px))
			for i, v := range px {
				x[i] = float32(v) / 255
			}
			return m.Predict(x, 1)
		}, func() {}, nil
	case "head":
		meta, h, err := train.LoadHead(path)
		if err != nil {
			return meta, nil, nil, err
		}
		if meta.Preprocess != pipeline.EmbeddingModel() {
			return meta, nil, nil, fmt.Errorf("%s was trained on %s embeddings; this scour computes %s", path, meta.Preprocess, pipeline.EmbeddingModel())
		}
		lab, err := vision.NewLocal(vision.MobileNetV2(), vision.LocalOptions{})
		if err != nil {
			return meta, nil, nil, err
		}
		return meta, func(img image.Image) ([]float32, error) {
			rs, err := lab.Label(ctx, []image.Image{img})
			if err != nil {
				return nil, err
			}
			if rs[0].Err != nil {
				return nil, rs[0].Err
			}
			return h.Probs(rs[0].Embedding), nil
		}, func() { lab.Close() }, nil
	}
	return meta, nil, nil, fmt.Errorf("%s: unknown model kind %q", path, meta.Kind)
}
