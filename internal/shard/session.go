package shard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/store"
)

// Session is one shard's run: its lock, its catalog, and a heartbeat that
// also uploads the catalog so that a pod lost mid-run resumes from the last
// upload rather than from nothing.
type Session struct {
	Spec     Spec
	Catalog  *catalog.Catalog
	st       store.Store
	lock     *Lock
	stop     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	lastErr  error
	finished bool
}

// UploadEvery is how often a running shard copies its catalog to the store
// (SCOUR_SHARD_UPLOAD_EVERY overrides it).
var UploadEvery = envDuration("SCOUR_SHARD_UPLOAD_EVERY", time.Minute)

// Start checks the bucket's layout, claims the shard, withdraws its .done
// mark (its catalog is about to change), and opens its catalog: the local
// copy in projectDir, or the last uploaded one. A local copy damaged by a
// kill is set aside and replaced by the uploaded one.
func Start(ctx context.Context, st store.Store, s Spec, projectDir string) (*Session, error) {
	if err := CheckLayout(ctx, st, s); err != nil {
		return nil, err
	}
	lock, err := Acquire(ctx, st, s)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Session, error) {
		lock.Release(context.WithoutCancel(ctx))
		return nil, err
	}
	if err := ClearDone(ctx, st, s); err != nil {
		return fail(err)
	}
	local := LocalPath(projectDir, s)
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return fail(errkind.Fatal(err))
	}
	if err := Fetch(ctx, st, s, local); err != nil {
		return fail(err)
	}
	cat, err := catalog.Open(ctx, local)
	if err != nil && errkind.IsFatal(err) {
		if _, statErr := os.Stat(local); statErr == nil {
			aside := local + ".damaged-" + time.Now().UTC().Format("20060102T150405")
			if rerr := os.Rename(local, aside); rerr != nil {
				return fail(err)
			}
			os.Remove(local + "-wal")
			os.Remove(local + "-shm")
			if ferr := Fetch(ctx, st, s, local); ferr != nil {
				return fail(ferr)
			}
			cat, err = catalog.Open(ctx, local)
		}
	}
	if err != nil {
		return fail(err)
	}
	// Upload at once, so that merge sees the shard as started (and not
	// finished) from now on.
	if err := Upload(ctx, st, s, cat); err != nil {
		cat.Close()
		return fail(err)
	}
	ss := &Session{Spec: s, Catalog: cat, st: st, lock: lock, stop: make(chan struct{})}
	ss.wg.Add(1)
	go ss.beat(context.WithoutCancel(ctx))
	return ss, nil
}

func (ss *Session) beat(ctx context.Context) {
	defer ss.wg.Done()
	hb := time.NewTicker(Heartbeat)
	up := time.NewTicker(UploadEvery)
	defer hb.Stop()
	defer up.Stop()
	for {
		var err error
		select {
		case <-ss.stop:
			return
		case <-hb.C:
			err = ss.lock.Beat(ctx)
		case <-up.C:
			err = Upload(ctx, ss.st, ss.Spec, ss.Catalog)
		}
		if err != nil {
			ss.mu.Lock()
			ss.lastErr = err
			ss.mu.Unlock()
		}
	}
}

// Finish uploads the final catalog and marks the shard done; summary is
// stored in the mark for people reading the bucket.
func (ss *Session) Finish(ctx context.Context, summary any) error {
	ss.halt()
	if err := Upload(ctx, ss.st, ss.Spec, ss.Catalog); err != nil {
		return fmt.Errorf("uploading shard %s's catalog: %w", ss.Spec, err)
	}
	if err := MarkDone(ctx, ss.st, ss.Spec, summary); err != nil {
		return err
	}
	ss.finished = true
	return nil
}

// Close uploads what the shard has (when it stopped early) and releases it.
func (ss *Session) Close(ctx context.Context) error {
	ss.halt()
	ctx = context.WithoutCancel(ctx)
	var err error
	if !ss.finished {
		err = Upload(ctx, ss.st, ss.Spec, ss.Catalog)
	}
	return errors.Join(err, ss.Catalog.Close(), ss.lock.Release(ctx))
}

func (ss *Session) halt() {
	select {
	case <-ss.stop:
	default:
		close(ss.stop)
		ss.wg.Wait()
	}
}
