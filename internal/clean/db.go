package clean

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/vision"
)

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// dbErr marks a database failure as fatal: the catalog is the run's memory,
// and going on without it would lose what the run decides.
func dbErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return errkind.Fatal(fmt.Errorf("clean: %s: %w", what, err))
}

// inTx runs fn in one transaction.
func inTx(ctx context.Context, db *sql.DB, what string, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return dbErr(what, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return dbErr(what, err)
	}
	return dbErr(what, tx.Commit())
}

// loadMeasures returns the cached measures that are current: taken by this
// version of the code and, for a "too-many-pixels" finding, under the same
// limit (a higher limit might let the image decode).
func loadMeasures(ctx context.Context, db *sql.DB, maxPixels int64) (map[string]Measure, error) {
	rows, err := db.QueryContext(ctx, `SELECT sha256, max_pixels, broken, broken_msg, width, height, pixel_hash, phash,
		sharpness, brightness, contrast, entropy, colourfulness FROM clean_measures WHERE version = ?`, measureVersion)
	if err != nil {
		return nil, dbErr("reading measures", err)
	}
	defer rows.Close()
	out := map[string]Measure{}
	for rows.Next() {
		var sha string
		var limit, ph int64
		var m Measure
		if err := rows.Scan(&sha, &limit, &m.Broken, &m.BrokenMsg, &m.Width, &m.Height, &m.PixelHash, &ph,
			&m.Sharpness, &m.Brightness, &m.Contrast, &m.Entropy, &m.Colourfulness); err != nil {
			return nil, dbErr("reading measures", err)
		}
		if m.Broken == tooManyPixels && limit != maxPixels {
			continue
		}
		m.PHash = uint64(ph)
		out[sha] = m
	}
	return out, dbErr("reading measures", rows.Err())
}

const tooManyPixels = "too-many-pixels" // imaging.CauseTooManyPixels

func saveMeasures(ctx context.Context, db *sql.DB, maxPixels int64, ms map[string]Measure) error {
	return inTx(ctx, db, "saving measures", func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO clean_measures(sha256, version, max_pixels, broken, broken_msg,
			width, height, pixel_hash, phash, sharpness, brightness, contrast, entropy, colourfulness)
			VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for sha, m := range ms {
			if _, err := st.ExecContext(ctx, sha, measureVersion, maxPixels, m.Broken, m.BrokenMsg, m.Width, m.Height,
				m.PixelHash, int64(m.PHash), m.Sharpness, m.Brightness, m.Contrast, m.Entropy, m.Colourfulness); err != nil {
				return err
			}
		}
		return nil
	})
}

// features is what a labeler said about one image.
type features struct {
	Labels    []vision.Label
	Embedding []float32
}

type labelJSON struct {
	Name       string  `json:"name"`
	Confidence float64 `json:"confidence"`
}

func loadFeatures(ctx context.Context, db *sql.DB, model string) (map[string]features, error) {
	rows, err := db.QueryContext(ctx, `SELECT sha256, labels, embedding FROM clean_features WHERE model = ?`, model)
	if err != nil {
		return nil, dbErr("reading labels", err)
	}
	defer rows.Close()
	out := map[string]features{}
	for rows.Next() {
		var sha, labels string
		var emb []byte
		if err := rows.Scan(&sha, &labels, &emb); err != nil {
			return nil, dbErr("reading labels", err)
		}
		var ls []labelJSON
		if json.Unmarshal([]byte(labels), &ls) != nil || len(emb)%4 != 0 {
			continue // a damaged cache entry is simply asked for again
		}
		f := features{Embedding: decodeEmbedding(emb)}
		for _, l := range ls {
			f.Labels = append(f.Labels, vision.Label{Name: l.Name, Confidence: l.Confidence})
		}
		out[sha] = f
	}
	return out, dbErr("reading labels", rows.Err())
}

func saveFeatures(ctx context.Context, db *sql.DB, model string, fs map[string]features) error {
	return inTx(ctx, db, "saving labels", func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO clean_features(sha256, model, labels, embedding) VALUES(?,?,?,?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for sha, f := range fs {
			ls := make([]labelJSON, len(f.Labels))
			for i, l := range f.Labels {
				ls[i] = labelJSON{l.Name, l.Confidence}
			}
			labels, err := json.Marshal(ls)
			if err != nil {
				return err
			}
			if _, err := st.ExecContext(ctx, sha, model, string(labels), encodeEmbedding(f.Embedding)); err != nil {
				return err
			}
		}
		return nil
	})
}

