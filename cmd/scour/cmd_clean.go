package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/pipeline"
	"github.com/scour-dev/scour/internal/project"
)

func newCleanCmd(g *globals) *cobra.Command {
	var (
		st        pipeline.Clean
		shardFlag string
		shards    int
	)
	c := &cobra.Command{
		Use:   "clean",
		Short: "Find broken, duplicate and off-topic images and move them to quarantine",
		Long: `clean looks at every image and flags, each with a reason and a score:
  broken, too-small, odd-aspect, blurry, dark, bright, low-information,
  grayscale                 checks on the pixels
  duplicate                 the same or nearly the same picture as a better copy
                            (perceptual hash, and embedding similarity)
  cross-class               near-duplicates that sit in two classes
  off-topic                 not what the class is about (below)
  misfiled                  looks like another class of the project, which is
                            suggested (below)
Flagged images are moved (never deleted) to quarantine/<reason>/<class>/ and
the reason, score and method recorded; restore undoes it. A re-run costs
nothing for images already seen: labels and measurements are cached by content
hash. The recognizer runs in-process (MobileNetV2 via ONNX Runtime); without
the runtime the pixel checks and hash duplicates still run.

` + pipeline.HelpOffTopic,
		Example: `  scour clean --dry-run      # what would move, and why
  scour clean
  scour clean --labeler rekognition --yes   # AWS Rekognition, as the original workflow`,
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
			if err != nil {
				return err
			}
			if st.Shard.Enabled() {
				return ui.result(sum, func(w io.Writer) {
					fmt.Fprintf(w, "shard %s: measured %d and labelled %d of %d images; run `scour merge`, then `scour clean`\n", st.Shard, sum.Measured, sum.Labelled, sum.Images)
				})
			}
			return ui.result(sum, func(w io.Writer) { printClean(w, sum) })
		},
	}
	c.Flags().BoolVar(&st.DryRun, "dry-run", false, "decide and report, move nothing")
	c.Flags().StringVar(&st.Labeler, "labeler", "local", "recognizer: local (offline), rekognition (AWS) or vision (Google Cloud Vision, key in GOOGLE_API_KEY), or none")
	c.Flags().BoolVar(&st.Yes, "yes", false, "accept the estimated cost of a cloud labeler")
	c.Flags().StringVar(&shardFlag, "shard", "", "as shard k of N (see gather --shard): only measure and label this shard's images, for merge")
	c.Flags().IntVar(&shards, "shards", 0, "as one of N shards, the index from JOB_COMPLETION_INDEX")
	return c
}

func printClean(w io.Writer, s pipeline.CleanSummary) {
	verb := "moved"
	if s.DryRun {
		verb = "would move"
	}
	fmt.Fprintf(w, "%d images: %d kept, %d quarantined; %s %d to quarantine, %d back\n", s.Images, s.Kept, s.Quarantined, verb, s.Moved, s.Released)
	reasons := make([]string, 0, len(s.Flags))
	for r := range s.Flags {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(w, "  %-16s %d\n", r, s.Flags[r])
	}
	classes := make([]string, 0, len(s.Classes))
	for c := range s.Classes {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for _, c := range classes {
		cs := s.Classes[c]
		line := fmt.Sprintf("class %-14s %d kept, %d quarantined; off-topic by %s", c, cs.Kept, cs.Quarantined, cs.OffTopic.Method)
		if cs.OffTopic.Skipped != "" {
			line += " (skipped: " + cs.OffTopic.Skipped + ")"
		} else if cs.OffTopic.Threshold != 0 {
			line += fmt.Sprintf(" (flagged below similarity %.3f", cs.OffTopic.Threshold)
			if cs.OffTopic.LabelThreshold != 0 {
				line += fmt.Sprintf(" or label overlap %.3f", cs.OffTopic.LabelThreshold)
			}
			line += ")"
		}
		fmt.Fprintln(w, line)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if len(s.Missing) > 0 {
		fmt.Fprintf(w, "warning: %d images are missing from the store (run scour doctor)\n", len(s.Missing))
	}
}

func newRestoreCmd(g *globals) *cobra.Command {
	var r pipeline.Restore
	c := &cobra.Command{
		Use:   "restore [SHA256]",
		Short: "Move quarantined images back, exactly as they were",
		Long: `restore undoes clean's quarantine for one image (by content hash, as shown by
export or review), for every image quarantined for a reason or in a class, or
for all. Restoring one image by hash records that a person kept it, so later
clean runs leave it alone.`,
		Example: `  scour restore 3f2a…   # one image
  scour restore --reason blurry
  scour restore --all --dry-run`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(args) == 1 {
				r.SHA256 = args[0]
			}
			p, err := project.Open(ctx, g.dir)
			if err != nil {
				return err
			}
			defer p.Close()
			sum, err := r.Do(ctx, p, newUI(g))
			if err != nil {
				return err
			}
			return newUI(g).result(sum, func(w io.Writer) {
				verb := "restored"
				if sum.DryRun {
					verb = "would restore"
				}
				fmt.Fprintf(w, "%s %d images\n", verb, sum.Restored)
				if len(sum.Missing) > 0 {
					fmt.Fprintf(w, "warning: %d quarantined images are missing from the store\n", len(sum.Missing))
				}
			})
		},
	}
	c.Flags().StringVar(&r.Reason, "reason", "", "restore images quarantined for this reason")
	c.Flags().StringVar(&r.Class, "class", "", "restore quarantined images of this class")
	c.Flags().BoolVar(&r.All, "all", false, "restore every quarantined image")
	c.Flags().BoolVar(&r.DryRun, "dry-run", false, "say what would move, move nothing")
	return c
}
