package review

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/clean"
)

func TestRefusesNonLoopbackAddresses(t *testing.T) {
	p := newProject(t)
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0", "example.com:0", "127.0.0.1.example.com:0", "no-port"} {
		s, err := Start(context.Background(), Options{Catalog: p.cat, Store: p.store, ProjectDir: p.dir, Addr: addr})
		if err == nil {
			s.Close()
			t.Errorf("Start(Addr %q) served the page; want it refused", addr)
		}
	}
	s, err := Start(context.Background(), Options{Catalog: p.cat, Store: p.store, ProjectDir: p.dir, Addr: "localhost:0"})
	if err != nil {
		t.Fatalf("localhost: %v", err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("localhost served at %s; want the IPv4 loopback", s.URL())
	}
}

func TestStateChangesNeedTheTokenAndTheOrigin(t *testing.T) {
	p := newProject(t)
	sha := p.add("Destroyers", photo(t, "Destroyers", 0))
	p.quarantine(sha, clean.ReasonBlurry, 3)
	s, _ := p.start(nil)
	c := newClient(t, s)
	keep := map[string]string{"sha256": sha, "decision": "keep"}

	for _, tc := range []struct {
		name string
		edit func(http.Header)
	}{
		{"no token", func(h http.Header) { h.Del(tokenHeader) }},
		{"wrong token", func(h http.Header) { h.Set(tokenHeader, strings.Repeat("0", 64)) }},
		{"no origin", func(h http.Header) { h.Del("Origin") }},
		{"foreign origin", func(h http.Header) { h.Set("Origin", "http://evil.example") }},
		{"look-alike origin", func(h http.Header) { h.Set("Origin", c.origin+".evil.example") }},
	} {
		if code, _ := c.post("/api/decide", keep, tc.edit); code != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tc.name, code)
		}
	}
	if im := p.image(sha); im.Status != catalog.StatusQuarantined {
		t.Fatalf("a refused request changed the image: %s", im.Status)
	}

	// A DNS-rebinding page names its own host; a stranger has no cookie.
	req, _ := http.NewRequest(http.MethodGet, c.origin+"/api/state", nil)
	req.Host = "rebind.example:" + strings.Split(c.origin, ":")[2]
	if resp, err := c.http.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign Host: %v %v, want 403", resp.Status, err)
	}
	if resp, err := http.Get(c.origin + "/api/state"); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("no cookie: %v %v, want 403", resp.Status, err)
	}
	if resp, err := http.Get(c.origin + "/?key=" + strings.Repeat("0", 64)); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("wrong key: %v %v, want 403", resp.Status, err)
	}

	if code, body := c.post("/api/decide", keep, nil); code != http.StatusOK {
		t.Fatalf("the page's own request: %d %v", code, body)
	}
	if im := p.image(sha); im.Status != catalog.StatusKept {
		t.Errorf("after keep: %s, want kept", im.Status)
	}
}

