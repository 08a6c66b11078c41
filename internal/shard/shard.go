// Package shard lets N copies of scour share one bucket: each shard keeps
// its own catalog, copies it into the store as it goes and marks it complete
// at the end, and `scour merge` folds complete shard catalogs into the
// project's. Kubernetes Indexed Jobs (or any scheduler) run the shards;
// nothing here schedules anything.
//
// In the store:
//
//	catalogs/layout.json               {"shards": N}: a bucket is split one way only
//	catalogs/shard-0003-of-0016.manifest  shard 3's catalog, uploaded periodically as
//	catalogs/shard-0003-of-0016.pages/…   segments of changed pages (see pages.go)
//	catalogs/shard-0003-of-0016.done   written after the last upload of a finished run
//	catalogs/shard-0003-of-0016.lock   who runs the shard now, with a heartbeat
package shard

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scour-dev/scour/internal/atomicfile"
	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/store"
)

// Spec names one shard: K of N, 0-based.
type Spec struct{ K, N int }

// Parse reads "k/N".
func Parse(s string) (Spec, error) {
	a, b, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 0 || k >= n {
		return Spec{}, fmt.Errorf("shard %q: want k/N with 0 <= k < N, e.g. 3/16", s)
	}
	return Spec{k, n}, nil
}

// FromEnv builds the spec of a Kubernetes Indexed Job pod: the index from
// JOB_COMPLETION_INDEX, the count from n.
func FromEnv(n int) (Spec, error) {
	v := os.Getenv("JOB_COMPLETION_INDEX")
	if v == "" {
		return Spec{}, errors.New("--shards needs the shard index: set JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs do) or use --shard k/N")
	}
	k, err := strconv.Atoi(v)
	if err != nil || k < 0 || k >= n {
		return Spec{}, fmt.Errorf("JOB_COMPLETION_INDEX=%q is not an index below --shards %d", v, n)
	}
	return Spec{k, n}, nil
}

// Enabled reports whether this is a real split (N > 1).
func (s Spec) Enabled() bool { return s.N > 1 }

// Owns reports whether the shard does the work item named key. The hash
// is fixed forever: a retried shard must redo exactly its own part.
func (s Spec) Owns(key string) bool {
	if s.N <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	return int(h.Sum64()%uint64(s.N)) == s.K
}

// Name is the shard's file stem, e.g. "shard-0003-of-0016".
func (s Spec) Name() string { return fmt.Sprintf("shard-%04d-of-%04d", s.K, s.N) }

func (s Spec) String() string { return fmt.Sprintf("%d/%d", s.K, s.N) }

const prefix = "catalogs/"

type layout struct {
	Shards int `json:"shards"`
}

// CheckLayout records N in the store on first use and refuses another N
// later: re-sharding a half-done bucket would give some URLs two owners and
// others none.
func CheckLayout(ctx context.Context, st store.Store, s Spec) error {
	key := prefix + "layout.json"
	r, err := st.Get(ctx, key)
	if err == nil {
		defer r.Close()
		var l layout
		if err := json.NewDecoder(r).Decode(&l); err != nil {
			return errkind.Fatal(fmt.Errorf("%s in %s is damaged: %v", key, st, err))
		}
		if l.Shards != s.N {
			return errkind.Fatal(fmt.Errorf("this bucket was split into %d shards, not %d: run with --shards %d, or use another store prefix for a new layout", l.Shards, s.N, l.Shards))
		}
		return nil
	}
	if !errors.Is(err, store.ErrNotExist) {
		return err
	}
	b, _ := json.Marshal(layout{Shards: s.N})
	return st.Put(ctx, key, bytes.NewReader(b), int64(len(b)))
}

// Lock is a shard's claim on its index.
type Lock struct {
	st    store.Store
	key   string
	owner string
}

type lockBody struct {
	Owner string    `json:"owner"`
	Beat  time.Time `json:"heartbeat"`
}

// StaleAfter is how old a heartbeat must be before another process takes
// the shard over; Heartbeat is how often a running shard refreshes it.
// SCOUR_SHARD_STALE_AFTER (a duration) overrides StaleAfter, for tests and
// for operators who know their pods restart fast.
var (
	StaleAfter = envDuration("SCOUR_SHARD_STALE_AFTER", 45*time.Second)
	Heartbeat  = min(10*time.Second, StaleAfter/3)
)

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

