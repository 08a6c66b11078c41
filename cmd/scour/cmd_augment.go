package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/augment"
	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/project"
)

func newAugmentCmd(g *globals) *cobra.Command {
	var (
		preview, params string
		images, samples int
		seed            int64
	)
	c := &cobra.Command{
		Use:   "augment --preview FILE.png",
		Short: "Preview the training augmentation on a few kept images",
		Long: `augment --preview writes a grid: one row per image, the original first, then
augmented samples drawn as training will draw them (Keras 3's legacy
ImageDataGenerator semantics). The settings are train.augment in scour.yaml,
or --params in the same Keras argument syntax.`,
		Example: `  scour augment --preview aug.png
  scour augment --preview aug.png --params "rotation_range=30, shear_range=0.2, zoom_range=0.2, horizontal_flip=True"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if preview == "" {
				return usagef("--preview FILE.png is required")
			}
			p, err := project.Open(ctx, g.dir)
			if err != nil {
				return err
			}
			defer p.Close()
			text := p.Config.Train.Augment
			if params != "" {
				text = params
			}
			ap, err := augment.ParseParams(text)
			if err != nil {
				return usagef("augment %q: %v", text, err)
			}
			var imgs []image.Image
			err = p.Catalog.ForEachImage(ctx, catalog.ImageFilter{Status: catalog.StatusKept}, func(im catalog.Image) error {
				if len(imgs) >= images {
					return errStop
				}
				b, err := readAll(ctx, p, im.Key)
				if err != nil {
					return nil
				}
				img, _, err := imaging.Decode(b, imaging.Limits{})
				if err != nil {
					return nil
				}
				// Shrink to the training size: that is what augmentation sees.
				sz := p.Config.Train.InputSize
				imgs = append(imgs, rgbImage(imaging.ResizeRGB(img, sz, sz), sz))
				return nil
			})
			if err != nil && err != errStop {
				return err
			}
			if len(imgs) == 0 {
				return fmt.Errorf("no kept images to preview: run gather first")
			}
			grid := augment.PreviewGrid(imgs, ap, seed, samples)
			f, err := os.Create(preview)
			if err != nil {
				return err
			}
			if err := png.Encode(f, grid); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			return newUI(g).result(map[string]string{"preview": preview, "params": ap.String()}, func(w io.Writer) {
				fmt.Fprintf(w, "wrote %s (%s)\n", preview, ap.String())
			})
		},
	}
	c.Flags().StringVar(&preview, "preview", "", "PNG file to write")
	c.Flags().StringVar(&params, "params", "", "Keras ImageDataGenerator arguments (default: train.augment)")
	c.Flags().IntVar(&images, "images", 4, "how many images")
	c.Flags().IntVar(&samples, "samples", 6, "augmented samples per image")
	c.Flags().Int64Var(&seed, "seed", 1, "random seed")
	return c
}

var errStop = errors.New("stop")

func readAll(ctx context.Context, p *project.Project, key string) ([]byte, error) {
	r, err := p.Store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// rgbImage wraps HWC RGB bytes as an image.
func rgbImage(px []uint8, size int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for i := 0; i < size*size; i++ {
		copy(img.Pix[i*4:i*4+3], px[i*3:i*3+3])
		img.Pix[i*4+3] = 255
	}
	return img
}
