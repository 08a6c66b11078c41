package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/scour-dev/scour/internal/errkind"
)

// RetryPolicy says how WithRetry retries. Zero fields take the defaults of
// DefaultRetry.
type RetryPolicy struct {
	// Attempts is the number of tries in all, the first included.
	Attempts int
	// Base is the longest wait before the first retry; each later retry may
	// wait up to twice as long as the one before, up to Max.
	Base time.Duration
	Max  time.Duration
}

// DefaultRetry rides out a server restart or a throttling burst of a few
// seconds without making a dead server look alive for long.
var DefaultRetry = RetryPolicy{Attempts: 6, Base: 200 * time.Millisecond, Max: 5 * time.Second}

// maxReplayBuffer is how much of a non-seekable Put body WithRetry keeps in
// memory so it can send it again; larger bodies get a single attempt.
// Downloaded images are far smaller.
const maxReplayBuffer = 8 << 20

// WithRetry returns a Store that retries s's calls that fail with an
// errkind.IsRetryable error, waiting a jittered exponential backoff, or the
// server's errkind.RetryAfter when that is longer. Other errors return at
// once. When attempts run out the last error is returned, still retryable,
// so a caller higher up may try again later.
//
// Put is retried only when the body can be read again: an io.Seeker is
// rewound to where it started, and a body of at most 8 MiB is buffered.
// Get retries opening the object, not failures while reading its body.
// List resumes after the last key it reported, so fn never sees a key
// twice. Move and Delete accept "src (key) does not exist" after a failed
// attempt as success, since the failed attempt may have done the work before
// its reply was lost.
func WithRetry(s Store, p RetryPolicy) Store {
	if p.Attempts <= 0 {
		p.Attempts = DefaultRetry.Attempts
	}
	if p.Base <= 0 {
		p.Base = DefaultRetry.Base
	}
	if p.Max <= 0 {
		p.Max = max(DefaultRetry.Max, p.Base)
	}
	return keepCapabilities(&retryStore{s: s, p: p}, s)
}

type retryStore struct {
	s Store
	p RetryPolicy
}

func (r *retryStore) String() string { return r.s.String() }

// do calls op until it succeeds, fails for good, or attempts run out.
func (r *retryStore) do(ctx context.Context, op func(attempt int) error) error {
	for attempt := 0; ; attempt++ {
		err := op(attempt)
		if err == nil || !errkind.IsRetryable(err) || ctx.Err() != nil {
			return err
		}
		if attempt+1 >= r.p.Attempts {
			return fmt.Errorf("gave up after %d attempts: %w", r.p.Attempts, err)
		}
		if werr := sleep(ctx, r.backoff(attempt, err)); werr != nil {
			return fmt.Errorf("%w (stopped waiting to retry: %w)", err, werr)
		}
	}
}

// backoff returns a wait drawn from [ceil/2, ceil] (so concurrent callers
// spread out but never hammer at once), or the server's request if longer.
func (r *retryStore) backoff(attempt int, err error) time.Duration {
	ceil := r.p.Max
	if attempt < 30 && r.p.Base<<attempt < r.p.Max {
		ceil = r.p.Base << attempt
	}
	d := ceil/2 + rand.N(ceil/2+1)
	return max(d, errkind.RetryAfter(err))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *retryStore) Put(ctx context.Context, key string, body io.Reader, size int64) error {
	body, rewind, err := replayable(body, size)
	if err != nil {
		return fmt.Errorf("store: put %q: reading body: %w", key, err)
	}
	if rewind == nil {
		return r.s.Put(ctx, key, body, size)
	}
	return r.do(ctx, func(attempt int) error {
		if attempt > 0 {
			if err := rewind(); err != nil {
				return fmt.Errorf("store: put %q: rewinding body to retry: %w", key, err)
			}
		}
		return r.s.Put(ctx, key, body, size)
	})
}

// replayable returns a body that can be sent again after calling rewind, or
// a nil rewind when that would take too much memory. The returned body then
// still yields every byte of the original.
func replayable(body io.Reader, size int64) (io.Reader, func() error, error) {
	if s, ok := body.(io.Seeker); ok {
		if start, err := s.Seek(0, io.SeekCurrent); err == nil {
			return body, func() error { _, err := s.Seek(start, io.SeekStart); return err }, nil
		}
	}
	if size > maxReplayBuffer {
		return body, nil, nil
	}
	buf, err := io.ReadAll(io.LimitReader(body, maxReplayBuffer+1))
	if err != nil {
		return nil, nil, err
	}
	if len(buf) > maxReplayBuffer {
		return io.MultiReader(bytes.NewReader(buf), body), nil, nil
	}
	br := bytes.NewReader(buf)
	return br, func() error { _, err := br.Seek(0, io.SeekStart); return err }, nil
}

func (r *retryStore) Get(ctx context.Context, key string) (rc io.ReadCloser, err error) {
	err = r.do(ctx, func(int) error {
		rc, err = r.s.Get(ctx, key)
		return err
	})
	return rc, err
}

func (r *retryStore) Stat(ctx context.Context, key string) (info Info, err error) {
	err = r.do(ctx, func(int) error {
		info, err = r.s.Stat(ctx, key)
		return err
	})
	return info, err
}

// fnError carries an error from List's fn through do without its kind being
// seen (it has no Unwrap), so that fn's own retryable errors are returned to
// the caller rather than retried here.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

func (r *retryStore) List(ctx context.Context, prefix string, fn func(Info) error) error {
	var last string
	seen := false
	err := r.do(ctx, func(int) error {
		return r.s.List(ctx, prefix, func(i Info) error {
			if seen && i.Key <= last {
				return nil
			}
			if err := fn(i); err != nil {
				return fnError{err}
			}
			last, seen = i.Key, true
			return nil
		})
	})
	if fe, ok := errors.AsType[fnError](err); ok {
		return fe.err
	}
	return err
}

func (r *retryStore) Move(ctx context.Context, src, dst string) error {
	return r.do(ctx, func(attempt int) error {
		err := r.s.Move(ctx, src, dst)
		if attempt > 0 && errors.Is(err, ErrNotExist) {
			if _, serr := r.s.Stat(ctx, dst); serr == nil {
				return nil
			}
		}
		return err
	})
}

func (r *retryStore) Delete(ctx context.Context, key string) error {
	return r.do(ctx, func(attempt int) error {
		err := r.s.Delete(ctx, key)
		if attempt > 0 && errors.Is(err, ErrNotExist) {
			return nil
		}
		return err
	})
}

// keepCapabilities gives a wrapper the optional capabilities of the store it
// wraps, so that wrapping never hides them from type assertions.
func keepCapabilities(wrapper, inner Store) Store {
	if p, ok := inner.(LocalPather); ok {
		return struct {
			Store
			LocalPather
		}{wrapper, p}
	}
	return wrapper
}
