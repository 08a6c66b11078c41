package shard

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/store"
)

func TestParseAndEnv(t *testing.T) {
	for in, ok := range map[string]bool{"0/4": true, "3/4": true, "4/4": false, "-1/4": false, "1": false, "a/b": false, "0/0": false} {
		if _, err := Parse(in); (err == nil) != ok {
			t.Errorf("Parse(%q): err %v", in, err)
		}
	}
	t.Setenv("JOB_COMPLETION_INDEX", "5")
	if s, err := FromEnv(16); err != nil || s != (Spec{5, 16}) {
		t.Fatalf("FromEnv: %v %v", s, err)
	}
	if _, err := FromEnv(4); err == nil {
		t.Fatal("index 5 of 4 accepted")
	}
	t.Setenv("JOB_COMPLETION_INDEX", "")
	if _, err := FromEnv(4); err == nil || !strings.Contains(err.Error(), "JOB_COMPLETION_INDEX") {
		t.Fatalf("missing index: %v", err)
	}
}

func TestOwnsPartitions(t *testing.T) {
	const n = 4
	counts := make([]int, n)
	for i := 0; i < 4000; i++ {
		key := fmt.Sprint("url-", i)
		owners := 0
		for k := 0; k < n; k++ {
			if (Spec{k, n}).Owns(key) {
				owners++
				counts[k]++
			}
		}
		if owners != 1 {
			t.Fatalf("%s owned by %d shards", key, owners)
		}
	}
	for k, c := range counts {
		if c < 800 || c > 1200 {
			t.Errorf("shard %d owns %d of 4000", k, c)
		}
	}
}

func local(t *testing.T) store.Store {
	st, err := store.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestLayoutRefusesAnotherN(t *testing.T) {
	ctx := context.Background()
	st := local(t)
	if err := CheckLayout(ctx, st, Spec{0, 16}); err != nil {
		t.Fatal(err)
	}
	if err := CheckLayout(ctx, st, Spec{3, 16}); err != nil {
		t.Fatal(err)
	}
	err := CheckLayout(ctx, st, Spec{0, 8})
	if !errkind.IsFatal(err) || !strings.Contains(err.Error(), "--shards 16") {
		t.Fatalf("N changed: %v", err)
	}
}

// TestSameIndexTwice runs in a synctest bubble: the heartbeats and the
// wait for a stale lock pass on the bubble's clock, exactly and at once.
func TestSameIndexTwice(t *testing.T) {
	old := StaleAfter
	StaleAfter = 300 * time.Millisecond
	defer func() { StaleAfter = old }()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		st := local(t)
		a, err := Acquire(ctx, st, Spec{1, 4})
		if err != nil {
			t.Fatal(err)
		}
		// A live holder keeps beating: the second claimant is refused.
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
					a.Beat(ctx)
				}
			}
		}()
		_, err = Acquire(ctx, st, Spec{1, 4})
		close(stop)
		if !errkind.IsFatal(err) || !strings.Contains(err.Error(), "already running") {
			t.Fatalf("second claim on a live shard: %v", err)
		}
		// The holder has stopped beating once its goroutine has returned.
		synctest.Wait()
		// A dead holder (no heartbeat) is taken over once its lock is stale.
		b, err := Acquire(ctx, st, Spec{1, 4})
		if err != nil {
			t.Fatalf("take-over of a stale lock: %v", err)
		}
		b.Release(ctx)
	})
}

func shardCatalog(t *testing.T, dir string, rows map[string]string) *catalog.Catalog {
	ctx := context.Background()
	c, err := catalog.Open(ctx, filepath.Join(dir, "shard.db"))
	if err != nil {
		t.Fatal(err)
	}
	for url, sha := range rows {
		cand := catalog.Candidate{URL: url, Class: "c"}
		c.AddCandidates(ctx, []catalog.Candidate{cand})
		id := catalog.URLID("c", url)
		c.Record(ctx, []catalog.Outcome{{URLID: id, Image: &catalog.Image{SHA256: sha, Class: "c", Key: "images/c/" + sha + ".jpg", Format: "jpeg", Width: 1, Height: 1}}})
	}
	return c
}

func TestMergeIdempotentAndOnlyFinished(t *testing.T) {
	ctx := context.Background()
	st := local(t)
	// Shard 0 and 1 both fetched bytes "same" under different URLs.
	for k, rows := range []map[string]string{
		{"http://a/1": "s1", "http://a/2": "same"},
		{"http://b/1": "s2", "http://b/2": "same"},
		{"http://c/1": "s3"},
	} {
		c := shardCatalog(t, t.TempDir(), rows)
		s := Spec{k, 3}
		if err := Upload(ctx, st, s, c); err != nil {
			t.Fatal(err)
		}
		if k < 2 {
			MarkDone(ctx, st, s, nil)
		}
		c.Close()
	}
	proj, err := catalog.Open(ctx, filepath.Join(t.TempDir(), "scour.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer proj.Close()
	sum, err := Merge(ctx, st, proj, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Merged) != 2 || len(sum.Pending) != 1 || sum.Dups != 1 || sum.Images != 3 {
		t.Fatalf("first merge: %+v", sum)
	}
	again, err := Merge(ctx, st, proj, t.TempDir())
	if err != nil || len(again.Merged) != 0 || len(again.Skipped) != 2 {
		t.Fatalf("second merge: %+v %v", again, err)
	}
	by, _, _ := proj.CountURLs(ctx)
	if by[catalog.StateDone] != 3 || by[catalog.StateDuplicate] != 1 {
		t.Fatalf("states after merge: %v", by)
	}
}

func TestDamagedLocalCatalogIsReplacedFromStore(t *testing.T) {
	ctx := context.Background()
	st := local(t)
	dir := t.TempDir()
	s := Spec{0, 2}
	ss, err := Start(ctx, st, s, dir)
	if err != nil {
		t.Fatal(err)
	}
	ss.Catalog.AddCandidates(ctx, []catalog.Candidate{{URL: "http://x/1", Class: "c"}})
	if err := ss.Finish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	ss.Close(ctx)
	// A kill mid-write truncates the local file.
	p := LocalPath(dir, s)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)/3], 0o644)
	ss, err = Start(ctx, st, s, dir)
	if err != nil {
		t.Fatalf("restart over a damaged local catalog: %v", err)
	}
	defer ss.Close(ctx)
	by, _, _ := ss.Catalog.CountURLs(ctx)
	if by[catalog.StatePending] != 1 {
		t.Fatalf("rows after recovery: %v", by)
	}
	aside, _ := filepath.Glob(p + ".damaged-*")
	if len(aside) != 1 {
		t.Fatal("the damaged file was not kept aside")
	}
}
