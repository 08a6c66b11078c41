package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/pipeline"
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
	var format, out, model string
	var perShard int
	c := &cobra.Command{
		Use:   "export",
		Short: "Write the catalog (CSV, JSON lines, Parquet), the dataset (WebDataset, imagefolder) or a model (ONNX)",
		Long: `export writes out what scour knows:
  csv, jsonl   every URL with its outcome and provenance (stdout, or -o FILE)
  parquet      the same rows as a typed Parquet table (-o FILE)
  webdataset   kept images as tar shards per set: DIR/train-NNNNNN.tar, val-..., test-...
  imagefolder  Hugging Face layout: DIR/{train,validation,test}/<class>/<sha256>.jpg
  onnx         a model written by train (--model runs/NAME/best.scour) as one file

webdataset and imagefolder follow the split recorded by scour split (run it
first; images gathered since are left out, with a warning). A WebDataset
sample is {sha256}.jpg + {sha256}.json (split, class name, provenance) +
{sha256}.cls (class index in scour.yaml order). Each imagefolder set folder
has a metadata.jsonl (file_name relative to it, class, provenance, clean's
scores); load with load_dataset("imagefolder", data_dir=DIR,
drop_labels=False), as the datasets library drops the folder labels by
default once metadata is present.

The ONNX file (-o FILE) takes input "image", float32 [N,3,S,S], RGB
values/255 in [0,1], and gives output "probabilities" [N,classes]. A CNN
takes the whole image resized to SxS; a transfer head takes S=224 (shorter
side to 256, centre crop 224) and carries MobileNetV2 and its normalisation
inside. Class names are in the metadata key "classes", the recipe in
"preprocess".`,
		Example: `  scour export --format csv > catalog.csv
  scour export --format parquet -o catalog.parquet
  scour export --format webdataset -o shards/ --per-shard 1000
  scour export --format imagefolder -o hf/
  scour export --format onnx --model runs/32-64-128_d1/best.scour -o model.onnx`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			switch format {
			case "csv", "jsonl":
			case "onnx":
				if model == "" {
					return usagef("--format onnx needs --model: a .scour file written by train (runs/<name>/best.scour)")
				}
				ui := newUI(g)
				if out == "-" && g.json {
					return usagef("--format onnx -o - writes the model to stdout, which --json needs for its summary: pass -o FILE")
				}
				info, err := pipeline.ExportONNX(model, out, os.Stdout)
				if err != nil {
					return err
				}
				if out == "-" {
					return nil
				}
				return ui.result(info, func(w io.Writer) {
					fmt.Fprintf(w, "wrote %s: %s for %d classes, input %s, output %s\n", out, info.Kind, len(info.Classes), info.Input, info.Output)
				})
			case "parquet", "webdataset", "imagefolder":
				if out == "" || out == "-" {
					return usagef("--format %s needs -o (a file for parquet, a directory for webdataset and imagefolder)", format)
				}
			default:
				return usagef("--format %q: want csv, jsonl, parquet, webdataset, imagefolder or onnx", format)
			}
			p, err := project.Open(ctx, g.dir)
			if err != nil {
				return err
			}
			defer p.Close()
			ui := newUI(g)
			switch format {
			case "parquet":
				n, err := pipeline.ExportParquet(ctx, p, out)
				if err != nil {
					return err
				}
				return ui.result(map[string]any{"rows": n, "file": out}, func(w io.Writer) { fmt.Fprintf(w, "wrote %d rows to %s\n", n, out) })
			case "webdataset":
				sum, err := pipeline.ExportWebDataset(ctx, p, out, perShard, ui)
				if err != nil {
					return err
				}
				return ui.result(sum, func(w io.Writer) {
					fmt.Fprintf(w, "wrote %d samples (train %d, val %d, test %d) in %d shards to %s\n",
						sum.Samples, sum.Splits["train"], sum.Splits["val"], sum.Splits["test"], len(sum.Shards), out)
				})
			case "imagefolder":
				sum, err := pipeline.ExportImageFolder(ctx, p, out, ui)
				if err != nil {
					return err
				}
				return ui.result(sum, func(w io.Writer) {
					fmt.Fprintf(w, "wrote %d images (train %d, validation %d, test %d) to %s\n",
						sum.Images, sum.Splits["train"], sum.Splits["validation"], sum.Splits["test"], out)
				})
			}
			w := io.Writer(os.Stdout)
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			return pipeline.ExportTable(ctx, p, w, format)
		},
	}
	c.Flags().StringVar(&format, "format", "csv", "csv, jsonl, parquet, webdataset, imagefolder or onnx")
	c.Flags().StringVar(&model, "model", "", "with --format onnx: the model file written by train")
	c.Flags().StringVarP(&out, "output", "o", "-", "file (or directory for webdataset and imagefolder) to write; - = stdout")
	c.Flags().IntVar(&perShard, "per-shard", 1000, "samples per WebDataset tar shard")
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
