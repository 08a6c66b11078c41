package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
)

// CleanMeasure is what decoding an image's bytes showed clean; see
// clean.Measure. That type has the same fields and converts to this one, so
// a field added there does not compile until it has a column here too (a
// new migration in schema.go).
type CleanMeasure struct {
	Broken    string
	BrokenMsg string

	Width, Height int
	PixelHash     string
	PHash         uint64

	Sharpness     float64
	Brightness    float64
	Contrast      float64
	Entropy       float64
	Colourfulness float64
}

// ForEachCleanMeasure calls fn with every cached measure taken by version
// of clean's measuring code, and the decoding limit it was taken under.
func (c *Catalog) ForEachCleanMeasure(ctx context.Context, version int, fn func(sha string, maxPixels int64, m CleanMeasure) error) error {
	rows, err := c.db.QueryContext(ctx, `SELECT sha256, max_pixels, broken, broken_msg, width, height, pixel_hash, phash,
		sharpness, brightness, contrast, entropy, colourfulness FROM clean_measures WHERE version = ?`, version)
	if err != nil {
		return c.corrupt(err)
	}
	defer rows.Close()
	for rows.Next() {
		var sha string
		var limit, ph int64
		var m CleanMeasure
		if err := rows.Scan(&sha, &limit, &m.Broken, &m.BrokenMsg, &m.Width, &m.Height, &m.PixelHash, &ph,
			&m.Sharpness, &m.Brightness, &m.Contrast, &m.Entropy, &m.Colourfulness); err != nil {
			return c.corrupt(err)
		}
		m.PHash = uint64(ph)
		if err := fn(sha, limit, m); err != nil {
			return err
		}
	}
	return c.corrupt(rows.Err())
}

// SaveCleanMeasures caches measures (by sha256) taken by version under the
// decoding limit maxPixels, in one transaction.
func (c *Catalog) SaveCleanMeasures(ctx context.Context, version int, maxPixels int64, ms map[string]CleanMeasure) error {
	return c.inTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO clean_measures(sha256, version, max_pixels, broken, broken_msg,
			width, height, pixel_hash, phash, sharpness, brightness, contrast, entropy, colourfulness)
			VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for sha, m := range ms {
			if _, err := st.ExecContext(ctx, sha, version, maxPixels, m.Broken, m.BrokenMsg, m.Width, m.Height,
				m.PixelHash, int64(m.PHash), m.Sharpness, m.Brightness, m.Contrast, m.Entropy, m.Colourfulness); err != nil {
				return err
			}
		}
		return nil
	})
}

// CleanLabel is one label a labeler gave an image.
type CleanLabel struct {
	Name       string
	Confidence float64
}

// CleanFeatures is what a labeler said about one image.
type CleanFeatures struct {
	Labels    []CleanLabel // most confident first
	Embedding []float32    // L2-normalised; nil when the model has none; stored as float16 (embeddings.go)
}

type labelJSON struct {
	Name       string  `json:"name"`
	Confidence float64 `json:"confidence"`
}

// CleanFeatures returns, by sha256, what the labeler model said about the
// images it labelled. A damaged entry is left out, so it is asked for
// again.
func (c *Catalog) CleanFeatures(ctx context.Context, model string) (map[string]CleanFeatures, error) {
	out := map[string]CleanFeatures{}
	err := c.ForEachCleanFeatures(ctx, model, func(sha string, f CleanFeatures) error {
		out[sha] = f
		return nil
	})
	return out, err
}

