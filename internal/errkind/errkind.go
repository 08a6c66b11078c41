// Package errkind classifies errors as retryable, permanent or fatal, in the
// manner of rclone's fserrors: the code that knows why something failed marks
// the error, and retry loops and the CLI's exit-code mapping read the mark
// through any amount of %w wrapping.
//
//   - Retryable: trying the same thing again later may succeed (timeouts,
//     connection resets, HTTP 429/5xx, S3 throttling).
//   - Permanent: this item will never succeed (404, not an image, too small);
//     record it and go on with the next item.
//   - Fatal: the whole run cannot go on (read-only project, disk full, bad
//     config, corrupted catalog); stop and tell the user.
//
// An unmarked error counts as permanent for one item.
package errkind

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// Kind is the class of an error.
type Kind int

const (
	KindPermanent Kind = iota
	KindRetryable
	KindFatal
)

func (k Kind) String() string {
	switch k {
	case KindRetryable:
		return "retryable"
	case KindFatal:
		return "fatal"
	default:
		return "permanent"
	}
}

type marked struct {
	err        error
	kind       Kind
	retryAfter time.Duration
	cause      string
}

func (m *marked) Error() string { return m.err.Error() }
func (m *marked) Unwrap() error { return m.err }

// Retryable marks err as worth retrying. A positive after is the server's
// requested wait (Retry-After); zero lets the caller choose a backoff.
func Retryable(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &marked{err: err, kind: KindRetryable, retryAfter: after}
}

// Permanent marks err as final for one item.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &marked{err: err, kind: KindPermanent}
}

// Fatal marks err as ending the whole run.
func Fatal(err error) error {
	if err == nil {
		return nil
	}
	return &marked{err: err, kind: KindFatal}
}

// WithCause attaches a short machine-readable cause ("http-404",
// "not-an-image", "timeout") used to count failures by cause in summaries and
// the catalog. It keeps any existing kind.
func WithCause(err error, cause string) error {
	if err == nil {
		return nil
	}
	var m *marked
	if errors.As(err, &m) {
		return &marked{err: err, kind: m.kind, retryAfter: m.retryAfter, cause: cause}
	}
	return &marked{err: err, kind: KindOf(err), cause: cause}
}

// KindOf returns the outermost mark on err. Unmarked errors are classified
// by what the standard library can tell: network timeouts and resets are
// retryable, a full disk or a read-only file system is fatal, the rest is
// permanent.
func KindOf(err error) Kind {
	if err == nil {
		return KindPermanent
	}
	var m *marked
	if errors.As(err, &m) {
		return m.kind
	}
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EDQUOT):
		return KindFatal
	case errors.Is(err, os.ErrPermission):
		return KindFatal
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE):
		return KindRetryable
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return KindRetryable
	}
	return KindPermanent
}

// IsRetryable reports whether err is worth another attempt.
func IsRetryable(err error) bool { return err != nil && KindOf(err) == KindRetryable }

// IsFatal reports whether err should stop the whole run.
func IsFatal(err error) bool { return err != nil && KindOf(err) == KindFatal }

// RetryAfter returns the wait the server asked for, or 0.
func RetryAfter(err error) time.Duration {
	var m *marked
	if errors.As(err, &m) {
		return m.retryAfter
	}
	return 0
}

// Cause returns the short cause attached with WithCause, or a guess from the
// error's kind ("timeout", "error").
func Cause(err error) string {
	var m *marked
	for e := err; e != nil; {
		if errors.As(e, &m) {
			if m.cause != "" {
				return m.cause
			}
			e = m.err
			continue
		}
		break
	}
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection-reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection-refused"
	case errors.Is(err, syscall.ENOSPC):
		return "disk-full"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "error"
}
