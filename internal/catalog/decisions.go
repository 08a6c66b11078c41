package catalog

import (
	"context"
	"time"
)

// ReviewDecision is what the review page recorded about a person's verdict
// on an image, besides clean's own decision: why the image was in
// quarantine when the person decided (a kept image no longer says) and
// where its bytes were, so the verdict can be undone.
type ReviewDecision struct {
	SHA256, Decision, Reason, Method, FromKey string
	Score                                     float64
	// Undoing is set while an undo is under way, so that one a crash cut
	// short can be finished.
	Undoing bool
}

// decidedAt is fixed-width, unlike RFC 3339 with trimmed fractions, so that
// the text sorts in time order.
const decidedAt = "2006-01-02T15:04:05.000000000Z"

// ReviewDecisions returns every recorded review decision.
func (c *Catalog) ReviewDecisions(ctx context.Context) ([]ReviewDecision, error) {
	return c.reviewDecisions(ctx, ``)
}

// GetReviewDecision returns the review decision on sha, if there is one.
func (c *Catalog) GetReviewDecision(ctx context.Context, sha string) (ReviewDecision, bool, error) {
	return c.oneReviewDecision(ctx, `WHERE sha256 = ?`, sha)
}

// LastReviewDecision returns the review decision made last, if there is one.
func (c *Catalog) LastReviewDecision(ctx context.Context) (ReviewDecision, bool, error) {
	return c.oneReviewDecision(ctx, `ORDER BY decided_at DESC LIMIT 1`)
}

func (c *Catalog) oneReviewDecision(ctx context.Context, where string, args ...any) (ReviewDecision, bool, error) {
	ds, err := c.reviewDecisions(ctx, where, args...)
	if err != nil || len(ds) == 0 {
		return ReviewDecision{}, false, err
	}
	return ds[0], true, nil
}

func (c *Catalog) reviewDecisions(ctx context.Context, where string, args ...any) ([]ReviewDecision, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT sha256, decision, reason, score, method, from_key, undoing
		FROM review_decisions `+where, args...)
	if err != nil {
		return nil, c.corrupt(err)
	}
	defer rows.Close()
	var out []ReviewDecision
	for rows.Next() {
		var d ReviewDecision
		if err := rows.Scan(&d.SHA256, &d.Decision, &d.Reason, &d.Score, &d.Method, &d.FromKey, &d.Undoing); err != nil {
			return nil, c.corrupt(err)
		}
		out = append(out, d)
	}
	return out, c.corrupt(rows.Err())
}

// SaveReviewDecision records d, made now, in place of any earlier decision
// on the same image; d.Undoing is ignored (a new decision is not being
// undone).
func (c *Catalog) SaveReviewDecision(ctx context.Context, d ReviewDecision) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO review_decisions(sha256, decision, reason, score, method, from_key, decided_at)
		VALUES(?,?,?,?,?,?,?) ON CONFLICT(sha256) DO UPDATE SET decision=excluded.decision, reason=excluded.reason,
		score=excluded.score, method=excluded.method, from_key=excluded.from_key, decided_at=excluded.decided_at, undoing=0`,
		d.SHA256, d.Decision, d.Reason, d.Score, d.Method, d.FromKey, time.Now().UTC().Format(decidedAt))
	return c.corrupt(err)
}

// DeleteReviewDecision forgets the review decision on sha.
func (c *Catalog) DeleteReviewDecision(ctx context.Context, sha string) error {
	_, err := c.db.ExecContext(ctx, `DELETE FROM review_decisions WHERE sha256 = ?`, sha)
	return c.corrupt(err)
}

// SetReviewUndoing marks the review decision on sha as being undone, or
// (false) no longer.
func (c *Catalog) SetReviewUndoing(ctx context.Context, sha string, undoing bool) error {
	flag := 0
	if undoing {
		flag = 1
	}
	_, err := c.db.ExecContext(ctx, `UPDATE review_decisions SET undoing = ? WHERE sha256 = ?`, flag, sha)
	return c.corrupt(err)
}

// CleanDecisions returns a person's decisions (keep or reject) that clean
// obeys, by sha256.
func (c *Catalog) CleanDecisions(ctx context.Context) (map[string]string, error) {
	return c.pairs(ctx, `SELECT sha256, decision FROM clean_decisions`)
}

// SetCleanDecision records decision on sha in place of any earlier one.
func (c *Catalog) SetCleanDecision(ctx context.Context, sha, decision string) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO clean_decisions(sha256, decision, decided_at) VALUES(?,?,?)
		ON CONFLICT(sha256) DO UPDATE SET decision = excluded.decision, decided_at = excluded.decided_at`, sha, decision, now())
	return c.corrupt(err)
}

// DeleteCleanDecision forgets the decision on sha when it is decision, or
// whatever it is when decision is "".
func (c *Catalog) DeleteCleanDecision(ctx context.Context, sha, decision string) error {
	q, args := `DELETE FROM clean_decisions WHERE sha256 = ?`, []any{sha}
	if decision != "" {
		q += ` AND decision = ?`
		args = append(args, decision)
	}
	_, err := c.db.ExecContext(ctx, q, args...)
	return c.corrupt(err)
}

// CleanDecision returns the standing decision on sha, "" when there is none.
func (c *Catalog) CleanDecision(ctx context.Context, sha string) (string, error) {
	return c.text(ctx, `SELECT decision FROM clean_decisions WHERE sha256 = ?`, sha)
}
