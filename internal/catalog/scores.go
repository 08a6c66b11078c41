package catalog

import (
	"context"
	"fmt"
)

// Score is clean's doubt about one image. Scores grow with doubt, so the
// most doubtful sort first in descending order; a zero threshold means that
// view was not judged (no model, one class, a method turned off).
type Score struct {
	SHA256            string
	OffTopic          float64
	OffTopicThreshold float64
	OffTopicMethod    string
	Misfiled          float64
	MisfiledThreshold float64
	Suggest           string
}

// SaveScores upserts scores in one transaction.
func (c *Catalog) SaveScores(ctx context.Context, scores []Score) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return c.corrupt(err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO clean_scores(sha256, offtopic, offtopic_threshold, offtopic_method, misfiled, misfiled_threshold, suggest, scored_at)
		VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(sha256) DO UPDATE SET offtopic=excluded.offtopic, offtopic_threshold=excluded.offtopic_threshold,
		offtopic_method=excluded.offtopic_method, misfiled=excluded.misfiled, misfiled_threshold=excluded.misfiled_threshold,
		suggest=excluded.suggest, scored_at=excluded.scored_at`)
	if err != nil {
		return c.corrupt(err)
	}
	defer st.Close()
	at := now()
	for _, s := range scores {
		if _, err := st.ExecContext(ctx, s.SHA256, s.OffTopic, s.OffTopicThreshold, s.OffTopicMethod, s.Misfiled, s.MisfiledThreshold, s.Suggest, at); err != nil {
			return c.corrupt(fmt.Errorf("catalog: saving scores: %w", err))
		}
	}
	return c.corrupt(tx.Commit())
}

// Scores returns every image's last score by sha256.
func (c *Catalog) Scores(ctx context.Context) (map[string]Score, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT sha256, offtopic, offtopic_threshold, offtopic_method, misfiled, misfiled_threshold, suggest FROM clean_scores`)
	if err != nil {
		return nil, c.corrupt(err)
	}
	defer rows.Close()
	out := map[string]Score{}
	for rows.Next() {
		var s Score
		if err := rows.Scan(&s.SHA256, &s.OffTopic, &s.OffTopicThreshold, &s.OffTopicMethod, &s.Misfiled, &s.MisfiledThreshold, &s.Suggest); err != nil {
			return nil, c.corrupt(err)
		}
		out[s.SHA256] = s
	}
	return out, c.corrupt(rows.Err())
}
