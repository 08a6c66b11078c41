package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/pipeline"
	"github.com/scour-dev/scour/internal/project"
)

func newSplitCmd(g *globals) *cobra.Command {
	var (
		st   pipeline.Split
		seed int64
	)
	c := &cobra.Command{
		Use:   "split",
		Short: "Divide kept images into train, validation and test sets",
		Long: `split assigns every kept image to train, val or test: stratified per class,
reproducible from a seed, and leakage-safe: images that clean found to be
near-duplicates of each other always land in the same set. The fractions and
seed come from scour.yaml (split: train/val/test/seed); the result is stored in
the catalog, and --export also writes the usual folder layout
DIR/{train,val,test}/<class>/ that Keras and PyTorch loaders read.`,
		Example: `  scour split
  scour split --seed 7 --export dataset/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ui := newUI(g)
			p, err := project.Open(ctx, g.dir)
			if err != nil {
				return err
			}
			defer p.Close()
			if cmd.Flags().Changed("seed") {
				st.Seed = &seed
			}
			sum, err := st.Do(ctx, p, ui)
			if err != nil {
				return err
			}
			return ui.result(sum, func(w io.Writer) { printSplit(w, sum, st.Export) })
		},
	}
	c.Flags().StringVar(&st.Export, "export", "", "also write DIR/{train,val,test}/<class>/ image folders")
	c.Flags().Int64Var(&seed, "seed", 0, "override scour.yaml's split.seed")
	return c
}

func printSplit(w io.Writer, s pipeline.SplitSummary, export string) {
	classes := make([]string, 0, len(s.Counts))
	for c := range s.Counts {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	fmt.Fprintf(w, "%-20s %7s %7s %7s\n", "class", "train", "val", "test")
	for _, c := range classes {
		n := s.Counts[c]
		fmt.Fprintf(w, "%-20s %7d %7d %7d\n", c, n[pipeline.SetTrain], n[pipeline.SetVal], n[pipeline.SetTest])
	}
	fmt.Fprintf(w, "seed %d; %d near-duplicate groups kept on one side each\n", s.Seed, s.Groups)
	if export != "" {
		fmt.Fprintf(w, "exported to %s/{train,val,test}/<class>/\n", export)
	}
}
