package catalog

import (
	"context"
	"database/sql"
	"fmt"
)

// Class move states: a move is "moving" from before its bytes leave until
// the catalog says where they went, "done" while it stands, "undoing" from
// before its bytes go back until the row is deleted.
const (
	MoveMoving  = "moving"
	MoveDone    = "done"
	MoveUndoing = "undoing"
)

// ClassMove is a person's decision that an image belongs to another class,
// with what is needed to take it back.
type ClassMove struct {
	SHA256             string
	FromClass, ToClass string
	FromKey, ToKey     string
	FromStatus         string
	FromReason         string
	FromMethod         string
	FromScore          float64
	PrevOriginal       string
	PrevDecision       string
	State              string
	MovedAt            string // RFC 3339, UTC; set by BeginClassMove
}

const classMoveCols = `sha256, from_class, to_class, from_key, to_key, from_status, from_reason, from_method, from_score,
	prev_original, prev_decision, state, moved_at`

// BeginClassMove records a move about to happen (state moving), replacing
// any earlier record for the image.
func (c *Catalog) BeginClassMove(ctx context.Context, m ClassMove) error {
	_, err := c.db.ExecContext(ctx, `INSERT OR REPLACE INTO class_moves(`+classMoveCols+`) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		m.SHA256, m.FromClass, m.ToClass, m.FromKey, m.ToKey, m.FromStatus, m.FromReason, m.FromMethod, m.FromScore,
		m.PrevOriginal, m.PrevDecision, MoveMoving, now())
	return c.corrupt(err)
}

// FinishClassMove gives the image its new class and marks the move done, in
// one transaction. The image's key and status are the mover's to set.
func (c *Catalog) FinishClassMove(ctx context.Context, sha string) error {
	return c.classMoveTx(ctx, sha, func(tx *sql.Tx, m ClassMove) error {
		if _, err := tx.ExecContext(ctx, `UPDATE images SET class = ? WHERE sha256 = ?`, m.ToClass, sha); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE class_moves SET state = ? WHERE sha256 = ?`, MoveDone, sha)
		return err
	})
}

// UndoneClassMove gives the image its old class back and deletes the move,
// in one transaction: the bytes are back at FromKey.
func (c *Catalog) UndoneClassMove(ctx context.Context, sha string) error {
	return c.classMoveTx(ctx, sha, func(tx *sql.Tx, m ClassMove) error {
		if _, err := tx.ExecContext(ctx, `UPDATE images SET class = ? WHERE sha256 = ?`, m.FromClass, sha); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM class_moves WHERE sha256 = ?`, sha)
		return err
	})
}

func (c *Catalog) classMoveTx(ctx context.Context, sha string, fn func(*sql.Tx, ClassMove) error) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return c.corrupt(err)
	}
	defer tx.Rollback()
	m, err := scanClassMove(tx.QueryRowContext(ctx, `SELECT `+classMoveCols+` FROM class_moves WHERE sha256 = ?`, sha))
	if err == sql.ErrNoRows {
		return fmt.Errorf("class move of %s: %w", sha, ErrNotFound)
	}
	if err != nil {
		return c.corrupt(err)
	}
	if err := fn(tx, m); err != nil {
		return c.corrupt(fmt.Errorf("catalog: class move of %s: %w", sha, err))
	}
	return c.corrupt(tx.Commit())
}

// SetClassMoveState marks a move as undoing, or back to done when an undo
// never moved the bytes.
func (c *Catalog) SetClassMoveState(ctx context.Context, sha, state string) error {
	_, err := c.db.ExecContext(ctx, `UPDATE class_moves SET state = ? WHERE sha256 = ?`, state, sha)
	return c.corrupt(err)
}

// DeleteClassMove forgets a move that never happened (its bytes never left).
func (c *Catalog) DeleteClassMove(ctx context.Context, sha string) error {
	_, err := c.db.ExecContext(ctx, `DELETE FROM class_moves WHERE sha256 = ?`, sha)
	return c.corrupt(err)
}

// GetClassMove returns the move recorded for sha, or ErrNotFound.
func (c *Catalog) GetClassMove(ctx context.Context, sha string) (ClassMove, error) {
	m, err := scanClassMove(c.db.QueryRowContext(ctx, `SELECT `+classMoveCols+` FROM class_moves WHERE sha256 = ?`, sha))
	if err == sql.ErrNoRows {
		return m, fmt.Errorf("class move of %s: %w", sha, ErrNotFound)
	}
	return m, c.corrupt(err)
}

// ClassMoves returns every recorded move, oldest first.
func (c *Catalog) ClassMoves(ctx context.Context) ([]ClassMove, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+classMoveCols+` FROM class_moves ORDER BY moved_at, sha256`)
	if err != nil {
		return nil, c.corrupt(err)
	}
	defer rows.Close()
	var out []ClassMove
	for rows.Next() {
		m, err := scanClassMove(rows)
		if err != nil {
			return nil, c.corrupt(err)
		}
		out = append(out, m)
	}
	return out, c.corrupt(rows.Err())
}

func scanClassMove(s scanner) (ClassMove, error) {
	var m ClassMove
	err := s.Scan(&m.SHA256, &m.FromClass, &m.ToClass, &m.FromKey, &m.ToKey, &m.FromStatus, &m.FromReason, &m.FromMethod, &m.FromScore,
		&m.PrevOriginal, &m.PrevDecision, &m.State, &m.MovedAt)
	return m, err
}

// Review decisions as ReviewExamples names them.
const (
	ReviewKeep    = "keep"
	ReviewDiscard = "discard"
	ReviewMove    = "move"
)

// ReviewExample is one standing decision a person made in review: a
// labelled example for clean to learn from.
type ReviewExample struct {
	SHA256   string
	Decision string // keep | discard | move
	// Class is where the person says the image belongs (keep, move) or
	// does not belong (discard): the image's class now.
	Class string
	// FromClass is, for a move, the class clean had it in: the person says
	// it does not belong there.
	FromClass string
	DecidedAt string // UTC, fixed width, so the text sorts in time order
}

// ReviewExamples returns every standing review decision, oldest first. A
// decision being undone is left out; so is one on an image that has left
// the catalog. A catalog where the review page never ran (no
// review_decisions table) has none.
func (c *Catalog) ReviewExamples(ctx context.Context) ([]ReviewExample, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT d.sha256, d.decision, i.class, coalesce(m.from_class, ''), d.decided_at
		FROM review_decisions d JOIN images i ON i.sha256 = d.sha256
		LEFT JOIN class_moves m ON m.sha256 = d.sha256 AND m.state = '`+MoveDone+`'
		WHERE d.undoing = 0 AND (d.decision != '`+ReviewMove+`' OR m.sha256 IS NOT NULL)
		ORDER BY d.decided_at, d.sha256`)
	if err != nil {
		return nil, c.corrupt(err)
	}
	defer rows.Close()
	var out []ReviewExample
	for rows.Next() {
		var d ReviewExample
		if err := rows.Scan(&d.SHA256, &d.Decision, &d.Class, &d.FromClass, &d.DecidedAt); err != nil {
			return nil, c.corrupt(err)
		}
		out = append(out, d)
	}
	return out, c.corrupt(rows.Err())
}
