// Package train fits classifiers on a project's split: from-scratch CNNs
// (internal/nn) with Keras-style augmentation, sweeps over variants, and a
// transfer-learning head on pretrained embeddings. It writes per-epoch
// history as it goes, checkpoints every epoch so a killed run resumes, and
// saves the model as one versioned file.
package train

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/store"
)

// Example is one decoded, resized image and its label.
type Example struct {
	SHA256 string
	Label  int32
	Pixels []uint8 // Size x Size x 3, RGB, row-major (HWC)
}

// Data is what a run trains, validates and tests on. Pixels are kept as
// bytes (a quarter of float32's memory) and converted per batch.
type Data struct {
	Classes          []string
	Size             int // images are Size x Size
	Train, Val, Test []Example
	// Skipped lists images that could not be read or decoded, with why.
	Skipped []string
}

// Source names one image to load.
type Source struct {
	SHA256, Class, Key, Split string
}

// Load decodes and resizes every source in parallel. An image that fails to
// read or decode is skipped and listed in Data.Skipped rather than ending
// the run: one bad file must not cost a night of training.
func Load(ctx context.Context, st store.Store, classes []string, size int, srcs []Source, events progress.Sink) (Data, error) {
	idx := map[string]int32{}
	for i, c := range classes {
		idx[c] = int32(i)
	}
	d := Data{Classes: classes, Size: size}
	type slot struct {
		ex   Example
		set  string
		err  error
		skip bool
	}
	out := make([]slot, len(srcs))
	progress.Start(events, "load", int64(len(srcs)))
	defer progress.Finish(events, "load")
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				s := srcs[i]
				lab, ok := idx[s.Class]
				if !ok {
					out[i].skip = true
					continue
				}
				px, err := loadPixels(ctx, st, s.Key, size)
				out[i] = slot{ex: Example{SHA256: s.SHA256, Label: lab, Pixels: px}, set: s.Split, err: err}
				progress.Step(events, "load", 1)
			}
		}()
	}
	for i := range srcs {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Data{}, err
	}
	for i, o := range out {
		if o.skip {
			continue
		}
		if o.err != nil {
			d.Skipped = append(d.Skipped, fmt.Sprintf("%s (%s): %v", srcs[i].SHA256[:min(12, len(srcs[i].SHA256))], srcs[i].Class, o.err))
			continue
		}
		switch o.set {
		case "train":
			d.Train = append(d.Train, o.ex)
		case "val":
			d.Val = append(d.Val, o.ex)
		case "test":
			d.Test = append(d.Test, o.ex)
		}
	}
	return d, nil
}

func loadPixels(ctx context.Context, st store.Store, key string, size int) ([]uint8, error) {
	b, err := store.ReadAll(ctx, st, key, 0)
	if err != nil {
		return nil, err
	}
	img, _, err := imaging.Decode(b, imaging.Limits{})
	if err != nil {
		return nil, err
	}
	return imaging.ResizeRGB(img, size, size), nil
}

// Check says what makes data untrainable, in words a user can act on.
func (d Data) Check() error {
	if len(d.Classes) < 2 {
		return fmt.Errorf("need at least 2 classes to train a classifier, have %d", len(d.Classes))
	}
	if len(d.Train) == 0 {
		return fmt.Errorf("the train split is empty: run `scour split` (and check that gather kept images)")
	}
	if len(d.Val) == 0 {
		return fmt.Errorf("the validation split is empty: add images, or raise split.val in scour.yaml")
	}
	per := make([]int, len(d.Classes))
	for _, e := range d.Train {
		per[e.Label]++
	}
	for i, n := range per {
		if n == 0 {
			return fmt.Errorf("class %q has no training images: gather more, or remove it from scour.yaml", d.Classes[i])
		}
	}
	return nil
}