// SaveCleanFeatures caches what the labeler model said (by sha256), in one
// transaction.
func (c *Catalog) SaveCleanFeatures(ctx context.Context, model string, fs map[string]CleanFeatures) error {
	return c.inTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO clean_features(sha256, model, labels, embedding) VALUES(?,?,?,?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for sha, f := range fs {
			ls := make([]labelJSON, len(f.Labels))
			for i, l := range f.Labels {
				ls[i] = labelJSON(l)
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

// CleanFlag is one finding of clean's last run about one image; see
// clean.Flag, which has the same fields and converts to this type.
type CleanFlag struct {
	SHA256 string
	Reason string
	Score  float64
	Method string
	Detail string
}

// CleanVerdict is what a clean run decided about one image for one reason
// it judged: flagged (with Flag's score, method and detail) or not.
type CleanVerdict struct {
	Flag    CleanFlag
	Flagged bool
}

// CleanGroup places one image in a duplicate group.
type CleanGroup struct {
	SHA256 string
	Group  string // the sha256 of the copy kept
	Kind   string // how it relates to that copy: kept | exact | near
}

// RecordCleanRun stores what a clean run found, in one transaction: each
// verdict replaces the flag for its image and reason (a reason the run did
// not judge keeps its old flag), flags of images no longer in the catalog
// are dropped, and groups replace every duplicate group.
func (c *Catalog) RecordCleanRun(ctx context.Context, verdicts []CleanVerdict, groups []CleanGroup) error {
	return c.inTx(ctx, func(tx *sql.Tx) error {
		del, err := tx.PrepareContext(ctx, `DELETE FROM clean_flags WHERE sha256 = ? AND reason = ?`)
		if err != nil {
			return err
		}
		defer del.Close()
		ins, err := tx.PrepareContext(ctx, `INSERT INTO clean_flags(sha256, reason, score, method, detail) VALUES(?,?,?,?,?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, v := range verdicts {
			f := v.Flag
			if _, err := del.ExecContext(ctx, f.SHA256, f.Reason); err != nil {
				return err
			}
			if v.Flagged {
				if _, err := ins.ExecContext(ctx, f.SHA256, f.Reason, f.Score, f.Method, f.Detail); err != nil {
					return err
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM clean_flags WHERE sha256 NOT IN (SELECT sha256 FROM images)`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM clean_groups`); err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO clean_groups(sha256, group_id, kind) VALUES(?,?,?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, g := range groups {
			if _, err := st.ExecContext(ctx, g.SHA256, g.Group, g.Kind); err != nil {
				return err
			}
		}
		return nil
	})
}

// CleanFlags returns the flags of the last clean run, by image then
// reason; reason "" means all.
func (c *Catalog) CleanFlags(ctx context.Context, reason string) ([]CleanFlag, error) {
	q := `SELECT sha256, reason, score, method, detail FROM clean_flags`
	var args []any
	if reason != "" {
		q += ` WHERE reason = ?`
		args = append(args, reason)
	}
	rows, err := c.db.QueryContext(ctx, q+` ORDER BY sha256, reason`, args...)
	if err != nil {
		return nil, c.corrupt(err)
	}
	defer rows.Close()
	var out []CleanFlag
	for rows.Next() {
		var f CleanFlag
		if err := rows.Scan(&f.SHA256, &f.Reason, &f.Score, &f.Method, &f.Detail); err != nil {
			return nil, c.corrupt(err)
		}
		out = append(out, f)
	}
	return out, c.corrupt(rows.Err())
}

// CleanGroups returns, for every image in a duplicate group of the last
// clean run, the group's id (the sha256 of the copy kept).
func (c *Catalog) CleanGroups(ctx context.Context) (map[string]string, error) {
	return c.pairs(ctx, `SELECT sha256, group_id FROM clean_groups`)
}

// CleanMove is clean's record of an image it moved: where it first found
// it, and the move in flight (To is "" when none is).
type CleanMove struct {
	SHA256      string
	OriginalKey string
	From, To    string
	// What the catalog row becomes once the move is done.
	Status, Reason, Method string
	Score                  float64
}

// JournalCleanMove records a move before the store is touched. The original
// key is kept from the first move of the image and never changed after, so
// it always says where clean found the image.
func (c *Catalog) JournalCleanMove(ctx context.Context, m CleanMove) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO clean_moves(sha256, original_key, pending_from, pending_to,
		pending_status, pending_reason, pending_method, pending_score) VALUES(?,?,?,?,?,?,?,?)
		ON CONFLICT(sha256) DO UPDATE SET pending_from=excluded.pending_from, pending_to=excluded.pending_to,
		pending_status=excluded.pending_status, pending_reason=excluded.pending_reason,
		pending_method=excluded.pending_method, pending_score=excluded.pending_score`,
		m.SHA256, m.OriginalKey, m.From, m.To, m.Status, m.Reason, m.Method, m.Score)
	return c.corrupt(err)
}

// SettleCleanMove records that no move of sha is in flight any more.
func (c *Catalog) SettleCleanMove(ctx context.Context, sha string) error {
	_, err := c.db.ExecContext(ctx, `UPDATE clean_moves SET pending_from='', pending_to='' WHERE sha256=?`, sha)
	return c.corrupt(err)
}

// PendingCleanMoves returns the moves journalled and not settled: those a
// crash interrupted.
func (c *Catalog) PendingCleanMoves(ctx context.Context) ([]CleanMove, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT sha256, original_key, pending_from, pending_to, pending_status, pending_reason,
		pending_method, pending_score FROM clean_moves WHERE pending_to != ''`)
	if err != nil {
		return nil, c.corrupt(err)
	}
	defer rows.Close()
	var out []CleanMove
	for rows.Next() {
		var m CleanMove
		if err := rows.Scan(&m.SHA256, &m.OriginalKey, &m.From, &m.To, &m.Status, &m.Reason, &m.Method, &m.Score); err != nil {
			return nil, c.corrupt(err)
		}
		out = append(out, m)
	}
	return out, c.corrupt(rows.Err())
}

// CleanOriginalKeys returns, by sha256, where clean first found every
// image it has moved.
func (c *Catalog) CleanOriginalKeys(ctx context.Context) (map[string]string, error) {
	return c.pairs(ctx, `SELECT sha256, original_key FROM clean_moves`)
}

// pairs reads a query of two text columns into a map from the first to
// the second.
func (c *Catalog) pairs(ctx context.Context, q string) (map[string]string, error) {
	rows, err := c.db.QueryContext(ctx, q)
	if err != nil {
		return nil, c.corrupt(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, c.corrupt(err)
		}
		out[k] = v
	}
	return out, c.corrupt(rows.Err())
}

// inTx runs fn in one transaction, committed when fn returns nil.
func (c *Catalog) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return c.corrupt(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return c.corrupt(err)
	}
	return c.corrupt(tx.Commit())
}

// CleanOriginalKey returns where Restore would put sha back, "" when clean
// has no record of moving it.
func (c *Catalog) CleanOriginalKey(ctx context.Context, sha string) (string, error) {
	return c.text(ctx, `SELECT original_key FROM clean_moves WHERE sha256 = ?`, sha)
}

// SetCleanOriginalKey makes key the place Restore puts sha back; "" forgets
// the record, so Restore leaves the image where it is.
func (c *Catalog) SetCleanOriginalKey(ctx context.Context, sha, key string) error {
	var err error
	if key == "" {
		_, err = c.db.ExecContext(ctx, `DELETE FROM clean_moves WHERE sha256 = ?`, sha)
	} else {
		_, err = c.db.ExecContext(ctx, `INSERT INTO clean_moves(sha256, original_key) VALUES(?, ?)
			ON CONFLICT(sha256) DO UPDATE SET original_key = excluded.original_key`, sha, key)
	}
	return c.corrupt(err)
}

// text reads one text value, "" when there is no row.
func (c *Catalog) text(ctx context.Context, q string, args ...any) (string, error) {
	var v string
	err := c.db.QueryRowContext(ctx, q, args...).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, c.corrupt(err)
}
