package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/pipeline"
	"github.com/scour-dev/scour/internal/project"
)

func newReportCmd(g *globals) *cobra.Command {
	var st pipeline.Report
	c := &cobra.Command{
		Use:   "report",
		Short: "Write one self-contained HTML page with the dataset and training charts",
		Long: `report writes report/index.html: images per class per stage, failures by
cause, quarantine by reason, sources and licenses, contact sheets of kept and
quarantined images, and for every training run the train vs validation
accuracy and loss per epoch, an overfitting verdict (with the thresholds it
used), the confusion matrix and the worst-classified test images; sweeps get
all variants overlaid and a ranking table. The page embeds everything and
opens from disk with no server. Every chart is also written as PNG and SVG
under report/charts/.`,
		Example: `  scour report
  scour report --rank-by gap --max-gap 0.05 -o /tmp/r`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ui := newUI(g)
			p, err := project.Open(ctx, g.dir)
			if err != nil {
				return err
			}
			defer p.Close()
			res, err := st.Do(ctx, p, ui)
			if err != nil {
				return err
			}
			return ui.result(res, func(w io.Writer) {
				fmt.Fprintf(w, "wrote %s (%d training runs); charts in %s\n", res.Page, res.Runs, res.Charts)
			})
		},
	}
	c.Flags().StringVarP(&st.Dir, "output", "o", "", "directory to write (default: report/ in the project)")
	c.Flags().StringVar(&st.RankBy, "rank-by", "val-accuracy", "rank sweep variants by val-accuracy or gap")
	c.Flags().Float64Var(&st.MaxGap, "max-gap", 0.10, "overfitting when the final train-val accuracy gap exceeds this")
	c.Flags().Float64Var(&st.MinAccuracy, "min-accuracy", 0.60, "underfitting when both final accuracies are below this")
	c.Flags().Float64Var(&st.MaxDrop, "max-drop", 0.05, "overfitting when validation accuracy ends this far below its peak")
	return c
}
