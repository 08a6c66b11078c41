package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/pipeline"
	"github.com/scour-dev/scour/internal/project"
	"github.com/scour-dev/scour/internal/report"
)

func newReportCmd(g *globals) *cobra.Command {
	var (
		out, rankBy             string
		maxGap, minAcc, maxDrop float64
	)
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
			rb, err := report.ParseRankBy(rankBy)
			if err != nil {
				return usagef("%v", err)
			}
			r, err := pipeline.BuildReport(ctx, p)
			if err != nil {
				return err
			}
			r.RankBy = rb
			r.Thresholds = report.Thresholds{MaxGap: maxGap, MinAccuracy: minAcc, MaxDrop: maxDrop}
			dir := out
			if dir == "" {
				dir = filepath.Join(p.Dir, "report")
			}
			if err := report.Write(dir, r); err != nil {
				return err
			}
			page := filepath.Join(dir, "index.html")
			return ui.result(map[string]any{"report": page, "runs": len(r.Sweep.Runs)}, func(w io.Writer) {
				fmt.Fprintf(w, "wrote %s (%d training runs); charts in %s\n", page, len(r.Sweep.Runs), filepath.Join(dir, "charts"))
			})
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "directory to write (default: report/ in the project)")
	c.Flags().StringVar(&rankBy, "rank-by", "val-accuracy", "rank sweep variants by val-accuracy or gap")
	c.Flags().Float64Var(&maxGap, "max-gap", 0.10, "overfitting when the final train-val accuracy gap exceeds this")
	c.Flags().Float64Var(&minAcc, "min-accuracy", 0.60, "underfitting when both final accuracies are below this")
	c.Flags().Float64Var(&maxDrop, "max-drop", 0.05, "overfitting when validation accuracy ends this far below its peak")
	return c
}
