package review

import (
	"context"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/clean"
)

// The counts the page lays out are kept between requests, and follow every
// change to the catalog: a decision through the page, a write by this
// process outside the server, and one by another process.
func TestCountsFollowTheCatalog(t *testing.T) {
	p := newProject(t)
	a := p.add("Destroyers", photo(t, "Destroyers", 0))
	b := p.add("Destroyers", photo(t, "Destroyers", 1))
	d := p.add("Destroyers", photo(t, "Destroyers", 2))
	p.quarantine(a, clean.ReasonBlurry, 3)
	s, _ := p.start(nil)
	c := newClient(t, s)
	count := func() map[string]int {
		t.Helper()
		n := map[string]int{}
		for _, g := range c.state().Groups {
			n[g.Reason+"/"+g.Decision] += g.Count
		}
		return n
	}
	if got := count(); got[clean.ReasonBlurry+"/"] != 1 || len(got) != 1 {
		t.Fatalf("counts %v, want one blurry image to review", got)
	}
	if code, _ := c.post("/api/decide", map[string]string{"sha256": a, "decision": verdictDiscard}, nil); code != 200 {
		t.Fatalf("discard: %d", code)
	}
	if got := count(); got[clean.ReasonBlurry+"/"+verdictDiscard] != 1 || got[clean.ReasonBlurry+"/"] != 0 {
		t.Fatalf("after a discard the counts are %v", got)
	}
	p.quarantine(b, clean.ReasonDark, 20)
	if got := count(); got[clean.ReasonDark+"/"] != 1 {
		t.Fatalf("after this process quarantined an image the counts are %v", got)
	}
	other, err := catalog.Open(context.Background(), p.cat.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.SetStatus(context.Background(), d, catalog.StatusQuarantined, p.image(d).Key, clean.ReasonDark, "test", 21); err != nil {
		t.Fatal(err)
	}
	if got := count(); got[clean.ReasonDark+"/"] != 2 {
		t.Fatalf("after another process quarantined an image the counts are %v", got)
	}
}
