package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/pipeline"
)

func newDoctorCmd(g *globals) *cobra.Command {
	var offline bool
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check that everything scour needs is in place, and say what to fix",
		Long: `doctor checks the project's scour.yaml and catalog, the image store (can it be
written?), free disk space, the ONNX Runtime library and the embedded model
(used by clean), and whether each configured search engine still answers and
still parses (a live search; skipped with --offline).`,
		Example: `  scour doctor
  scour doctor --offline --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ui := newUI(g)
			fs := pipeline.Doctor(cmd.Context(), g.dir, offline)
			failed := 0
			for _, f := range fs {
				if f.Status == "fail" {
					failed++
				}
			}
			err := ui.result(fs, func(w io.Writer) {
				for _, f := range fs {
					fmt.Fprintf(w, "%-4s  %-22s %s\n", f.Status, f.Check, f.Detail)
					if f.Fix != "" {
						fmt.Fprintf(w, "      %-22s fix: %s\n", "", f.Fix)
					}
				}
			})
			if err == nil && failed > 0 {
				err = fmt.Errorf("%d check(s) failed", failed)
			}
			return err
		},
	}
	c.Flags().BoolVar(&offline, "offline", false, "do not contact search engines")
	return c
}
