// Package export writes a catalog out for other tools: WebDataset tar shards
// of the kept images, to train with PyTorch or JAX elsewhere, and one Parquet
// table of every URL row, to analyse with pandas, DuckDB or Spark. Both read
// the catalog as a stream, so memory does not grow with the number of rows.
package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
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

// eachSplitSample calls fn once for each distinct kept image among rows
// that the split places, with its sha256 (decoded and as hex) and its set.
// A second kept row with the same bytes counts in dups (dataset samples must
// be unique) and a kept image the split does not place counts in unsplit.
func eachSplitSample(ctx context.Context, rows Rows, splitOf SplitOf, dups, unsplit *int, fn func(r catalog.ExportRow, sha [sha256.Size]byte, key, set string) error) error {
	// A set of 32-byte hashes: about 40 bytes per kept image, the one thing
	// that grows with the catalog.
	seen := map[[sha256.Size]byte]struct{}{}
	return rows(func(r catalog.ExportRow) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.Status != catalog.StatusKept {
			return nil
		}
		var sha [sha256.Size]byte
		if len(r.SHA256) != hex.EncodedLen(len(sha)) {
			return fmt.Errorf("kept row for %s has a bad sha256 %q", r.URL, r.SHA256)
		}
		if _, err := hex.Decode(sha[:], []byte(r.SHA256)); err != nil {
			return fmt.Errorf("kept row for %s has a bad sha256 %q: %w", r.URL, r.SHA256, err)
		}
		if _, dup := seen[sha]; dup {
			*dups++
			return nil
		}
		key := hex.EncodeToString(sha[:])
		set := splitOf(key)
		if set == "" {
			*unsplit++
			return nil
		}
		if err := fn(r, sha, key, set); err != nil {
			return err
		}
		seen[sha] = struct{}{}
		return nil
	})
}
