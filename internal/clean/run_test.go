package clean

import (
	"context"
	"encoding/json"
	"errors"
	"image/color"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/store"
)

// withComment inserts a JPEG comment after the SOI marker: different bytes,
// the same pixels, as when a site strips or adds metadata.
func withComment(jpg []byte, text string) []byte {
	seg := []byte{0xFF, 0xFE, 0, byte(len(text) + 2)}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, text...)
	return append(out, jpg[2:]...)
}

// cleanProject is a class of real photos with planted problems.
type cleanProject struct {
	*project
	good                                 []string // photos nothing is wrong with
	broken, tiny, exact, near, origExact string
	origNear, crossA, crossB             string
}

func newCleanProject(t *testing.T) *cleanProject {
	p := &cleanProject{project: newProject(t)}
	photos := boats(t, "Destroyers", 8)
	for _, b := range photos[:5] {
		p.good = append(p.good, p.add("destroyers", b))
	}
	p.origExact, p.origNear = p.good[0], p.good[1]
	p.crossA = p.add("destroyers", photos[5])
	p.broken = p.add("destroyers", photos[6][:len(photos[6])/2])
	p.tiny = p.add("destroyers", encodePNG(t, uniform(1, 1, color.RGBA{200, 30, 30, 255})))
	p.exact = p.add("destroyers", withComment(photos[0], "re-posted"))
	img := decode(t, photos[1])
	b := img.Bounds()
	p.near = p.add("destroyers", encodeJPEG(t, resized(img, b.Dx()*4/5, b.Dy()*4/5), 60))
	img = decode(t, photos[5])
	p.crossB = p.add("carriers", encodeJPEG(t, resized(img, b.Dx()*9/10, b.Dy()*9/10), 80))
	return p
}

func TestRunQuarantinesAndIsIdempotent(t *testing.T) {
	p := newCleanProject(t)
	before := p.files()

	dry, _ := p.run(Options{DryRun: true})
	if !slices.Equal(p.files(), before) {
		t.Fatalf("a dry run moved files")
	}
	if len(p.quarantined()) != 0 {
		t.Fatalf("a dry run changed the catalog: %v", p.quarantined())
	}

	sum, rec := p.run(Options{})
	want := map[string]string{
		p.broken: ReasonBroken, p.tiny: ReasonTooSmall, p.exact: ReasonDuplicate, p.near: ReasonDuplicate,
		p.crossA: ReasonCrossClass, p.crossB: ReasonCrossClass,
	}
	if got := p.quarantined(); !maps.Equal(got, want) {
		t.Errorf("quarantined %v, want %v", got, want)
	}
	if !slices.Equal(dry.Moves, sum.Moves) {
		t.Errorf("the dry run planned %v, the run moved %v", dry.Moves, sum.Moves)
	}
	for sha, reason := range want {
		im := p.image(sha)
		wantKey := "quarantine/" + reason + "/" + im.Class + "/" + sha + path.Ext(im.Key)
		if im.Key != wantKey || !p.exists(wantKey) || p.exists("images/"+im.Class+"/"+sha+path.Ext(im.Key)) {
			t.Errorf("%s: key %s (exists %v), want it moved to %s", reason, im.Key, p.exists(im.Key), wantKey)
		}
	}
	for _, sha := range p.good {
		if im := p.image(sha); im.Status != catalog.StatusKept || !p.exists(im.Key) {
			t.Errorf("good photo %s: %s at %s", sha, im.Status, im.Key)
		}
	}
	if len(p.files()) != len(before) {
		t.Errorf("%d files before, %d after: nothing may be deleted", len(before), len(p.files()))
	}
	if im := p.image(p.exact); im.Method != linkExact {
		t.Errorf("the exact copy's method is %q, want %q", im.Method, linkExact)
	}
	if im := p.image(p.broken); im.Method != "truncated" {
		t.Errorf("the broken image's method is %q, want truncated", im.Method)
	}
	// The dry run measured everything; measurements are facts about the
	// bytes, cached even then.
	if sum.Moved != 6 || sum.Quarantined != 6 || sum.Kept != 5 || sum.Images != 11 || dry.Measured != 11 || sum.Measured != 0 {
		t.Errorf("summary %+v (dry run measured %d)", sum, dry.Measured)
	}
	if c := sum.Classes["destroyers"]; c == nil || c.Quarantined != 5 || c.Flags[ReasonDuplicate] != 2 {
		t.Errorf("destroyers summary %+v", c)
	}
	if !slices.ContainsFunc(rec.Notes(), func(n string) bool { return strings.Contains(n, "off-topic check skipped: no labeler") }) {
		t.Errorf("no note says the off-topic check was skipped: %q", rec.Notes())
	}
	if _, err := json.Marshal(sum); err != nil {
		t.Error(err)
	}

	groups, err := Groups(context.Background(), p.cat)
	if err != nil {
		t.Fatal(err)
	}
	wantGroups := map[string]string{p.origExact: p.origExact, p.exact: p.origExact, p.origNear: p.origNear, p.near: p.origNear}
	// The cross-class pair forms a group kept by its larger copy.
	wantGroups[p.crossA], wantGroups[p.crossB] = p.crossA, p.crossA
	if !maps.Equal(groups, wantGroups) {
		t.Errorf("groups %v, want %v", groups, wantGroups)
	}

	// Again: everything is cached and nothing moves.
	again, _ := p.run(Options{})
	if again.Moved != 0 || again.Released != 0 || again.Measured != 0 || again.Quarantined != 6 {
		t.Errorf("second run: %+v", again)
	}
	if got := p.quarantined(); !maps.Equal(got, want) {
		t.Errorf("second run: quarantined %v, want %v", got, want)
	}
}