func TestPathsCannotEscapeTheProject(t *testing.T) {
	p := newProject(t)
	sha := p.add("Destroyers", photo(t, "Destroyers", 0))
	p.quarantine(sha, clean.ReasonBlurry, 3)

	// A real photo outside the project: a leak would serve it as a
	// perfectly good image, so only a refusal passes.
	outside := filepath.Join(t.TempDir(), "outside.jpg")
	if err := os.WriteFile(outside, photo(t, "Submarines", 0), 0o644); err != nil {
		t.Fatal(err)
	}
	refs := filepath.Join(p.dir, "references")
	if err := os.MkdirAll(refs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(refs, "good.jpg"), photo(t, "Destroyers", 1), 0o644); err != nil {
		t.Fatal(err)
	}
	relOut, _ := filepath.Rel(refs, outside)
	for name, target := range map[string]string{"abs-link.jpg": outside, "rel-link.jpg": relOut} {
		if err := os.Symlink(target, filepath.Join(refs, name)); err != nil {
			t.Fatal(err)
		}
	}
	relFromProject, _ := filepath.Rel(p.dir, outside)
	class := Class{Name: "Destroyers", References: []string{
		"references/good.jpg", relFromProject, outside, "references/abs-link.jpg", "references/rel-link.jpg",
		"references/../" + relFromProject, "/etc/passwd",
	}}
	// An image row whose key points out of the store.
	evil := p.add("Destroyers", photo(t, "Destroyers", 2))
	if err := p.cat.SetStatus(context.Background(), evil, catalog.StatusQuarantined, "../"+relFromProject, clean.ReasonDark, "", 1); err != nil {
		t.Fatal(err)
	}
	s, rec := p.start([]Class{class})
	c := newClient(t, s)

	if code, body := c.getRaw("/ref/Destroyers/0"); code != http.StatusOK || !bytes.HasPrefix(body, []byte{0xFF, 0xD8}) {
		t.Fatalf("the reference inside the project: %d, want a JPEG", code)
	}
	for i := 1; i < len(class.References); i++ {
		if code, _ := c.getRaw("/ref/Destroyers/" + string(rune('0'+i))); code == http.StatusOK {
			t.Errorf("reference %q was served", class.References[i])
		}
	}
	if len(rec.Notes()) == 0 {
		t.Errorf("no warning about references outside the project")
	}
	for _, path := range []string{
		"/image/" + evil,
		"/image/../../etc/passwd",
		"/image/..%2f..%2f..%2fetc%2fpasswd",
		"/image/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
		"/image/%252e%252e%252fetc%252fpasswd",
		"/ref/Destroyers/..%2f..%2f..%2fetc%2fpasswd",
		"/ref/..%2f..%2f..%2fetc/0",
		"/ref/Destroyers/-1",
		"/%2e%2e/%2e%2e/etc/passwd",
		"/app.js/../../../../etc/passwd",
		"/..%5c..%5cetc%5cpasswd",
	} {
		code, body := c.getRaw(path)
		if code == http.StatusOK || bytes.Contains(body, []byte("root:")) || bytes.HasPrefix(body, []byte{0xFF, 0xD8}) {
			t.Errorf("GET %s: %d, %d bytes; want a refusal", path, code, len(body))
		}
	}
	if code, _ := c.getRaw("/image/" + sha); code != http.StatusOK {
		t.Errorf("a quarantined image: %d, want 200", code)
	}
}

// Decisions through the API: a change of mind, undo, and the refusals.
func TestDecideAndUndo(t *testing.T) {
	p := newProject(t)
	sha := p.add("Destroyers", photo(t, "Destroyers", 0))
	p.quarantine(sha, clean.ReasonBlurry, 3)
	qkey := p.image(sha).Key
	s, _ := p.start(nil)
	c := newClient(t, s)
	decide := func(verdict string) int {
		code, _ := c.post("/api/decide", map[string]string{"sha256": sha, "decision": verdict}, nil)
		return code
	}

	if code := decide("discard"); code != http.StatusOK {
		t.Fatalf("discard: %d", code)
	}
	if im := p.image(sha); im.Status != catalog.StatusQuarantined || !p.onDisk(qkey) || p.cleanDecision(sha) != clean.DecisionReject {
		t.Fatalf("after discard: %s at %s, clean decision %q", im.Status, im.Key, p.cleanDecision(sha))
	}
	if code := decide("keep"); code != http.StatusOK {
		t.Fatalf("keep after discard: %d", code)
	}
	im := p.image(sha)
	if im.Status != catalog.StatusKept || im.Key != "images/Destroyers/"+sha+".jpg" || !p.onDisk(im.Key) || p.onDisk(qkey) ||
		p.cleanDecision(sha) != clean.DecisionKeep {
		t.Fatalf("after keep: %s at %s, clean decision %q", im.Status, im.Key, p.cleanDecision(sha))
	}
	if items := c.shown(); len(items) != 1 || items[0].Decision != verdictKeep || items[0].Reason != clean.ReasonBlurry || items[0].Score != 3 {
		t.Fatalf("items after keep: %+v; want the kept image under its reason", items)
	}

	if code, body := c.post("/api/undo", map[string]string{}, nil); code != http.StatusOK || body["sha256"] != sha {
		t.Fatalf("undo: %d %v", code, body)
	}
	im = p.image(sha)
	if im.Status != catalog.StatusQuarantined || im.Key != qkey || im.Reason != clean.ReasonBlurry || im.Score != 3 ||
		!p.onDisk(qkey) || p.onDisk("images/Destroyers/"+sha+".jpg") || p.cleanDecision(sha) != "" {
		t.Fatalf("after undo: %+v, clean decision %q", im, p.cleanDecision(sha))
	}
	if code, _ := c.post("/api/undo", map[string]string{}, nil); code != http.StatusConflict {
		t.Errorf("undo with nothing to undo: %d, want 409", code)
	}
	if code := decide("maybe"); code != http.StatusBadRequest {
		t.Errorf("unknown decision: %d, want 400", code)
	}
	if code, _ := c.post("/api/decide", map[string]string{"sha256": strings.Repeat("a", 64), "decision": "keep"}, nil); code != http.StatusNotFound {
		t.Errorf("unknown image: %d, want 404", code)
	}
}