func encodeEmbedding(v []float32) []byte {
	if v == nil {
		return nil
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func decodeEmbedding(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// Decisions a person can make about an image.
const (
	DecisionKeep   = "keep"   // never quarantine it again
	DecisionReject = "reject" // quarantine it (reason "rejected") whatever the checks say
)

// SetDecision records a person's decision about an image, which every later
// run of clean obeys; "" forgets it. The review page and Restore use it.
// The image must be in the catalog.
func SetDecision(ctx context.Context, cat *catalog.Catalog, sha, decision string) error {
	if _, err := cat.GetImage(ctx, sha); err != nil {
		return fmt.Errorf("clean: decision on %s: %w", sha, err)
	}
	switch decision {
	case DecisionKeep, DecisionReject:
		return upsertDecision(ctx, cat.DB(), sha, decision)
	case "":
		_, err := cat.DB().ExecContext(ctx, `DELETE FROM clean_decisions WHERE sha256 = ?`, sha)
		return dbErr("recording a decision", err)
	}
	return errkind.Permanent(fmt.Errorf("clean: unknown decision %q (want %q, %q or none)", decision, DecisionKeep, DecisionReject))
}

func upsertDecision(ctx context.Context, db *sql.DB, sha, decision string) error {
	_, err := db.ExecContext(ctx, `INSERT INTO clean_decisions(sha256, decision, decided_at) VALUES(?,?,?)
		ON CONFLICT(sha256) DO UPDATE SET decision = excluded.decision, decided_at = excluded.decided_at`, sha, decision, now())
	return dbErr("recording a decision", err)
}

func loadDecisions(ctx context.Context, db *sql.DB) (map[string]string, error) {
	return loadPairs(ctx, db, "reading decisions", `SELECT sha256, decision FROM clean_decisions`)
}

func loadOriginalKeys(ctx context.Context, db *sql.DB) (map[string]string, error) {
	return loadPairs(ctx, db, "reading moves", `SELECT sha256, original_key FROM clean_moves`)
}

func loadPairs(ctx context.Context, db *sql.DB, what, q string) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, dbErr(what, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, dbErr(what, err)
		}
		out[k] = v
	}
	return out, dbErr(what, rows.Err())
}

// Flag is one finding about one image. Score is, for a pixel check, the
// value measured (see Check); for broken, 0, with the decoder's cause as
// Method; for duplicate, the perceptual-hash distance in bits to the copy
// kept, whose sha256 is Detail, and how it was linked as Method (exact,
// phash, embedding, phash+embedding, chain); for cross-class, the number
// of classes the group spans; for off-topic, the robust z-score (0 for the
// labels method), with the method as Method.
type Flag struct {
	SHA256 string  `json:"sha256"`
	Reason string  `json:"reason"`
	Score  float64 `json:"score"`
	Method string  `json:"method,omitempty"`
	Detail string  `json:"detail,omitempty"`
}

// Flags returns the findings of the last clean run, by image then reason;
// reason "" means all.
func Flags(ctx context.Context, cat *catalog.Catalog, reason string) ([]Flag, error) {
	q := `SELECT sha256, reason, score, method, detail FROM clean_flags`
	var args []any
	if reason != "" {
		q += ` WHERE reason = ?`
		args = append(args, reason)
	}
	rows, err := cat.DB().QueryContext(ctx, q+` ORDER BY sha256, reason`, args...)
	if err != nil {
		return nil, dbErr("reading flags", err)
	}
	defer rows.Close()
	var out []Flag
	for rows.Next() {
		var f Flag
		if err := rows.Scan(&f.SHA256, &f.Reason, &f.Score, &f.Method, &f.Detail); err != nil {
			return nil, dbErr("reading flags", err)
		}
		out = append(out, f)
	}
	return out, dbErr("reading flags", rows.Err())
}

// Groups returns the duplicate groups of the last clean run: for every image
// in a group of two or more, the group's id (the sha256 of the copy kept).
// Images in no group are absent. Split keeps each group on one side.
func Groups(ctx context.Context, cat *catalog.Catalog) (map[string]string, error) {
	return loadPairs(ctx, cat.DB(), "reading duplicate groups", `SELECT sha256, group_id FROM clean_groups`)
}

// Embeddings returns the cached embeddings that labeler model (its Name())
// computed during clean, by content hash. Images clean never labelled are
// absent; transfer learning trains on what is there.
func Embeddings(ctx context.Context, cat *catalog.Catalog, model string) (map[string][]float32, error) {
	fs, err := loadFeatures(ctx, cat.DB(), model)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]float32, len(fs))
	for sha, f := range fs {
		if len(f.Embedding) > 0 {
			out[sha] = f.Embedding
		}
	}
	return out, nil
}
