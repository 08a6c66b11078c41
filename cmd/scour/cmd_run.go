package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/pipeline"
	"github.com/scour-dev/scour/internal/project"
)

func newRunCmd(g *globals) *cobra.Command {
	var o pipeline.RunOptions
	c := &cobra.Command{
		Use:   "run",
		Short: "Run the whole pipeline: gather, clean, split, train, report",
		Long: `run executes gather -> clean -> split -> train -> report. Train fits the
transfer-learning head (on clean's embeddings), train.model, and every variant
in train.sweep. A stage whose inputs did not change since it last finished is
skipped, so running it again after editing scour.yaml redoes only what the
edit affects. Ctrl-C stops cleanly; run it again to continue where it stopped.

A class's target counts clean images: when gather ran and clean left a class
short, run tops it up with more gather -> clean rounds (--rounds in all),
paging further into each search, until every class has its target, its
sources have nothing more, or a round brings nothing new. The summary and the
report say why a class fell short.`,
		Example: `  scour run
  scour run --from train     # redo training and the report only
  scour run --force          # redo every stage`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ui := newUI(g)
			p, err := project.Open(ctx, g.dir)
			if err != nil {
				return err
			}
			defer p.Close()
			o.Events = ui
			res, err := pipeline.Run(ctx, p, o)
			if perr := ui.result(res, func(w io.Writer) {
				for _, r := range res {
					switch {
					case r.Skipped:
						fmt.Fprintf(w, "%-7s skipped: %s\n", r.Stage, r.Why)
					case r.Round > 0:
						fmt.Fprintf(w, "%-7s done in %.1fs (top-up round %d)\n", r.Stage, r.Seconds, r.Round)
					default:
						if sum, ok := r.Summary.(pipeline.TopUpSummary); ok {
							printStandings(w, sum)
							continue
						}
						fmt.Fprintf(w, "%-7s done in %.1fs\n", r.Stage, r.Seconds)
					}
				}
			}); err == nil {
				err = perr
			}
			return err
		},
	}
	c.Flags().BoolVar(&o.Force, "force", false, "run every stage even if its inputs did not change")
	c.Flags().StringVar(&o.From, "from", "", "start at this stage (gather, clean, split, train, report)")
	c.Flags().IntVar(&o.Rounds, "rounds", pipeline.DefaultRounds, "at most this many gather -> clean rounds to reach the targets in clean images (1 = no top-up)")
	return c
}
