package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The pipeline_stages table is created by internal/pipeline's migration
// (950): one row per stage of `scour run`, with the fingerprint of the
// stage's inputs as they stood when it last finished.

// StageFingerprint returns the fingerprint recorded when stage last
// finished, or "" when it never did.
func (c *Catalog) StageFingerprint(ctx context.Context, stage string) (string, error) {
	var fp string
	err := c.db.QueryRowContext(ctx, `SELECT fingerprint FROM pipeline_stages WHERE stage=?`, stage).Scan(&fp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", c.corrupt(fmt.Errorf("catalog: stage %s: %w", stage, err))
	}
	return fp, nil
}

// RecordStage records that stage finished with inputs of fingerprint fp.
func (c *Catalog) RecordStage(ctx context.Context, stage, fp string) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO pipeline_stages(stage, fingerprint, finished_at) VALUES(?,?,?)
		ON CONFLICT(stage) DO UPDATE SET fingerprint=excluded.fingerprint, finished_at=excluded.finished_at`,
		stage, fp, time.Now().UTC().Format(time.RFC3339))
	if err != nil {
		return c.corrupt(fmt.Errorf("catalog: record stage %s: %w", stage, err))
	}
	return nil
}

// QuickCheck runs SQLite's integrity check and returns its verdict: "ok"
// for a sound file, otherwise the first problem it found.
func (c *Catalog) QuickCheck(ctx context.Context) (string, error) {
	var res string
	err := c.db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&res)
	return res, err
}
