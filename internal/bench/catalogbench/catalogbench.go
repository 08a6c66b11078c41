// Package catalogbench measures the catalog at millions of rows: it builds
// shard catalogs of synthetic URL and image rows, uploads one shard whole
// and then as a delta, merges them into a project catalog, exports it as
// CSV and Parquet, builds the report's dataset part and computes `scour
// run`'s stage fingerprints, and gives each step's wall time and peak
// resident memory. The CLI runs it as `scour bench catalog`.
package catalogbench

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	_ "modernc.org/sqlite"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/export"
	"github.com/scour-dev/scour/internal/pipeline"
	"github.com/scour-dev/scour/internal/project"
	"github.com/scour-dev/scour/internal/report"
	"github.com/scour-dev/scour/internal/shard"
	"github.com/scour-dev/scour/internal/store"
)

// Options sizes the benchmark.
type Options struct {
	Rows   int    // URL rows in all shards together; default 1,000,000
	Shards int    // shard catalogs the rows are split into; default 4
	Dir    string // scratch folder; default a temporary one, deleted after
}

// Step is one measured operation.
type Step struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	PeakRSS int64   `json:"peak_rss_bytes"`
	Note    string  `json:"note,omitempty"`
}

// Report is what Run measured.
type Report struct {
	Rows, Shards int
	Steps        []Step
	Whole, Delta shard.UploadStats // one shard's first upload and the next after 1% of its rows changed
	// PeakIsPerStep is false where the high-water mark cannot be reset:
	// each step then shows the process's peak so far.
	PeakIsPerStep bool
}

func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "catalog benchmark: %d URL rows in %d shard catalogs (90%% fetched, 1%% fetched by every shard), %d cores\n", r.Rows, r.Shards, runtime.GOMAXPROCS(0))
	fmt.Fprintf(&b, "  %-28s %9s %10s   %s\n", "step", "wall", "peak RSS", "")
	for _, s := range r.Steps {
		fmt.Fprintf(&b, "  %-28s %8.1fs %7.0f MB   %s\n", s.Name, s.Seconds, float64(s.PeakRSS)/1e6, s.Note)
	}
	if !r.PeakIsPerStep {
		fmt.Fprintf(&b, "  (peak RSS is the process's so far: this system cannot restart the high-water mark per step)\n")
	}
	fmt.Fprintf(&b, "  target: memory flat in the number of rows; a shard's upload sends what changed, not its catalog\n")
	return b.String()
}

