package store

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// WithLimit returns a Store that lets at most n calls into s run at once
// (n < 1 counts as 1); the others wait their turn or give up when their
// context ends. It keeps a remote store from being flooded by a wide worker
// pool.
//
// A Get holds its turn until the body is closed, because reading the body
// is most of the work; a caller must not hold n bodies open while waiting
// for another call. List gives its turn up while fn runs, so fn may call
// the store itself.
func WithLimit(s Store, n int) Store {
	return keepCapabilities(&limitStore{s: s, sem: make(chan struct{}, max(n, 1))}, s)
}

type limitStore struct {
	s   Store
	sem chan struct{}
}

func (l *limitStore) acquire(ctx context.Context) error {
	select {
	case l.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("store: waiting for a free slot on %s: %w", l.s, ctx.Err())
	}
}

func (l *limitStore) release() { <-l.sem }

func (l *limitStore) String() string { return l.s.String() }

func (l *limitStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := l.acquire(ctx); err != nil {
		return err
	}
	defer l.release()
	return l.s.Put(ctx, key, r, size)
}

func (l *limitStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := l.acquire(ctx); err != nil {
		return nil, err
	}
	rc, err := l.s.Get(ctx, key)
	if err != nil {
		l.release()
		return nil, err
	}
	return &limitBody{ReadCloser: rc, release: sync.OnceFunc(l.release)}, nil
}

// limitBody gives the slot back on the first Close.
type limitBody struct {
	io.ReadCloser
	release func()
}

func (b *limitBody) Close() error {
	defer b.release()
	return b.ReadCloser.Close()
}

func (l *limitStore) Stat(ctx context.Context, key string) (Info, error) {
	if err := l.acquire(ctx); err != nil {
		return Info{}, err
	}
	defer l.release()
	return l.s.Stat(ctx, key)
}

func (l *limitStore) List(ctx context.Context, prefix string, fn func(Info) error) error {
	if err := l.acquire(ctx); err != nil {
		return err
	}
	held := true
	defer func() {
		if held {
			l.release()
		}
	}()
	return l.s.List(ctx, prefix, func(i Info) error {
		l.release()
		held = false
		if err := fn(i); err != nil {
			return err
		}
		if err := l.acquire(ctx); err != nil {
			return err
		}
		held = true
		return nil
	})
}

func (l *limitStore) Move(ctx context.Context, src, dst string) error {
	if err := l.acquire(ctx); err != nil {
		return err
	}
	defer l.release()
	return l.s.Move(ctx, src, dst)
}

func (l *limitStore) Delete(ctx context.Context, key string) error {
	if err := l.acquire(ctx); err != nil {
		return err
	}
	defer l.release()
	return l.s.Delete(ctx, key)
}
