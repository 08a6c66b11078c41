package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/pipeline"
	"github.com/scour-dev/scour/internal/project"
)

func newMergeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "merge",
		Short: "Fold the catalogs of finished shards into the project catalog",
		Long: `merge reads the shard catalogs under catalogs/ in the store (each a manifest
and segments of pages, shard-*-of-*.manifest, or a whole shard-*-of-*.db from
an older scour), takes those whose shard has finished (a .done mark beside
it), and folds them into scour.db: URL rows
as the shard recorded them, images by content hash (the same bytes fetched by
two shards are one image, as in a single run). It is idempotent and safe to
run while shards are still working: it takes only finished shards, skips
those merged before and unchanged since, and can be run again any time.

Near-duplicate and off-topic cleaning need the whole class: run clean after
the last merge.`,
		Example: `  scour merge
  scour merge --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ui := newUI(g)
			p, err := project.Open(ctx, g.dir)
			if err != nil {
				return err
			}
			defer p.Close()
			sum, err := pipeline.Merge(ctx, p)
			if err != nil {
				return err
			}
			return ui.result(sum, func(w io.Writer) {
				fmt.Fprintf(w, "merged %d shard catalogs (%d unchanged, %d not finished): %d URL rows, %d new images, %d cross-shard duplicates\n",
					len(sum.Merged), len(sum.Skipped), len(sum.Pending), sum.URLs, sum.Images, sum.Dups)
				for _, n := range sum.Pending {
					fmt.Fprintf(w, "  not finished: %s\n", n)
				}
			})
		},
	}
}