func TestRestore(t *testing.T) {
	p := newCleanProject(t)
	p.run(Options{})
	ctx := context.Background()
	original := p.image(p.crossA)

	// One image, kept by a person: it goes back and stays back.
	sum, err := Restore(ctx, RestoreOptions{Catalog: p.cat, Store: p.store, SHA256: p.crossA, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	im := p.image(p.crossA)
	if sum.Restored != 1 || im.Status != catalog.StatusKept || im.Key != "images/destroyers/"+p.crossA+".jpg" || !p.exists(im.Key) {
		t.Fatalf("restored %+v: %+v (was %s)", sum, im, original.Key)
	}
	if im.Reason != "" || im.Method != "" || im.Score != 0 {
		t.Errorf("restored image still carries %q/%q/%g", im.Reason, im.Method, im.Score)
	}
	p.run(Options{})
	if got := p.image(p.crossA); got.Status != catalog.StatusKept {
		t.Errorf("an image a person kept was quarantined again as %s", got.Reason)
	}
	if got := p.image(p.crossB); got.Reason != ReasonCrossClass {
		t.Errorf("the other copy: %+v", got)
	}

	// A whole reason, as undoing a setting: nothing is remembered, so the
	// next run quarantines them again.
	dry, err := Restore(ctx, RestoreOptions{Catalog: p.cat, Store: p.store, Reason: ReasonDuplicate, DryRun: true})
	if err != nil || dry.Restored != 2 || p.image(p.exact).Status != catalog.StatusQuarantined {
		t.Fatalf("dry restore: %+v, %v", dry, err)
	}
	sum, err = Restore(ctx, RestoreOptions{Catalog: p.cat, Store: p.store, Reason: ReasonDuplicate})
	if err != nil || sum.Restored != 2 {
		t.Fatalf("restore duplicates: %+v, %v", sum, err)
	}
	if got := p.quarantined(); got[p.exact] != "" || got[p.near] != "" || got[p.broken] != ReasonBroken {
		t.Errorf("after restoring duplicates: %v", got)
	}
	p.run(Options{})
	if got := p.quarantined(); got[p.exact] != ReasonDuplicate || got[p.near] != ReasonDuplicate {
		t.Errorf("after a re-run: %v", got)
	}

	// Everything, by class, then all.
	if sum, err = Restore(ctx, RestoreOptions{Catalog: p.cat, Store: p.store, Class: "carriers"}); err != nil || sum.Restored != 1 {
		t.Errorf("restore class: %+v, %v", sum, err)
	}
	if sum, err = Restore(ctx, RestoreOptions{Catalog: p.cat, Store: p.store, All: true}); err != nil || sum.Restored != 4 {
		t.Errorf("restore all: %+v, %v", sum, err)
	}
	if got := p.quarantined(); len(got) != 0 {
		t.Errorf("still quarantined: %v", got)
	}
	if got := p.files(); slices.ContainsFunc(got, func(k string) bool { return strings.HasPrefix(k, QuarantinePrefix) }) {
		t.Errorf("files left in quarantine: %v", got)
	}

	for _, tc := range []struct {
		name string
		o    RestoreOptions
	}{
		{"nothing selected", RestoreOptions{}},
		{"unknown image", RestoreOptions{SHA256: strings.Repeat("0", 64)}},
		{"image not quarantined", RestoreOptions{SHA256: p.good[0]}},
	} {
		tc.o.Catalog, tc.o.Store = p.cat, p.store
		if _, err := Restore(ctx, tc.o); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestDecisions(t *testing.T) {
	p := newCleanProject(t)
	ctx := context.Background()
	if err := SetDecision(ctx, p.cat, p.good[2], DecisionReject); err != nil {
		t.Fatal(err)
	}
	if err := SetDecision(ctx, p.cat, p.tiny, DecisionKeep); err != nil {
		t.Fatal(err)
	}
	p.run(Options{})
	if got := p.image(p.good[2]); got.Reason != ReasonRejected || got.Method != "person" {
		t.Errorf("rejected image: %+v", got)
	}
	if got := p.image(p.tiny); got.Status != catalog.StatusKept {
		t.Errorf("an image a person kept was quarantined as %s", got.Reason)
	}
	// The flag is still recorded for review, even though it is kept.
	flags, err := Flags(ctx, p.cat, ReasonTooSmall)
	if err != nil || len(flags) != 1 || flags[0].SHA256 != p.tiny || flags[0].Score != 1 {
		t.Errorf("too-small flags %+v, %v", flags, err)
	}

	// A person changes their mind.
	if err := SetDecision(ctx, p.cat, p.good[2], ""); err != nil {
		t.Fatal(err)
	}
	sum, _ := p.run(Options{})
	if got := p.image(p.good[2]); got.Status != catalog.StatusKept || sum.Released != 1 {
		t.Errorf("after forgetting the decision: %+v (released %d)", got, sum.Released)
	}

	for _, tc := range []struct{ sha, decision string }{
		{p.good[0], "maybe"},
		{strings.Repeat("a", 64), DecisionKeep},
	} {
		if err := SetDecision(ctx, p.cat, tc.sha, tc.decision); err == nil {
			t.Errorf("SetDecision(%s, %q): no error", tc.sha, tc.decision)
		}
	}
}

// Loosening a setting lets images back; a check that could not run (no
// labeler) releases nothing it once quarantined.
func TestRunReleasesOnlyWhatItJudged(t *testing.T) {
	p := newCleanProject(t)
	p.run(Options{})
	ctx := context.Background()
	// As if an earlier run with a labeler had found a good photo off-topic.
	offTopic := p.good[3]
	im := p.image(offTopic)
	if err := (mover{p.cat, p.store}).move(ctx, im, quarantineKey(ReasonOffTopic, im.Class, im.SHA256, im.Key),
		target{status: catalog.StatusQuarantined, reason: ReasonOffTopic, method: MethodReference, score: -4}); err != nil {
		t.Fatal(err)
	}

	cfg := Default()
	cfg.MinSide = 1
	cfg.Disable = []string{ReasonDuplicate}
	sum, _ := p.run(Options{Config: cfg})
	got := p.quarantined()
	if got[p.tiny] != ReasonLowInformation {
		t.Errorf("the 1x1 image is no longer too small, but still near-uniform: %q", got[p.tiny])
	}
	if got[p.exact] != "" || got[p.near] != "" {
		t.Errorf("duplicates are not checked any more, yet stay quarantined: %v", got)
	}
	if got[offTopic] != ReasonOffTopic {
		t.Errorf("off-topic image released by a run that could not judge it: %v", got)
	}
	if sum.Released != 2 || sum.Moved != 1 {
		t.Errorf("released %d, moved %d; want 2 and 1", sum.Released, sum.Moved)
	}
	if im := p.image(p.exact); im.Key != "images/destroyers/"+p.exact+".jpg" || !p.exists(im.Key) {
		t.Errorf("released image at %s", im.Key)
	}
}

func TestRunBadInput(t *testing.T) {
	ctx := context.Background()
	p := newCleanProject(t)
	db := p.cat.DB()

	// A file that vanished from the store.
	gone := p.image(p.good[4])
	if err := p.store.Delete(ctx, gone.Key); err != nil {
		t.Fatal(err)
	}
	// Bytes that are not what the catalog says.
	swapped := p.image(p.good[3])
	if err := p.store.Put(ctx, swapped.Key, strings.NewReader("not the same bytes"), -1); err != nil {
		t.Fatal(err)
	}
	// Rows edited by hand into nonsense.
	nonsense := map[string]string{
		`UPDATE images SET status = 'banana' WHERE sha256 = ?`:                        p.good[2],
		`UPDATE images SET class = '../..' WHERE sha256 = ?`:                          p.good[1],
		`UPDATE images SET key = '/etc/passwd', width = -5 WHERE sha256 = ?`:          p.broken,
		`UPDATE images SET reason = 'vibes', status = 'quarantined' WHERE sha256 = ?`: p.tiny,
	}
	for q, sha := range nonsense {
		if _, err := db.Exec(q, sha); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`UPDATE images SET sha256 = 'xyz' WHERE sha256 = ?`, p.crossA); err != nil {
		t.Fatal(err)
	}
	var before []catalog.Image
	p.cat.ForEachImage(ctx, catalog.ImageFilter{}, func(im catalog.Image) error {
		before = append(before, im)
		return nil
	})

	sum, _ := p.run(Options{})
	if !slices.Equal(sum.Missing, []string{gone.SHA256}) {
		t.Errorf("missing %v, want %s", sum.Missing, gone.SHA256)
	}
	var skipped []string
	for _, s := range sum.Skipped {
		skipped = append(skipped, s.SHA256)
	}
	slices.Sort(skipped)
	wantSkipped := []string{p.good[2], p.good[1], p.broken, p.tiny, "xyz", swapped.SHA256}
	slices.Sort(wantSkipped)
	if !slices.Equal(skipped, wantSkipped) {
		t.Errorf("skipped %v, want %v", sum.Skipped, wantSkipped)
	}
	// Nothing about the odd rows changed; the sane ones were cleaned.
	for _, im := range before {
		after, err := p.cat.GetImage(ctx, im.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(wantSkipped, im.SHA256) || im.SHA256 == gone.SHA256 {
			if after != im {
				t.Errorf("row %s changed: %+v -> %+v", im.SHA256, im, after)
			}
		}
	}
	if got := p.quarantined(); got[p.exact] != ReasonDuplicate || got[p.crossB] != "" {
		// crossB's partner is unreadable now, so it is alone in its class.
		t.Errorf("quarantined %v", got)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	p := newCleanProject(t)
	badConfig := Default()
	badConfig.OffTopic.Method = "vibes"
	badConfig.DarkBelow = 300
	badConfig.OffTopic.MinLabelOverlap = 1.5
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"bad config", Options{Config: badConfig}},
		{"unknown class method", Options{Config: Default(), Classes: []Class{{Name: "destroyers", Method: "astrology"}}}},
		{"reference method without references", Options{Config: Default(), Classes: []Class{{Name: "destroyers", Method: MethodReference}}}},
		{"missing reference file", Options{Config: Default(), Classes: []Class{{Name: "destroyers", References: []string{"/nonexistent/ref.jpg"}}}}},
		{"no store", Options{Config: Default()}},
	} {
		tc.o.Catalog, tc.o.Store = p.cat, p.store
		if tc.name == "no store" {
			tc.o.Store = nil
		}
		_, err := Run(context.Background(), tc.o)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if errkind.KindOf(err) == errkind.KindRetryable {
			t.Errorf("%s: %v is marked retryable", tc.name, err)
		}
		if len(p.quarantined()) != 0 {
			t.Fatalf("%s: images moved before the error", tc.name)
		}
	}
	err := Default().Validate()
	if err != nil {
		t.Errorf("the defaults are invalid: %v", err)
	}
	if err := badConfig.Validate(); err == nil || !strings.Contains(err.Error(), "off_topic.method") || !strings.Contains(err.Error(), "dark_below") ||
		!strings.Contains(err.Error(), "off_topic.min_label_overlap") {
		t.Errorf("Validate: %v; want every problem named by key", err)
	}
	var c Config
	if c.Validate() == nil {
		t.Error("a zero Config validates")
	}
}

// flakyStore fails Get for one key, or every Move after the first few, the
// way a remote store does when the network goes.
type flakyStore struct {
	store.Store
	failGet   string
	moves     int
	failAfter int // Moves that succeed before the rest fail; -1 never
}

var errNetwork = errkind.Retryable(errors.New("connection reset by peer"), 0)

func (f *flakyStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if key == f.failGet {
		return nil, errNetwork
	}
	return f.Store.Get(ctx, key)
}

func (f *flakyStore) Move(ctx context.Context, src, dst string) error {
	if f.failAfter >= 0 && f.moves >= f.failAfter {
		return errNetwork
	}
	f.moves++
	return f.Store.Move(ctx, src, dst)
}

func TestRunStoreFailures(t *testing.T) {
	ctx := context.Background()

	// Reading fails: nothing moves.
	p := newCleanProject(t)
	before := p.files()
	_, err := Run(ctx, Options{Catalog: p.cat, Store: &flakyStore{Store: p.store, failGet: p.image(p.good[2]).Key, failAfter: -1}, Config: Default()})
	if !errkind.IsRetryable(err) {
		t.Errorf("a store that fails to read: %v, want a retryable error", err)
	}
	if !slices.Equal(p.files(), before) || len(p.quarantined()) != 0 {
		t.Errorf("images moved although reading failed")
	}

	// Moving fails after two: those two are moved and recorded, the rest
	// untouched; the next run finishes the job.
	_, err = Run(ctx, Options{Catalog: p.cat, Store: &flakyStore{Store: p.store, failAfter: 2}, Config: Default()})
	if !errkind.IsRetryable(err) {
		t.Errorf("a store that fails to move: %v", err)
	}
	got := p.quarantined()
	if len(got) != 2 {
		t.Errorf("%d images quarantined, want the 2 moved", len(got))
	}
	for sha := range got {
		if im := p.image(sha); !p.exists(im.Key) {
			t.Errorf("%s recorded at %s, which is empty", sha, im.Key)
		}
	}
	if len(p.files()) != len(before) {
		t.Errorf("files lost: %d before, %d after", len(before), len(p.files()))
	}
	sum, _ := p.run(Options{})
	if sum.Quarantined != 6 || sum.Moved != 4 {
		t.Errorf("the run after: %d quarantined, %d moved; want 6 and 4", sum.Quarantined, sum.Moved)
	}

	// Cancelled: an error, and nothing half done.
	p = newCleanProject(t)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Run(cctx, Options{Catalog: p.cat, Store: p.store, Config: Default()}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if len(p.quarantined()) != 0 {
		t.Errorf("a cancelled run moved images")
	}
}
