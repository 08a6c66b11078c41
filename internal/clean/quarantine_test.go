package clean

import (
	"bytes"
	"context"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/progress"
)

// A crash can stop a move between the store and the catalog; the next run
// must settle each case without losing the image.
func TestRecoverInterruptedMoves(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// crash leaves the store as the move left it
		crash      func(p *project, from, to string)
		wantStatus string
		wantAt     string // "from" or "to"
	}{
		{"moved, catalog not updated", func(p *project, from, to string) {
			if err := p.store.Move(ctx, from, to); err != nil {
				t.Fatal(err)
			}
		}, catalog.StatusQuarantined, "to"},
		{"not moved yet", func(*project, string, string) {}, catalog.StatusKept, "from"},
		{"copied, source not yet deleted", func(p *project, from, to string) {
			data := readAll(t, p.store, from)
			if err := p.store.Put(ctx, to, bytes.NewReader(data), int64(len(data))); err != nil {
				t.Fatal(err)
			}
		}, catalog.StatusKept, "from"},
	} {
		p := newProject(t)
		sha := p.add("ships", boat(t, "Destroyers", "0.jpg"))
		im := p.image(sha)
		from, to := im.Key, quarantineKey(ReasonBlurry, "ships", sha, im.Key)
		if err := p.cat.JournalCleanMove(ctx, catalog.CleanMove{SHA256: sha, OriginalKey: from, From: from, To: to,
			Status: catalog.StatusQuarantined, Reason: ReasonBlurry, Score: 12.5}); err != nil {
			t.Fatal(err)
		}
		tc.crash(p, from, to)

		if err := (mover{p.cat, p.store}).recoverMoves(ctx, progress.Discard); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := p.image(sha)
		wantKey := map[string]string{"from": from, "to": to}[tc.wantAt]
		other := map[string]string{"from": to, "to": from}[tc.wantAt]
		if got.Status != tc.wantStatus || got.Key != wantKey || !p.exists(wantKey) || p.exists(other) {
			t.Errorf("%s: %s at %s (exists %v, other copy %v); want %s at %s", tc.name, got.Status, got.Key,
				p.exists(got.Key), p.exists(other), tc.wantStatus, wantKey)
		}
		pending, err := p.cat.PendingCleanMoves(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) != 0 {
			t.Errorf("%s: the journal still has %d moves in flight", tc.name, len(pending))
		}
	}
}
