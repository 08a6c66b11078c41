package main

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/gather"
	"github.com/scour-dev/scour/internal/pipeline"
	"github.com/scour-dev/scour/internal/project"
	"github.com/scour-dev/scour/internal/shard"
)

func newGatherCmd(g *globals) *cobra.Command {
	var (
		skipSearch bool
		noRetry    bool
		shardFlag  string
		shards     int
		classes    []string
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
			opts, err := pipeline.GatherOptions(p, classes)
			if err != nil {
				return err
			}
			opts.SkipSearch = skipSearch
			if noRetry {
				opts.RetryFailed = false
			}
			if opts.Shard, err = shardSpec(shardFlag, shards); err != nil {
				return err
			}
			cat := p.Catalog
			var sess *shard.Session
			if opts.Shard.Enabled() {
				if sess, err = shard.Start(ctx, p.Store, opts.Shard, p.Dir); err != nil {
					return err
				}
				defer sess.Close(ctx)
				cat = sess.Catalog
			}
			gt := &gather.Gatherer{Cat: cat, Store: p.Store, Fetcher: pipeline.NewFetcher(p.Config.Fetch), Events: ui}
			sum, err := gt.Run(ctx, opts)
			if err == nil && sess != nil {
				err = sess.Finish(ctx, sum)
			}
			if perr := ui.result(sum, func(w io.Writer) { printGatherSummary(w, sum) }); perr != nil && err == nil {
				err = perr
			}
			if err != nil {
				return err
			}
			if sess != nil {
				return nil
			}
			return leftover(cmd.Context(), p, sum)
		},
	}
	c.Flags().BoolVar(&skipSearch, "skip-search", false, "do not search; only download candidates already in the catalog")
	c.Flags().BoolVar(&noRetry, "no-retry", false, "do not retry URLs that failed for a retryable reason in earlier runs")
	c.Flags().StringVar(&shardFlag, "shard", "", "run as shard k of N (0-based), e.g. 3/16: only this shard's part of the work, with its own catalog in the store (see merge)")
	c.Flags().IntVar(&shards, "shards", 0, "run as one of N shards, the index taken from JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs)")
	c.Flags().StringSliceVar(&classes, "class", nil, "gather only these classes (repeatable)")
	return c
}

// leftover reports, as a partial success, classes short of their target
// while some URLs failed for a passing reason: running gather again may help.
func leftover(ctx context.Context, p *project.Project, sum gather.Summary) error {
	short := 0
	for _, c := range sum.PerClass {
		if c.Target > 0 && c.Kept < c.Target {
			short++
		}
	}
	if short == 0 {
		return nil
	}
	n, err := p.Catalog.CountRetryable(ctx)
	if err != nil || n == 0 {
		return err
	}
	return partialError{fmt.Errorf("%d class(es) below target and %d URLs failed for a passing reason (timeouts, 5xx, 429): run gather again later to retry them", short, n)}
}

// shardSpec reads --shard k/N or --shards N (with JOB_COMPLETION_INDEX).
func shardSpec(flag string, n int) (shard.Spec, error) {
	switch {
	case flag != "" && n > 0:
		return shard.Spec{}, usagef("use --shard k/N or --shards N, not both")
	case flag != "":
		s, err := shard.Parse(flag)
		if err != nil {
			return s, usagef("--shard: %v", err)
		}
		return s, nil
	case n > 0:
		s, err := shard.FromEnv(n)
		if err != nil {
			return s, usagef("%v", err)
		}
		return s, nil
	}
	return shard.Spec{}, nil
}

func printGatherSummary(w io.Writer, s gather.Summary) {
	fmt.Fprintf(w, "searched %d queries, %d new candidate URLs\n", s.Searched, s.Candidates)
	fmt.Fprintf(w, "fetched %d: %d kept, %d duplicates, %d failed\n", s.Fetched, s.Kept, s.Duplicates, s.Failed)
	for _, c := range gather.SortedCauses(s.ByCause) {
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
}
