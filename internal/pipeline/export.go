package pipeline

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/scour-dev/scour/internal/export"
	"github.com/scour-dev/scour/internal/onnxexport"
	"github.com/scour-dev/scour/internal/progress"
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
// samples under dir, one series per set of the recorded split
// (train-000000.tar, val-000000.tar, test-000000.tar, ...). Kept images the
// split does not place are left out, with a warning to re-run split.
func ExportWebDataset(ctx context.Context, p *project.Project, dir string, perShard int, events progress.Sink) (WebDatasetSummary, error) {
	splitOf, err := export.CatalogSplit(ctx, p.Catalog)
	if err != nil {
		return WebDatasetSummary{}, fmt.Errorf("export webdataset: %w", err)
	}
	open := func(k string) (io.ReadCloser, error) { return p.Store.Get(ctx, k) }
	sum, err := export.WriteWebDataset(ctx, export.CatalogRows(ctx, p.Catalog), open, splitOf, dir, perShard, p.Config.ClassNames())
	if err == nil {
		warnUnsplit(events, sum.Unsplit)
	}
	return sum, err
}

// warnUnsplit says how many kept images an export left out because the
// recorded split is older than they are.
func warnUnsplit(events progress.Sink, n int) {
	if n > 0 {
		progress.Warn(events, "export", fmt.Sprintf("%d kept images are in no set of the recorded split (gathered or restored after split ran) and were left out: re-run `scour split` to place them", n))
	}
}

// ImageFolderSummary says how many images went into each set folder.
type ImageFolderSummary = export.ImageFolderSummary

// ExportImageFolder writes the kept images in Hugging Face's imagefolder
// layout under dir (train/, validation/, test/, each with class folders and
// a metadata.jsonl of provenance), by the recorded split. Kept images the
// split does not place are left out, with a warning to re-run split.
func ExportImageFolder(ctx context.Context, p *project.Project, dir string, events progress.Sink) (ImageFolderSummary, error) {
	splitOf, err := export.CatalogSplit(ctx, p.Catalog)
	if err != nil {
		return ImageFolderSummary{}, fmt.Errorf("export imagefolder: %w", err)
	}
	open := func(k string) (io.ReadCloser, error) { return p.Store.Get(ctx, k) }
	sum, err := export.WriteImageFolder(ctx, export.CatalogRows(ctx, p.Catalog), open, splitOf, dir)
	if err == nil {
		warnUnsplit(events, sum.Unsplit)
		if len(sum.Renamed) > 0 {
			progress.Info(events, "export", "class folders that cannot carry the name as written here use its safe form: "+strings.Join(sum.Renamed, ", "))
		}
	}
	return sum, err
}