// Acquire claims the shard. When a lock is there, Acquire watches it: a
// heartbeat that moves means another live process runs this index, and
// Acquire refuses with a message naming it; a heartbeat that stays still
// until it is StaleAfter old belonged to a process that died (a killed pod
// that Kubernetes is retrying), and Acquire takes over. The store has no
// compare-and-swap, so two processes starting within the same instant could
// both win; a read-back after writing catches most of those.
func Acquire(ctx context.Context, st store.Store, s Spec) (*Lock, error) {
	host, _ := os.Hostname()
	var rb [6]byte
	rand.Read(rb[:])
	l := &Lock{st: st, key: prefix + s.Name() + ".lock", owner: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(rb[:]))}
	first, err := l.read(ctx)
	if err != nil && !errors.Is(err, store.ErrNotExist) {
		return nil, err
	}
	for err == nil && time.Since(first.Beat) < StaleAfter {
		t := time.NewTimer(min(Heartbeat/2, StaleAfter-time.Since(first.Beat)+time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		cur, rerr := l.read(ctx)
		if errors.Is(rerr, store.ErrNotExist) {
			break // released
		}
		if rerr != nil {
			return nil, rerr
		}
		if !cur.Beat.Equal(first.Beat) {
			return nil, errkind.Fatal(fmt.Errorf("shard %s is already running (%s): two shards with the same index would do the same work; wait for it to finish, or stop it", s, cur.Owner))
		}
	}
	if err := l.Beat(ctx); err != nil {
		return nil, err
	}
	b, err := l.read(ctx)
	if err != nil {
		return nil, err
	}
	if b.Owner != l.owner {
		return nil, errkind.Fatal(fmt.Errorf("shard %s was claimed by %s at the same moment", s, b.Owner))
	}
	return l, nil
}

func (l *Lock) read(ctx context.Context) (lockBody, error) {
	var b lockBody
	r, err := l.st.Get(ctx, l.key)
	if err != nil {
		return b, err
	}
	defer r.Close()
	if err := json.NewDecoder(r).Decode(&b); err != nil {
		// A damaged lock protects nothing; treat it as stale.
		return lockBody{}, nil
	}
	return b, nil
}

// Beat refreshes the heartbeat.
func (l *Lock) Beat(ctx context.Context) error {
	b, _ := json.Marshal(lockBody{Owner: l.owner, Beat: time.Now().UTC()})
	return l.st.Put(ctx, l.key, bytes.NewReader(b), int64(len(b)))
}

// Release gives the shard up.
func (l *Lock) Release(ctx context.Context) error {
	err := l.st.Delete(ctx, l.key)
	if errors.Is(err, store.ErrNotExist) {
		return nil
	}
	return err
}

// LocalPath is where a shard keeps its catalog while it runs.
func LocalPath(projectDir string, s Spec) string {
	return filepath.Join(projectDir, ".scour", s.Name()+".db")
}

// Fetch downloads the shard's catalog from the store when there is no local
// copy, so a pod that Kubernetes restarts elsewhere resumes its work.
func Fetch(ctx context.Context, st store.Store, s Spec, local string) error {
	if _, err := os.Stat(local); err == nil {
		return nil
	}
	err := restore(ctx, st, s.Name(), local, local+".uploaded")
	if errors.Is(err, store.ErrNotExist) {
		return nil
	}
	return err
}

// MarkDone records that the shard's uploaded catalog is final.
func MarkDone(ctx context.Context, st store.Store, s Spec, summary any) error {
	b, _ := json.Marshal(map[string]any{"shard": s.String(), "finished": time.Now().UTC(), "summary": summary})
	return st.Put(ctx, prefix+s.Name()+".done", bytes.NewReader(b), int64(len(b)))
}

// ClearDone removes the mark when a shard runs again, so that merge does not
// take a catalog that is about to change.
func ClearDone(ctx context.Context, st store.Store, s Spec) error {
	err := st.Delete(ctx, prefix+s.Name()+".done")
	if errors.Is(err, store.ErrNotExist) {
		return nil
	}
	return err
}

func writeFile(path string, r io.Reader) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}

// MergeSummary says what a merge took.
type MergeSummary struct {
	Merged  []string `json:"merged"`
	Skipped []string `json:"unchanged"`
	Pending []string `json:"not_finished"`
	URLs    int      `json:"urls"`
	Images  int      `json:"images"`
	Dups    int      `json:"cross_shard_duplicates"`
	Orphans int      `json:"orphans_deleted"`
}

// Merge folds every complete shard catalog in the store into cat. Shards
// without a .done mark are still running (or died) and are left for a later
// merge; a shard merged before and not changed since is skipped. Running it
// twice, or while shards finish, is safe.
func Merge(ctx context.Context, st store.Store, cat *catalog.Catalog, scratch string) (MergeSummary, error) {
	var sum MergeSummary
	dbs := map[string]store.Info{}
	done := map[string]bool{}
	err := st.List(ctx, prefix+"shard-", func(i store.Info) error {
		name := strings.TrimPrefix(i.Key, prefix)
		switch {
		case strings.HasSuffix(name, ".manifest"):
			dbs[strings.TrimSuffix(name, ".manifest")] = i
		case strings.HasSuffix(name, ".db"):
			// An older scour's whole upload, unless a manifest replaces it.
			if n := strings.TrimSuffix(name, ".db"); !strings.HasSuffix(dbs[n].Key, ".manifest") {
				dbs[n] = i
			}
		case strings.HasSuffix(name, ".done"):
			done[strings.TrimSuffix(name, ".done")] = true
		}
		return nil
	})
	if err != nil {
		return sum, err
	}
	names := make([]string, 0, len(dbs))
	for n := range dbs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		info := dbs[name]
		if !done[name] {
			sum.Pending = append(sum.Pending, name)
			continue
		}
		version := fmt.Sprintf("%d@%d", info.Size, info.ModTime.UnixNano())
		prev, err := cat.MergedShard(ctx, name)
		if err != nil {
			return sum, err
		}
		if prev == version {
			sum.Skipped = append(sum.Skipped, name)
			continue
		}
		local := filepath.Join(scratch, name+".db")
		if err := restore(ctx, st, name, local, ""); err != nil {
			return sum, err
		}
		other, err := catalog.Open(ctx, local)
		if err != nil {
			return sum, fmt.Errorf("shard catalog %s: %w", name, err)
		}
		ms, err := cat.Merge(ctx, other)
		other.Close()
		os.Remove(local)
		if err != nil {
			return sum, fmt.Errorf("merging %s: %w", name, err)
		}
		for _, k := range ms.Orphans {
			if err := st.Delete(ctx, k); err != nil && !errors.Is(err, store.ErrNotExist) {
				return sum, err
			}
			sum.Orphans++
		}
		if err := cat.SetMergedShard(ctx, name, version); err != nil {
			return sum, err
		}
		sum.Merged = append(sum.Merged, name)
		sum.URLs += ms.URLs
		sum.Images += ms.Images
		sum.Dups += ms.Duplicates
	}
	return sum, nil
}