// A crash can cut an undo short; the next start settles it.
func TestRecoversInterruptedDecisions(t *testing.T) {
	ctx := context.Background()
	p := newProject(t)
	moved := p.add("Destroyers", photo(t, "Destroyers", 0))
	unmoved := p.add("Destroyers", photo(t, "Destroyers", 1))
	lost := p.add("Submarines", photo(t, "Submarines", 0))
	for _, sha := range []string{moved, unmoved, lost} {
		p.quarantine(sha, clean.ReasonDark, 1)
	}
	qkey := map[string]string{moved: p.image(moved).Key, unmoved: p.image(unmoved).Key}
	s, _ := p.start(nil)
	for _, d := range []struct{ sha, verdict string }{{moved, verdictKeep}, {unmoved, verdictKeep}, {lost, verdictDiscard}} {
		if err := s.decideOn(ctx, d.sha, d.verdict); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	// The crash: one undo got as far as moving the bytes back, one only as
	// far as marking itself, and a discard's clean decision was lost.
	for _, sha := range []string{moved, unmoved} {
		if err := p.cat.SetReviewUndoing(ctx, sha, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.store.Move(ctx, p.image(moved).Key, qkey[moved]); err != nil {
		t.Fatal(err)
	}
	if err := clean.SetDecision(ctx, p.cat, lost, ""); err != nil {
		t.Fatal(err)
	}

	s, _ = p.start(nil)
	if im := p.image(moved); im.Status != catalog.StatusQuarantined || im.Key != qkey[moved] || p.cleanDecision(moved) != "" {
		t.Errorf("undo cut short after the move: %s at %s, decision %q; want it finished", im.Status, im.Key, p.cleanDecision(moved))
	}
	if im := p.image(unmoved); im.Status != catalog.StatusKept || !p.onDisk(im.Key) || p.cleanDecision(unmoved) != clean.DecisionKeep {
		t.Errorf("undo cut short before the move: %s at %s, decision %q; want it still kept", im.Status, im.Key, p.cleanDecision(unmoved))
	}
	if d := p.cleanDecision(lost); d != clean.DecisionReject {
		t.Errorf("discard whose clean decision was lost: %q, want reject again", d)
	}
	got := map[string]string{}
	for _, it := range newClient(t, s).shown() {
		got[it.SHA256] = it.Decision
	}
	if d, ok := got[moved]; !ok || d != "" {
		t.Errorf("the page shows the finished undo as %q (listed %v), want undecided", d, ok)
	}
	if got[unmoved] != verdictKeep || got[lost] != verdictDiscard {
		t.Errorf("the page shows %q and %q, want keep and discard", got[unmoved], got[lost])
	}
}
