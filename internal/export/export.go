// Package export writes a catalog out for other tools: WebDataset tar shards
// of the kept images, to train with PyTorch or JAX elsewhere, and one Parquet
// table of every URL row, to analyse with pandas, DuckDB or Spark. Both read
// the catalog as a stream, so memory does not grow with the number of rows.
package export

import (
	"context"
	"errors"
	"io"

	"github.com/scour-dev/scour/internal/catalog"
)

// Rows streams catalog rows: it calls yield once per row, in order, and stops
// at the first error yield returns, returning it.
type Rows func(yield func(catalog.ExportRow) error) error

// CatalogRows streams every row of c, as (*catalog.Catalog).ForEachExportRow
// does.
func CatalogRows(ctx context.Context, c *catalog.Catalog) Rows {
	return func(yield func(catalog.ExportRow) error) error {
		return c.ForEachExportRow(ctx, yield)
	}
}

// Opener returns the bytes of the image stored under key (ExportRow.Key).
// A store's Get, bound to a context, is one.
type Opener func(key string) (io.ReadCloser, error)

// ErrNoSplit is returned by CatalogSplit when no split has been recorded:
// the per-set formats have nothing to sort images by.
var ErrNoSplit = errors.New("no split recorded: run `scour split` first")

// CatalogSplit loads the split recorded in c (one map entry per placed
// image, about 100 bytes each) and returns where it put each image.
func CatalogSplit(ctx context.Context, c *catalog.Catalog) (SplitOf, error) {
	ms, err := c.SplitMembers(ctx, "")
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, ErrNoSplit
	}
	sets := make(map[string]string, len(ms))
	for _, m := range ms {
		sets[m.SHA256] = m.Split
	}
	return func(sha string) string { return sets[sha] }, nil
}
