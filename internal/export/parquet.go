package export

import (
	"context"
	"fmt"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/scour-dev/scour/internal/atomicfile"
	"github.com/scour-dev/scour/internal/catalog"
)

// ParquetRow is the schema of the table WriteParquet writes: one row per URL,
// the columns of `scour export --format csv`, typed. A value the catalog
// does not have (no image yet, no HTTP status, no author) is null, not an
// empty string or a zero, so that pandas and SQL see it as missing.
type ParquetRow struct {
	Status     string     `parquet:"status,dict"` // kept | quarantined | duplicate | failed | pending
	Reason     *string    `parquet:"reason,optional"`
	SHA256     *string    `parquet:"sha256,optional"`
	Class      string     `parquet:"class,dict"`
	Engine     *string    `parquet:"engine,optional,dict"`
	Query      *string    `parquet:"query,optional,dict"`
	Rank       int32      `parquet:"rank"`
	URL        string     `parquet:"url"`
	PageURL    *string    `parquet:"page_url,optional"`
	Title      *string    `parquet:"title,optional"`
	License    *string    `parquet:"license,optional,dict"`
	Author     *string    `parquet:"author,optional"`
	HTTPStatus *int32     `parquet:"http_status,optional"`
	Key        *string    `parquet:"key,optional"`
	Format     *string    `parquet:"format,optional,dict"`
	Width      *int32     `parquet:"width,optional"`
	Height     *int32     `parquet:"height,optional"`
	Bytes      *int64     `parquet:"bytes,optional"`
	PHash      *string    `parquet:"phash,optional"` // 16 hex digits, as in the CSV
	FetchedAt  *time.Time `parquet:"fetched_at,optional,timestamp(microsecond:utc)"`
	// Clean's doubt (higher = more doubtful, flagged at or above the
	// threshold); null where that view was not judged.
	OffTopic          *float64 `parquet:"offtopic_score,optional"`
	OffTopicThreshold *float64 `parquet:"offtopic_threshold,optional"`
	OffTopicMethod    *string  `parquet:"offtopic_method,optional,dict"`
	Misfiled          *float64 `parquet:"misfiled_score,optional"`
	MisfiledThreshold *float64 `parquet:"misfiled_threshold,optional"`
	SuggestedClass    *string  `parquet:"suggested_class,optional,dict"`
}

// parquetRowGroup bounds the rows the writer holds before it flushes a row
// group: memory stays flat however large the catalog, and readers can skip
// row groups by their statistics.
const parquetRowGroup = 64 << 10

// parquetBatch is how many rows are handed to the writer at once; one call
// per row costs more than the encoding.
const parquetBatch = 1024

// WriteParquet writes every row as a Parquet table (schema ParquetRow,
// zstd-compressed) to path, through a temporary file renamed at the end: an
// interrupted export leaves no file, or the previous one. It returns the
// number of rows written.
func WriteParquet(ctx context.Context, rows Rows, path string) (int, error) {
	f, err := atomicfile.Create(path)
	if err != nil {
		return 0, fmt.Errorf("parquet: %w", err)
	}
	defer f.Abort()
	w := parquet.NewGenericWriter[ParquetRow](f,
		parquet.Compression(&parquet.Zstd),
		parquet.MaxRowsPerRowGroup(parquetRowGroup),
	)
	batch := make([]ParquetRow, 0, parquetBatch)
	n := 0
	flush := func() error {
		if _, err := w.Write(batch); err != nil {
			return err
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	err = rows(func(r catalog.ExportRow) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		pr, err := parquetRow(r)
		if err != nil {
			return err
		}
		batch = append(batch, pr)
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		err = f.Commit(0o644)
	}
	if err != nil {
		return 0, fmt.Errorf("parquet: %w", err)
	}
	return n, nil
}

func parquetRow(r catalog.ExportRow) (ParquetRow, error) {
	pr := ParquetRow{
		Status: r.Status, Reason: str(r.Reason), SHA256: str(r.SHA256), Class: r.Class,
		Engine: str(r.Engine), Query: str(r.Query), Rank: int32(r.Rank), URL: r.URL,
		PageURL: str(r.PageURL), Title: str(r.Title), License: str(r.License), Author: str(r.Author),
		HTTPStatus: int32p(r.HTTPStatus), Key: str(r.Key), Format: str(r.Format),
		Width: int32p(r.Width), Height: int32p(r.Height), PHash: str(r.PHash),
		OffTopic: r.OffTopic, OffTopicThreshold: r.OffTopicThreshold, OffTopicMethod: str(r.OffTopicMethod),
		Misfiled: r.Misfiled, MisfiledThreshold: r.MisfiledThreshold, SuggestedClass: str(r.SuggestedClass),
	}
	if r.Bytes != 0 {
		pr.Bytes = &r.Bytes
	}
	if r.FetchedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, r.FetchedAt)
		if err != nil {
			return pr, fmt.Errorf("row for %s: fetched_at: %w", r.URL, err)
		}
		t = t.UTC()
		pr.FetchedAt = &t
	}
	return pr, nil
}

// str is s, or nil (null) when the catalog has none.
func str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// int32p is n, or nil (null) when the catalog has none. Ranks, sizes and
// HTTP statuses fit 32 bits by far.
func int32p(n int) *int32 {
	if n == 0 {
		return nil
	}
	v := int32(n)
	return &v
}
