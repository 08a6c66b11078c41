package catalog

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// ExportRow is one URL and, when it was kept, its image: the flat provenance
// record users load into pandas or a spreadsheet.
type ExportRow struct {
	Status     string `json:"status"` // kept | quarantined | duplicate | failed | pending
	Reason     string `json:"reason,omitempty"`
	SHA256     string `json:"sha256,omitempty"`
	Class      string `json:"class"`
	Engine     string `json:"engine"`
	Query      string `json:"query"`
	Rank       int    `json:"rank"`
	URL        string `json:"url"`
	PageURL    string `json:"page_url,omitempty"`
	Title      string `json:"title,omitempty"`
	License    string `json:"license,omitempty"`
	Author     string `json:"author,omitempty"`
	HTTPStatus int    `json:"http_status,omitempty"`
	Key        string `json:"key,omitempty"`
	Format     string `json:"format,omitempty"`
	Width      int    `json:"width,omitempty"`
	Height     int    `json:"height,omitempty"`
	Bytes      int64  `json:"bytes,omitempty"`
	PHash      string `json:"phash,omitempty"`
	FetchedAt  string `json:"fetched_at,omitempty"`
	// Clean's doubt from its last run (higher = more doubtful; flagged at
	// or above the threshold). nil where that view was not judged: no
	// image, no model, one class, or a method turned off.
	OffTopic          *float64 `json:"offtopic_score,omitempty"`
	OffTopicThreshold *float64 `json:"offtopic_threshold,omitempty"`
	OffTopicMethod    string   `json:"offtopic_method,omitempty"`
	Misfiled          *float64 `json:"misfiled_score,omitempty"`
	MisfiledThreshold *float64 `json:"misfiled_threshold,omitempty"`
	SuggestedClass    string   `json:"suggested_class,omitempty"` // the class clean thinks it belongs to
}

var exportHeader = []string{"status", "reason", "sha256", "class", "engine", "query", "rank", "url", "page_url", "title", "license", "author", "http_status", "key", "format", "width", "height", "bytes", "phash", "fetched_at",
	"offtopic_score", "offtopic_threshold", "offtopic_method", "misfiled_score", "misfiled_threshold", "suggested_class"}

// ForEachExportRow streams every URL row joined with its image and its
// clean scores, in id order. A kept or quarantined row carries the image's
// class, which a person may have changed in review since the URL was found.
func (c *Catalog) ForEachExportRow(ctx context.Context, fn func(ExportRow) error) error {
	after := ""
	for {
		rows, err := c.db.QueryContext(ctx, `SELECT u.id, u.state, u.cause, u.error, u.sha256, u.class, u.engine, u.query, u.rank, u.url, u.page_url, u.title, u.license, u.author, u.http_status,
			coalesce(i.status,''), coalesce(i.reason,''), coalesce(i.key,''), coalesce(i.format,''), coalesce(i.width,0), coalesce(i.height,0), coalesce(i.bytes,0), coalesce(i.phash,0), coalesce(i.fetched_at,''), coalesce(i.class,''),
			coalesce(s.offtopic,0), coalesce(s.offtopic_threshold,0), coalesce(s.offtopic_method,''),
			coalesce(s.misfiled,0), coalesce(s.misfiled_threshold,0), coalesce(s.suggest,'')
			FROM urls u LEFT JOIN images i ON i.sha256 = u.sha256 AND u.state = 'done'
			LEFT JOIN clean_scores s ON s.sha256 = i.sha256
			WHERE u.id > ? ORDER BY u.id LIMIT 1000`, after)
		if err != nil {
			return c.corrupt(err)
		}
		var page []ExportRow
		for rows.Next() {
			var r ExportRow
			var id, state, cause, msg, istatus, ireason, iclass string
			var ph int64
			var off, offT, mis, misT float64
			if err := rows.Scan(&id, &state, &cause, &msg, &r.SHA256, &r.Class, &r.Engine, &r.Query, &r.Rank, &r.URL, &r.PageURL, &r.Title, &r.License, &r.Author, &r.HTTPStatus,
				&istatus, &ireason, &r.Key, &r.Format, &r.Width, &r.Height, &r.Bytes, &ph, &r.FetchedAt, &iclass,
				&off, &offT, &r.OffTopicMethod, &mis, &misT, &r.SuggestedClass); err != nil {
				rows.Close()
				return c.corrupt(err)
			}
			after = id
			switch state {
			case StateDone:
				r.Status, r.Reason = istatus, ireason
				r.PHash = fmt.Sprintf("%016x", uint64(ph))
				if iclass != "" {
					r.Class = iclass
				}
				if offT != 0 {
					r.OffTopic, r.OffTopicThreshold = &off, &offT
				}
				if misT != 0 {
					r.Misfiled, r.MisfiledThreshold = &mis, &misT
				}
			case StateFailed:
				r.Status, r.Reason = state, cause
				if msg != "" {
					r.Reason = cause + ": " + msg
				}
			default:
				r.Status, r.Reason = state, cause
			}
			page = append(page, r)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return c.corrupt(err)
		}
		if len(page) == 0 {
			return nil
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
}

// Export writes the catalog as "csv" or "jsonl".
func (c *Catalog) Export(ctx context.Context, w io.Writer, format string) error {
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(exportHeader); err != nil {
			return err
		}
		err := c.ForEachExportRow(ctx, func(r ExportRow) error {
			return cw.Write([]string{r.Status, r.Reason, r.SHA256, r.Class, r.Engine, r.Query, strconv.Itoa(r.Rank), r.URL, r.PageURL, r.Title, r.License, r.Author,
				itoa0(r.HTTPStatus), r.Key, r.Format, itoa0(r.Width), itoa0(r.Height), itoa0(int(r.Bytes)), r.PHash, r.FetchedAt,
				ftoa(r.OffTopic), ftoa(r.OffTopicThreshold), r.OffTopicMethod, ftoa(r.Misfiled), ftoa(r.MisfiledThreshold), r.SuggestedClass})
		})
		if err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	case "jsonl":
		enc := json.NewEncoder(w)
		return c.ForEachExportRow(ctx, func(r ExportRow) error { return enc.Encode(r) })
	default:
		return fmt.Errorf("unknown export format %q (want csv or jsonl)", format)
	}
}

func itoa0(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// ftoa writes a score exactly (it reads back to the same float64), or
// nothing when there is none.
func ftoa(x *float64) string {
	if x == nil {
		return ""
	}
	return strconv.FormatFloat(*x, 'g', -1, 64)
}
