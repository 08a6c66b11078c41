package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/scour-dev/scour/internal/catalog"
)

// parquetColumn is one column as the file's footer declares it, and how its
// value follows from an ExportRow.
type parquetColumn struct {
	name     string
	physical string // BYTE_ARRAY, INT32, INT64
	logical  string
	optional bool
	value    func(r catalog.ExportRow) any // nil: null
}

func orNil[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

// wantColumns is the published schema, in order.
var wantColumns = []parquetColumn{
	{"status", "BYTE_ARRAY", "STRING", false, func(r catalog.ExportRow) any { return r.Status }},
	{"reason", "BYTE_ARRAY", "STRING", true, func(r catalog.ExportRow) any { return orNil(r.Reason) }},
	{"sha256", "BYTE_ARRAY", "STRING", true, func(r catalog.ExportRow) any { return orNil(r.SHA256) }},
	{"class", "BYTE_ARRAY", "STRING", false, func(r catalog.ExportRow) any { return r.Class }},
	{"engine", "BYTE_ARRAY", "STRING", true, func(r catalog.ExportRow) any { return orNil(r.Engine) }},
	{"query", "BYTE_ARRAY", "STRING", true, func(r catalog.ExportRow) any { return orNil(r.Query) }},
	{"rank", "INT32", "INT(32,true)", false, func(r catalog.ExportRow) any { return int64(r.Rank) }},
	{"url", "BYTE_ARRAY", "STRING", false, func(r catalog.ExportRow) any { return r.URL }},
	{"page_url", "BYTE_ARRAY", "STRING", true, func(r catalog.ExportRow) any { return orNil(r.PageURL) }},
	{"title", "BYTE_ARRAY", "STRING", true, func(r catalog.ExportRow) any { return orNil(r.Title) }},
	{"license", "BYTE_ARRAY", "STRING", true, func(r catalog.ExportRow) any { return orNil(r.License) }},
	{"author", "BYTE_ARRAY", "STRING", true, func(r catalog.ExportRow) any { return orNil(r.Author) }},
	{"http_status", "INT32", "INT(32,true)", true, func(r catalog.ExportRow) any { return orNil(int64(r.HTTPStatus)) }},
	{"key", "BYTE_ARRAY", "STRING", true, func(r catalog.ExportRow) any { return orNil(r.Key) }},
	{"format", "BYTE_ARRAY", "STRING", true, func(r catalog.ExportRow) any { return orNil(r.Format) }},
	{"width", "INT32", "INT(32,true)", true, func(r catalog.ExportRow) any { return orNil(int64(r.Width)) }},
	{"height", "INT32", "INT(32,true)", true, func(r catalog.ExportRow) any { return orNil(int64(r.Height)) }},
	{"bytes", "INT64", "INT(64,true)", true, func(r catalog.ExportRow) any { return orNil(r.Bytes) }},
	{"phash", "BYTE_ARRAY", "STRING", true, func(r catalog.ExportRow) any { return orNil(r.PHash) }},
	{"fetched_at", "INT64", "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)", true, func(r catalog.ExportRow) any {
		if r.FetchedAt == "" {
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, r.FetchedAt)
		if err != nil {
			panic(err)
		}
		return t.UnixMicro()
	}},
	{"offtopic_score", "DOUBLE", "", true, func(r catalog.ExportRow) any { return deref(r.OffTopic) }},
	{"offtopic_threshold", "DOUBLE", "", true, func(r catalog.ExportRow) any { return deref(r.OffTopicThreshold) }},
	{"offtopic_method", "BYTE_ARRAY", "STRING", true, func(r catalog.ExportRow) any { return orNil(r.OffTopicMethod) }},
	{"misfiled_score", "DOUBLE", "", true, func(r catalog.ExportRow) any { return deref(r.Misfiled) }},
	{"misfiled_threshold", "DOUBLE", "", true, func(r catalog.ExportRow) any { return deref(r.MisfiledThreshold) }},
	{"suggested_class", "BYTE_ARRAY", "STRING", true, func(r catalog.ExportRow) any { return orNil(r.SuggestedClass) }},
}

// deref is *x, or nil (null) for a view clean did not judge. A judged
// score of 0 is a value, not a null.
func deref(x *float64) any {
	if x == nil {
		return nil
	}
	return *x
}

func openParquet(t *testing.T, path string) *parquet.File {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	st, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(fh, st.Size())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pf
}

// checkParquetSchema checks the footer's schema against wantColumns.
func checkParquetSchema(t *testing.T, pf *parquet.File) {
	t.Helper()
	els := pf.Metadata().Schema
	if len(els) != 1+len(wantColumns) {
		t.Fatalf("footer has %d columns, want %d", len(els)-1, len(wantColumns))
	}
	for i, c := range wantColumns {
		e := els[i+1]
		typ, _ := e.Type.Get()
		rep, _ := e.RepetitionType.Get()
		wantRep := format.Required
		if c.optional {
			wantRep = format.Optional
		}
		if e.Name != c.name || typ.String() != c.physical || e.LogicalType.String() != c.logical || rep != wantRep {
			t.Errorf("column %d is %s %s %s %s, want %s %s %s %s", i, e.Name, typ, e.LogicalType.String(), rep, c.name, c.physical, c.logical, wantRep)
		}
	}
	for _, rg := range pf.Metadata().RowGroups {
		for _, col := range rg.Columns {
			if col.MetaData.Codec != format.Zstd {
				t.Fatalf("column %v is %v-compressed, want ZSTD", col.MetaData.PathInSchema, col.MetaData.Codec)
			}
		}
	}
}

// readParquet reads every row with the library's untyped reader, each as
// column name -> value (nil for null, int64 for integers, string for text).
func readParquet(t *testing.T, pf *parquet.File) []map[string]any {
	t.Helper()
	cols := pf.Schema().Columns()
	r := parquet.NewReader(pf)
	defer r.Close()
	var out []map[string]any
	buf := make([]parquet.Row, 100)
	for {
		n, err := r.ReadRows(buf)
		for _, row := range buf[:n] {
			m := map[string]any{}
			for _, v := range row {
				name := cols[v.Column()][0]
				switch {
				case v.IsNull():
					m[name] = nil
				case v.Kind() == parquet.ByteArray:
					m[name] = string(v.ByteArray())
				case v.Kind() == parquet.Int32:
					m[name] = int64(v.Int32())
				case v.Kind() == parquet.Int64:
					m[name] = v.Int64()
				case v.Kind() == parquet.Double:
					m[name] = v.Double()
				default:
					t.Fatalf("column %s has kind %v", name, v.Kind())
				}
			}
			out = append(out, m)
		}
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriteParquet(t *testing.T) {
	f := mixedFixture(t)
	// A row with text that needs care, and one with every optional value missing.
	f.add(catalog.ExportRow{Status: "failed", Reason: "html: a login page, \"sign in\"", Class: "carrier", Engine: "urls",
		URL: "https://img.example/ünïcode.jpg?q=1,2", Title: "Ταχύπλοο\nline two", HTTPStatus: 200})
	f.add(catalog.ExportRow{Status: "pending", Class: "carrier", URL: "https://img.example/bare.jpg"})
	path := filepath.Join(t.TempDir(), "catalog.parquet")
	n, err := WriteParquet(context.Background(), f.iter(), path)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(f.rows) {
		t.Errorf("wrote %d rows, want %d", n, len(f.rows))
	}
	pf := openParquet(t, path)
	checkParquetSchema(t, pf)
	if pf.NumRows() != int64(len(f.rows)) {
		t.Fatalf("file has %d rows, want %d", pf.NumRows(), len(f.rows))
	}
	got := readParquet(t, pf)
	for i, r := range f.rows {
		for _, c := range wantColumns {
			if want := c.value(r); got[i][c.name] != want {
				t.Errorf("row %d (%s): %s = %#v, want %#v", i, r.URL, c.name, got[i][c.name], want)
			}
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("directory holds %d files, want only the table", len(entries))
	}
}

// TestWriteParquetRowGroups writes more rows than one row group holds: the
// writer flushes as it goes rather than keeping the table in memory.
func TestWriteParquetRowGroups(t *testing.T) {
	const total = parquetRowGroup*2 + 123
	rows := func(yield func(catalog.ExportRow) error) error {
		for i := range total {
			r := catalog.ExportRow{Status: "pending", Class: testClasses[i%3], Rank: i, URL: fmt.Sprintf("https://img.example/%d.jpg", i)}
			if i%2 == 0 {
				r.Status, r.SHA256, r.Width = catalog.StatusKept, fmt.Sprintf("%064x", i), 100+i%50
			}
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	}
	path := filepath.Join(t.TempDir(), "big.parquet")
	n, err := WriteParquet(context.Background(), rows, path)
	if err != nil || n != total {
		t.Fatalf("wrote %d rows, %v; want %d", n, err, total)
	}
	pf := openParquet(t, path)
	if got := len(pf.RowGroups()); got != 3 {
		t.Errorf("%d row groups, want 3", got)
	}
	got := readParquet(t, pf)
	if len(got) != total {
		t.Fatalf("read %d rows, want %d", len(got), total)
	}
	for _, i := range []int{0, 1, parquetRowGroup, parquetRowGroup + 1, total - 1} {
		want := map[string]any{"rank": int64(i), "url": fmt.Sprintf("https://img.example/%d.jpg", i), "width": nil, "status": "pending"}
		if i%2 == 0 {
			want["width"], want["status"] = int64(100+i%50), catalog.StatusKept
		}
		for k, v := range want {
			if got[i][k] != v {
				t.Errorf("row %d: %s = %#v, want %#v", i, k, got[i][k], v)
			}
		}
	}
}

// TestWriteParquetFailureKeepsOldFile: a failed or interrupted export
// leaves the previous table as it was, and no temporary file.
func TestWriteParquetFailureKeepsOldFile(t *testing.T) {
	good := sliceRows([]catalog.ExportRow{{Status: "pending", Class: "zumwalt", URL: "https://img.example/1.jpg"}})
	cases := []struct {
		name string
		rows func(cancel func()) Rows
		want string
	}{
		{"bad fetched_at", func(func()) Rows {
			return sliceRows([]catalog.ExportRow{{Status: "kept", Class: "zumwalt", URL: "https://img.example/2.jpg", FetchedAt: "yesterday"}})
		}, "fetched_at"},
		{"iterator fails", func(func()) Rows {
			return func(yield func(catalog.ExportRow) error) error { return errors.New("catalog is damaged") }
		}, "catalog is damaged"},
		{"cancelled", func(cancel func()) Rows {
			return func(yield func(catalog.ExportRow) error) error {
				cancel()
				return yield(catalog.ExportRow{Status: "pending", Class: "zumwalt", URL: "https://img.example/3.jpg"})
			}
		}, context.Canceled.Error()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "catalog.parquet")
			if _, err := WriteParquet(context.Background(), good, path); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(path)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := WriteParquet(ctx, tc.rows(cancel), path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			after, _ := os.ReadFile(path)
			if string(after) != string(before) {
				t.Error("the previous table changed")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("directory holds %d files, want only the previous table", len(entries))
			}
		})
	}
}
