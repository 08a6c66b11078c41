package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/project"
)

func newInitCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "init DIR",
		Short: "Create a project directory with an example scour.yaml",
		Long: `init creates DIR with a scour.yaml describing the classic two-warship
experiment (edit the classes, queries and sources to your problem), an empty
catalog (scour.db) and an images/ folder.`,
		Example: `  scour init warships && cd warships && $EDITOR scour.yaml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ui := newUI(g)
			if err := project.Init(cmd.Context(), args[0], []byte(project.Template)); err != nil {
				return err
			}
			return ui.result(map[string]string{"created": args[0]}, func(w io.Writer) {
				fmt.Fprintf(w, "created %s: edit %s/scour.yaml, then run `scour -C %s gather`\n", args[0], args[0], args[0])
			})
		},
	}
}

func newExportCmd(g *globals) *cobra.Command {
	var format, out string
	c := &cobra.Command{
		Use:   "export",
		Short: "Write the catalog (every URL, its outcome and provenance) as CSV or JSON lines",
		Example: `  scour export --format csv > catalog.csv
  scour export --format jsonl -o catalog.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "csv" && format != "jsonl" {
				return usagef("--format %q: want csv or jsonl", format)
			}
			p, err := project.Open(cmd.Context(), g.dir)
			if err != nil {
				return err
			}
			defer p.Close()
			w := io.Writer(os.Stdout)
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			return p.Catalog.Export(cmd.Context(), w, format)
		},
	}
	c.Flags().StringVar(&format, "format", "csv", "csv or jsonl")
	c.Flags().StringVarP(&out, "output", "o", "-", "file to write (- = stdout)")
	return c
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print scour's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := "devel"
			if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			return newUI(g).result(map[string]string{"version": v}, func(w io.Writer) { fmt.Fprintf(w, "scour %s\n", v) })
		},
	}
}
