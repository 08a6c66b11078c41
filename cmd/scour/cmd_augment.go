package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/pipeline"
	"github.com/scour-dev/scour/internal/project"
)

func newAugmentCmd(g *globals) *cobra.Command {
	var st pipeline.AugmentPreview
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
			if st.File == "" {
				return usagef("--preview FILE.png is required")
			}
			p, err := project.Open(ctx, g.dir)
			if err != nil {
				return err
			}
			defer p.Close()
			res, err := st.Do(ctx, p)
			if err != nil {
				return err
			}
			return newUI(g).result(res, func(w io.Writer) {
				fmt.Fprintf(w, "wrote %s (%s)\n", res.Preview, res.Params)
			})
		},
	}
	c.Flags().StringVar(&st.File, "preview", "", "PNG file to write")
	c.Flags().StringVar(&st.Params, "params", "", "Keras ImageDataGenerator arguments (default: train.augment)")
	c.Flags().IntVar(&st.Images, "images", 4, "how many images")
	c.Flags().IntVar(&st.Samples, "samples", 6, "augmented samples per image")
	c.Flags().Int64Var(&st.Seed, "seed", 1, "random seed")
	return c
}
