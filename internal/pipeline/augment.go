package pipeline

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"

	"github.com/scour-dev/scour/internal/atomicfile"
	"github.com/scour-dev/scour/internal/augment"
	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/project"
	"github.com/scour-dev/scour/internal/store"
)

// AugmentPreview draws a grid of augmented samples of a few kept images:
// one row per image, the original first, then samples drawn as training
// draws them.
type AugmentPreview struct {
	File    string // PNG file to write
	Params  string // Keras ImageDataGenerator arguments ("" = train.augment)
	Images  int    // how many images
	Samples int    // augmented samples per image
	Seed    int64
}

// AugmentPreviewResult names the file written and the settings drawn with.
type AugmentPreviewResult struct {
	Params  string `json:"params"`
	Preview string `json:"preview"`
}

var errEnough = errors.New("enough images")

// Do writes the preview grid.
func (a AugmentPreview) Do(ctx context.Context, p *project.Project) (AugmentPreviewResult, error) {
	text := p.Config.Train.Augment
	if a.Params != "" {
		text = a.Params
	}
	ap, err := augment.ParseParams(text)
	if err != nil {
		return AugmentPreviewResult{}, configErr("augment %q: %v", text, err)
	}
	var imgs []image.Image
	err = p.Catalog.ForEachImage(ctx, catalog.ImageFilter{Status: catalog.StatusKept}, func(im catalog.Image) error {
		if len(imgs) >= a.Images {
			return errEnough
		}
		b, err := store.ReadAll(ctx, p.Store, im.Key, 0)
		if err != nil {
			return nil
		}
		img, _, err := imaging.Decode(b, imaging.Limits{})
		if err != nil {
			return nil
		}
		// Shrink to the training size: that is what augmentation sees.
		sz := p.Config.Train.InputSize
		imgs = append(imgs, imaging.ResizeRGBA(img, sz, sz))
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return AugmentPreviewResult{}, err
	}
	if len(imgs) == 0 {
		return AugmentPreviewResult{}, fmt.Errorf("no kept images to preview: run gather first")
	}
	grid := augment.PreviewGrid(imgs, ap, a.Seed, a.Samples)
	if err := atomicfile.Write(a.File, func(w io.Writer) error { return png.Encode(w, grid) }); err != nil {
		return AugmentPreviewResult{}, err
	}
	return AugmentPreviewResult{Preview: a.File, Params: ap.String()}, nil
}
