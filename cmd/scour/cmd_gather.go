package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/pipeline"
	"github.com/scour-dev/scour/internal/project"
)

func newGatherCmd(g *globals) *cobra.Command {
	var (
		st        pipeline.Gather
		shardFlag string
		shards    int
	)
	c := &cobra.Command{
		Use:   "gather",
		Short: "Search the configured sources and download images",
		Long: `gather asks each source in scour.yaml for images of each class, records every
candidate URL in the catalog, and downloads them politely: a few at a time per
host, honouring 429/503 Retry-After, retrying only what may succeed later. Each
download is checked (content sniffed, fully decoded, size limits) and stored
under a name made from its content hash, so duplicates are stored once.

gather is resumable: stop it at any moment (Ctrl-C, a crash, a reboot) and run
it again; it skips what is done and retries only what failed for a passing
reason (timeouts, 5xx, 429).`,
		Example: `  scour gather                 # search, then download until each class reaches its target
  scour gather --skip-search   # only download candidates already in the catalog
  scour gather --json          # a JSON summary with counts by outcome and cause`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ui := newUI(g)
			p, err := project.Open(ctx, g.dir)
			if err != nil {
				return err
			}
			defer p.Close()
			if st.Shard, err = pipeline.ParseShard(shardFlag, shards); err != nil {
				return err
			}
			sum, err := st.Do(ctx, p, ui)
			if sum == nil {
				return err
			}
			if perr := ui.result(sum, func(w io.Writer) { printGatherSummary(w, *sum) }); perr != nil && err == nil {
				err = perr
			}
			return err
		},
	}
	c.Flags().BoolVar(&st.SkipSearch, "skip-search", false, "do not search; only download candidates already in the catalog")
	c.Flags().BoolVar(&st.NoRetry, "no-retry", false, "do not retry URLs that failed for a retryable reason in earlier runs")
	c.Flags().StringVar(&shardFlag, "shard", "", "run as shard k of N (0-based), e.g. 3/16: only this shard's part of the work, with its own catalog in the store (see merge)")
	c.Flags().IntVar(&shards, "shards", 0, "run as one of N shards, the index taken from JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs)")
	c.Flags().StringSliceVar(&st.Only, "class", nil, "gather only these classes (repeatable)")
	return c
}

func printGatherSummary(w io.Writer, s pipeline.GatherSummary) {
	fmt.Fprintf(w, "searched %d queries, %d new candidate URLs\n", s.Searched, s.Candidates)
	fmt.Fprintf(w, "fetched %d: %d kept, %d duplicates, %d failed\n", s.Fetched, s.Kept, s.Duplicates, s.Failed)
	for _, c := range pipeline.SortedCauses(s.ByCause) {
		fmt.Fprintf(w, "  %-20s %d\n", c, s.ByCause[c])
	}
	names := make([]string, 0, len(s.PerClass))
	for n := range s.PerClass {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		c := s.PerClass[name]
		if c.Target > 0 {
			fmt.Fprintf(w, "class %-16s %d/%d kept (%d URLs known)\n", name, c.Kept, c.Target, c.URLs)
		} else {
			fmt.Fprintf(w, "class %-16s %d kept (%d URLs known)\n", name, c.Kept, c.URLs)
		}
	}
	printSearches(w, s.Queries)
}

// printSearches shows what each search brought, so that the query that
// brings garbage stands out.
func printSearches(w io.Writer, qs []pipeline.QueryStats) {
	if len(qs) == 0 {
		return
	}
	worst := pipeline.WorstQuery(qs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "search\tclass\tfound\tdownloaded\tkept\tkept after clean\t")
	for i, q := range qs {
		label := q.Engine
		if q.Query != "" {
			label += " " + strconv.Quote(q.Query)
		}
		mark := ""
		if i == worst {
			mark = "  <- fewest kept per URL found"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", label, q.Class, q.Found, q.Downloaded, q.Kept, q.CleanKept, mark)
	}
	tw.Flush()
}
