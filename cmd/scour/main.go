// Command scour turns a few search queries into a clean, trained image
// classifier. This file holds the root command and the one place where
// errors become exit codes; each subcommand lives in its own cmd_*.go file
// and only wires flags to one function or Stage of internal/pipeline, which
// owns the work, and prints what it returns.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/errkind"
)

// Exit codes, documented in the README and in `scour --help`.
const (
	exitOK          = 0
	exitError       = 1   // the command failed; the message says why
	exitUsage       = 2   // bad flags, arguments or scour.yaml
	exitFatal       = 3   // the environment stopped the run: disk full, read-only, damaged catalog, unreachable store
	exitPartial     = 4   // finished, but some work is still pending (re-run to continue)
	exitInterrupted = 130 // stopped by Ctrl-C or SIGTERM; re-run to continue
)

// usageError marks mistakes the user makes on the command line.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

type globals struct {
	dir     string
	json    bool
	quiet   bool
	verbose bool
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globals{}
	root := newRoot(g)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	code := exitCode(ctx, err)
	if err != nil {
		ui := newUI(g)
		ui.errorf(code, err)
	}
	return code
}

func exitCode(ctx context.Context, err error) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &ue), errkind.Cause(err) == "config":
		return exitUsage
	case errkind.IsFatal(err):
		return exitFatal
	case errkind.IsPartial(err):
		return exitPartial
	}
	return exitError
}

const rootLong = `scour turns a few search queries into a clean, trained image classifier.

A project is a directory with a scour.yaml (classes, their search queries,
sources), a catalog (scour.db) and the images. The stages run in order:

  scour init DIR        create a project with an example scour.yaml
  scour gather          search the engines and download images, resumably
  scour clean           quarantine broken, duplicate and off-topic images
  scour review          look at what clean flagged, keep or discard (browser)
  scour split           stratified, leakage-safe train/val/test sets
  scour train | sweep   fit CNN variants; --head for transfer learning
  scour report          one HTML page of charts and verdicts
  scour run             all of the above, skipping what has not changed

Also: restore, predict, augment --preview, export, merge (shards), doctor,
bench, version.

Every command works on the project in the current directory, or in -C DIR.

Exit codes: 0 ok; 1 failed; 2 bad usage or scour.yaml; 3 environment
problem (disk full, read-only project, damaged catalog, store unreachable);
4 finished with work left pending (re-run to continue); 130 interrupted.`

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "scour",
		Short:         "Build a clean image classifier from search queries",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
		Example: `  scour init warships && cd warships   # then edit scour.yaml
  scour run                            # gather, clean, split, train, report
  scour review                         # look at what clean set aside
  scour export --format csv > catalog.csv`,
	}
	root.PersistentFlags().StringVarP(&g.dir, "dir", "C", ".", "project directory")
	root.PersistentFlags().BoolVar(&g.json, "json", false, "print machine-readable JSON (a summary object; progress as JSON lines on stderr)")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "print only errors")
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "print more detail")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		//lint:ignore ST1005 printed to a person as it is, as its own line
		return usageError{fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())}
	})
	root.AddCommand(newInitCmd(g), newRunCmd(g), newGatherCmd(g), newCleanCmd(g), newRestoreCmd(g), newReviewCmd(g), newSplitCmd(g), newTrainCmd(g), newSweepCmd(g), newPredictCmd(g), newReportCmd(g), newAugmentCmd(g), newExportCmd(g), newMergeCmd(g), newDoctorCmd(g), newBenchCmd(g), newVersionCmd(g))
	return root
}
