package pipeline

import (
	"context"
	"io"

	"github.com/scour-dev/scour/internal/export"
	"github.com/scour-dev/scour/internal/project"
)

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