// Run builds the catalogs and measures each step.
func Run(ctx context.Context, o Options) (Report, error) {
	if o.Rows <= 0 {
		o.Rows = 1_000_000
	}
	if o.Shards <= 0 {
		o.Shards = 4
	}
	r := Report{Rows: o.Rows, Shards: o.Shards}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "scour-bench-catalog-")
		if err != nil {
			return r, err
		}
		defer os.RemoveAll(d)
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, fmt.Errorf("bench catalog: scratch folder: %w", err)
	}
	step := func(name string, fn func() (string, error)) error {
		runtime.GC()
		debug.FreeOSMemory()
		r.PeakIsPerStep = resetPeak()
		t0 := time.Now()
		note, err := fn()
		s := Step{Name: name, Seconds: time.Since(t0).Seconds(), PeakRSS: peakSinceReset(), Note: note}
		r.Steps = append(r.Steps, s)
		if err != nil {
			return fmt.Errorf("bench catalog: %s: %w", name, err)
		}
		return nil
	}

	shards := make([]string, o.Shards)
	for k := range shards {
		shards[k] = filepath.Join(dir, fmt.Sprintf("shard-%d.db", k))
	}
	err := step("generate shard catalogs", func() (string, error) {
		for k, p := range shards {
			n := o.Rows / o.Shards
			if k < o.Rows%o.Shards {
				n++
			}
			if err := generate(ctx, p, k, n); err != nil {
				return "", err
			}
		}
		return "one transaction per shard, in SQL", nil
	})
	if err != nil {
		return r, err
	}

	if err := measureUpload(ctx, dir, shards[0], &r, step); err != nil {
		return r, err
	}

	projDir := filepath.Join(dir, "project")
	if err := os.MkdirAll(projDir, 0o755); err != nil {
		return r, err
	}
	var yaml strings.Builder
	yaml.WriteString("classes:\n")
	for c := range classes {
		fmt.Fprintf(&yaml, "  - name: class%d\n", c)
	}
	if err := os.WriteFile(filepath.Join(projDir, "scour.yaml"), []byte(yaml.String()), 0o644); err != nil {
		return r, err
	}
	err = step("merge shard catalogs", func() (string, error) {
		proj, err := catalog.Open(ctx, filepath.Join(projDir, project.CatalogFile))
		if err != nil {
			return "", err
		}
		defer proj.Close()
		var urls, images, dups int
		for _, p := range shards {
			other, err := catalog.Open(ctx, p)
			if err != nil {
				return "", err
			}
			ms, err := proj.Merge(ctx, other)
			other.Close()
			if err != nil {
				return "", err
			}
			urls, images, dups = urls+ms.URLs, images+ms.Images, dups+ms.Duplicates
		}
		return fmt.Sprintf("%d URL rows, %d images, %d cross-shard duplicates", urls, images, dups), nil
	})
	if err != nil {
		return r, err
	}

	p, err := project.Open(ctx, projDir)
	if err != nil {
		return r, err
	}
	defer p.Close()
	if err := storeSamples(ctx, p); err != nil {
		return r, err
	}
	err = step("export CSV", func() (string, error) {
		f, err := os.Create(filepath.Join(dir, "catalog.csv"))
		if err != nil {
			return "", err
		}
		defer f.Close()
		if err := p.Catalog.Export(ctx, f, "csv"); err != nil {
			return "", err
		}
		fi, err := f.Stat()
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%.0f MB", float64(fi.Size())/1e6), nil
	})
	if err != nil {
		return r, err
	}
	err = step("export Parquet", func() (string, error) {
		path := filepath.Join(dir, "catalog.parquet")
		n, err := export.WriteParquet(ctx, export.CatalogRows(ctx, p.Catalog), path)
		if err != nil {
			return "", err
		}
		fi, err := os.Stat(path)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d rows, %.0f MB", n, float64(fi.Size())/1e6), nil
	})
	if err != nil {
		return r, err
	}
	err = step("report (dataset part)", func() (string, error) {
		rep, err := pipeline.BuildReport(ctx, p)
		if err != nil {
			return "", err
		}
		// The credits stream from the catalog only when read: read them
		// all, as Write does for credits.md.
		credits := 0
		if err := rep.Dataset.Credits(func(report.Credit) error { credits++; return nil }); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d classes, %d credits read", len(rep.Dataset.Classes), credits), nil
	})
	if err != nil {
		return r, err
	}
	for _, st := range []pipeline.Stage{pipeline.Gather{}, pipeline.Clean{}, pipeline.Split{}, pipeline.Train{}} {
		err = step("fingerprint "+st.Name(), func() (string, error) {
			_, err := st.Fingerprint(ctx, p)
			return "", err
		})
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

// storeSamples puts bytes in the store for the first images the report
// shows of each class and of the quarantine, as a real project has them:
// without them the report would try every image in turn.
func storeSamples(ctx context.Context, p *project.Project) error {
	done := errors.New("enough")
	for _, status := range []string{catalog.StatusKept, catalog.StatusQuarantined} {
		per := map[string]int{}
		full := 0
		err := p.Catalog.ForEachImage(ctx, catalog.ImageFilter{Status: status}, func(im catalog.Image) error {
			if per[im.Class] >= pipeline.SamplesPerGroup {
				return nil
			}
			b := []byte("sample " + im.SHA256)
			if err := p.Store.Put(ctx, im.Key, bytes.NewReader(b), int64(len(b))); err != nil {
				return err
			}
			if per[im.Class]++; per[im.Class] == pipeline.SamplesPerGroup {
				full++
			}
			if full == classes {
				return done
			}
			return nil
		})
		if err != nil && !errors.Is(err, done) {
			return err
		}
	}
	return nil
}

// classes is how many classes the synthetic rows are spread over.
const classes = 10

// generate writes a shard catalog of n URL rows with SQL alone, in one
// transaction: row-by-row inserts from Go would take most of the
// benchmark's time at ten million rows. A tenth of the rows failed; the
// rest have an image, a twentieth of them quarantined. Every hundredth row
// has bytes that the same row of every other shard has too, so that merge
// meets cross-shard duplicates.
func generate(ctx context.Context, path string, k, n int) error {
	c, err := catalog.Open(ctx, path) // the schema
	if err != nil {
		return err
	}
	if err := c.Close(); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{`PRAGMA synchronous=OFF`, `PRAGMA cache_size=-65536`, `BEGIN`,
		`WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM seq WHERE i+1 < ?1)
		INSERT INTO urls(id, url, class, engine, query, rank, page_url, title, license, author, state, cause, http_status, attempts, sha256, found_at, updated_at)
		SELECT lower(hex(randomblob(16))), printf('https://host%d.invalid/shard%d/photo-%d.jpg', i % 997, ?2, i), 'class' || (i % 10), 'bench', 'query ' || (i % 10), i % 500,
			printf('https://host%d.invalid/page/%d', i % 997, i), printf('photo %d of shard %d', i, ?2), 'cc-by', 'author ' || (i % 5000),
			CASE WHEN i % 10 = 9 THEN 'failed' ELSE 'done' END, CASE WHEN i % 10 = 9 THEN 'http-404' ELSE '' END,
			CASE WHEN i % 10 = 9 THEN 404 ELSE 200 END, 1,
			CASE WHEN i % 10 = 9 THEN '' WHEN i % 100 = 0 THEN printf('%064x', i) ELSE printf('%032x%032x', ?2 + 1, i) END,
			'2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'
		FROM seq`,
		`INSERT INTO images(sha256, class, key, format, width, height, bytes, phash, url_id, fetched_at, status, reason)
		SELECT sha256, class, 'images/' || class || '/' || sha256 || '.jpg', 'jpeg', 640, 480, 40000 + rowid % 20000, random(), id, updated_at,
			CASE WHEN rowid % 20 = 3 THEN 'quarantined' ELSE 'kept' END, CASE WHEN rowid % 20 = 3 THEN 'off-topic' ELSE '' END
		FROM urls WHERE state = 'done'`,
		`COMMIT`} {
		if _, err := db.ExecContext(ctx, q, n, k); err != nil {
			return fmt.Errorf("generating %s: %w", path, err)
		}
	}
	return nil
}

// measureUpload uploads one shard catalog whole, changes 1% of its rows
// as a minute of fetching would (a run of rows found together, fetched
// together; their index entries are all over the file), and uploads it
// again.
func measureUpload(ctx context.Context, dir, path string, r *Report, step func(string, func() (string, error)) error) error {
	st, err := store.NewLocal(filepath.Join(dir, "bucket"))
	if err != nil {
		return err
	}
	c, err := catalog.Open(ctx, path)
	if err != nil {
		return err
	}
	defer c.Close()
	s := shard.Spec{K: 0, N: r.Shards}
	err = step("shard upload, whole", func() (string, error) {
		r.Whole, err = shard.UploadPages(ctx, st, s, c)
		return fmt.Sprintf("%.0f MB sent", float64(r.Whole.Bytes)/1e6), err
	})
	if err != nil {
		return err
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `UPDATE urls SET attempts = attempts + 1, state = 'failed', cause = 'http-503', updated_at = '2026-01-01T00:01:00Z' WHERE rowid BETWEEN ?1 AND ?1 + ?1 / 50`, r.Rows/r.Shards/2)
	db.Close()
	if err != nil {
		return err
	}
	return step("shard upload, 1% changed", func() (string, error) {
		r.Delta, err = shard.UploadPages(ctx, st, s, c)
		return fmt.Sprintf("%.1f MB sent (%d of %d pages)", float64(r.Delta.Bytes)/1e6, r.Delta.Changed, r.Delta.Pages), err
	})
}
