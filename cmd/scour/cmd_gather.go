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
		topUp     bool
		rounds    int
		labeler   string
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
reason (timeouts, 5xx, 429).

A class's target counts images that survive clean. With --top-up, gather runs
clean after itself and gathers again for the classes clean left short, paging
further into each search, for at most --rounds rounds (as scour run does);
without it, run clean and then gather --top-up to bring classes up.`,
		Example: `  scour gather                 # search, then download until each class reaches its target
  scour gather --skip-search   # only download candidates already in the catalog
  scour gather --json          # a JSON summary with counts by outcome and cause
  scour gather --top-up        # gather -> clean rounds until each class has its target in clean images`,
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
			if topUp {
				t := pipeline.TopUp{Rounds: rounds, Gather: st, Clean: pipeline.Clean{Labeler: labeler}}
				sum, err := t.Do(ctx, p, ui)
				if perr := ui.result(sum, func(w io.Writer) {
					for _, r := range sum.Rounds {
						fmt.Fprintf(w, "round %d:\n", r.Round)
						if r.Gather != nil {
							printGatherSummary(w, *r.Gather)
						}
						if r.Clean != nil {
							fmt.Fprintf(w, "clean: %d kept, %d quarantined\n", r.Clean.Kept, r.Clean.Quarantined)
						}
					}
					printStandings(w, sum)
				}); perr != nil && err == nil {
					err = perr
				}
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
	c.Flags().BoolVar(&topUp, "top-up", false, "clean after gathering and gather again until each class has its target in clean images")
	c.Flags().IntVar(&rounds, "rounds", pipeline.DefaultRounds, "with --top-up: at most this many gather -> clean rounds")
	c.Flags().StringVar(&labeler, "labeler", "local", "with --top-up: clean's recognizer (local, rekognition, vision or none)")
	return c
}

// printStandings says where each class with a target ended, and why a
// short one is short.
func printStandings(w io.Writer, s pipeline.TopUpSummary) {
	for _, c := range s.Classes {
		if c.Why == "" {
			fmt.Fprintf(w, "class %-16s %d/%d clean images\n", c.Class, c.Kept, c.Target)
		} else {
			fmt.Fprintf(w, "class %-16s %d/%d clean images: %s\n", c.Class, c.Kept, c.Target, c.Why)
		}
	}
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
