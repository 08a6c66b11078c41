package pipeline

import (
	"context"
	"io"

	"github.com/scour-dev/scour/internal/export"
	"github.com/scour-dev/scour/internal/onnxexport"
	"github.com/scour-dev/scour/internal/project"
)

// ONNXInfo describes an exported ONNX model: its kind, classes, input
// layout and preprocessing, and the operators it uses.
type ONNXInfo = onnxexport.Info

// ExportONNX writes the model file written by train (a CNN, or a head with
// the embedding model in front of it) as one ONNX file at out, or to w when
// out is "-".
func ExportONNX(model, out string, w io.Writer) (ONNXInfo, error) {
	if out == "-" {
		return onnxexport.Export(model, w, onnxexport.Options{})
	}
	return onnxexport.ExportFile(model, out, onnxexport.Options{})
}

// WebDatasetSummary says how many samples and shards were written.
type WebDatasetSummary = export.WebDatasetSummary

// ExportTable writes every URL with its outcome and provenance to w, as
// "csv" or "jsonl".
func ExportTable(ctx context.Context, p *project.Project, w io.Writer, format string) error {
	return p.Catalog.Export(ctx, w, format)
}

// ExportParquet writes the same rows as a typed Parquet table to file and
// returns how many.
func ExportParquet(ctx context.Context, p *project.Project, file string) (int, error) {
	return export.WriteParquet(ctx, export.CatalogRows(ctx, p.Catalog), file)
}

// ExportWebDataset writes the kept images as tar shards of perShard
// samples under dir.
func ExportWebDataset(ctx context.Context, p *project.Project, dir string, perShard int) (WebDatasetSummary, error) {
	open := func(k string) (io.ReadCloser, error) { return p.Store.Get(ctx, k) }
	return export.WriteWebDataset(ctx, export.CatalogRows(ctx, p.Catalog), open, dir, perShard, p.Config.ClassNames())
}
