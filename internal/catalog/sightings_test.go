package catalog

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

func sighted(class, url, engine, query string) Candidate {
	return Candidate{URL: url, Class: class, Engine: engine, Query: query}
}

func testImage(sha, class string) *Image {
	return &Image{SHA256: sha, Class: class, Key: "images/" + class + "/" + sha + ".jpg", Format: "jpeg", Width: 10, Height: 10, Bytes: 100}
}

func statsOf(t *testing.T, c *Catalog) map[string]QueryStats {
	t.Helper()
	qs, err := c.QueryStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]QueryStats{}
	for _, q := range qs {
		out[q.Engine+"/"+q.Class+"/"+q.Query] = q
	}
	return out
}

// Every search that finds a URL or the same bytes leaves a trace, and the
// per-query counts credit each search with what it found.
func TestSightingsKeepEveryProvenance(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	u1, u2, u3, u4 := "http://a.test/1.jpg", "http://b.test/same-bytes.jpg", "http://a.test/garbage.jpg", "http://a.test/404.jpg"
	steps := [][]Candidate{
		{sighted("ship", u1, "bing", "destroyer"), sighted("ship", u3, "bing", "destroyer"), sighted("ship", u4, "bing", "destroyer")},
		// The same URL again, from another query and another engine.
		{sighted("ship", u1, "bing", "warship"), sighted("ship", u1, "commons", "destroyer")},
		// Other URLs with the same bytes as u1, one for another class.
		{sighted("ship", u2, "commons", "destroyer"), sighted("boat", u2, "bing", "boat")},
	}
	added := 0
	for _, cs := range steps {
		n, err := c.AddCandidates(ctx, cs)
		if err != nil {
			t.Fatal(err)
		}
		added += n
	}
	if added != 5 {
		t.Fatalf("new URL rows %d, want 5 (u1, u3, u4, u2 twice by class)", added)
	}
	// Replaying a search adds nothing.
	if _, err := c.AddCandidates(ctx, steps[1]); err != nil {
		t.Fatal(err)
	}
	id := func(class, u string) string { return URLID(class, u) }
	if _, err := c.Record(ctx, []Outcome{
		{URLID: id("ship", u1), Image: testImage("aa", "ship")},
		{URLID: id("ship", u2), Image: testImage("aa", "ship")},
		{URLID: id("boat", u2), Image: testImage("aa", "boat")},
		{URLID: id("ship", u3), Image: testImage("bb", "ship")},
		{URLID: id("ship", u4), Cause: "http-404"},
	}); err != nil {
		t.Fatal(err)
	}
	// Clean sets the garbage aside.
	if err := c.SetStatus(ctx, "bb", StatusQuarantined, "quarantine/off-topic/ship/bb.jpg", "off-topic", "reference", 0.9); err != nil {
		t.Fatal(err)
	}

	got := statsOf(t, c)
	want := map[string]QueryStats{
		"bing/ship/destroyer":    {Found: 3, Downloaded: 2, Kept: 2, CleanKept: 1},
		"bing/ship/warship":      {Found: 1, Downloaded: 1, Kept: 1, CleanKept: 1},
		"commons/ship/destroyer": {Found: 2, Downloaded: 2, Kept: 1, CleanKept: 1},
		"bing/boat/boat":         {Found: 1, Downloaded: 1, Kept: 1, CleanKept: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("stats %+v, want %d searches", got, len(want))
	}
	for k, w := range want {
		g := got[k]
		if g.Found != w.Found || g.Downloaded != w.Downloaded || g.Kept != w.Kept || g.CleanKept != w.CleanKept {
			t.Errorf("%s: %+v, want %+v", k, g, w)
		}
	}

	es, err := c.EngineStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byEngine := map[string]EngineStats{}
	for _, e := range es {
		byEngine[e.Engine] = e
	}
	// bing found u1 twice (two queries): images count once per engine.
	if e := byEngine["bing"]; e.Found != 5 || e.Downloaded != 4 || e.Kept != 2 || e.CleanKept != 1 {
		t.Errorf("bing %+v", e)
	}

	// The image's provenance: both URLs, all four searches, both classes.
	ss, err := c.ImageSightings(ctx, "aa")
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, s := range ss {
		seen = append(seen, fmt.Sprintf("%s %s %s %q", s.Class, s.URL, s.Engine, s.Query))
	}
	wantSeen := []string{
		`boat http://b.test/same-bytes.jpg bing "boat"`,
		`ship http://a.test/1.jpg bing "destroyer"`,
		`ship http://a.test/1.jpg bing "warship"`,
		`ship http://a.test/1.jpg commons "destroyer"`,
		`ship http://b.test/same-bytes.jpg commons "destroyer"`,
	}
	if !slices.Equal(seen, wantSeen) {
		t.Errorf("provenance of aa:\n%q\nwant\n%q", seen, wantSeen)
	}

	other, err := c.OtherClasses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(other) != 1 || !slices.Equal(other["aa"], []string{"boat"}) {
		t.Errorf("other classes %v, want aa found for boat too", other)
	}
}

// Lines of a URL list that could not be used are sightings too: the list's
// count of what it offered includes them.
func TestFailureIsASighting(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	if err := c.RecordFailure(ctx, Candidate{URL: "line 3: nonsense", Class: "a", Engine: "urls", Rank: 3}, "bad-url", "not an http or https URL"); err != nil {
		t.Fatal(err)
	}
	if q := statsOf(t, c)["urls/a/"]; q.Found != 1 || q.Downloaded != 0 {
		t.Fatalf("stats %+v", q)
	}
}

// mergeCase returns a project catalog and a shard's, both holding one
// candidate URL each whose bytes are the same image.
func mergeCase(t *testing.T, mainURL, shardURL string) (main, sh *Catalog) {
	t.Helper()
	ctx := context.Background()
	main, sh = open(t), open(t)
	for _, x := range []struct {
		c   *Catalog
		url string
		eng string
	}{{main, mainURL, "bing"}, {sh, shardURL, "commons"}} {
		if _, err := x.c.AddCandidates(ctx, []Candidate{sighted("ship", x.url, x.eng, "destroyer")}); err != nil {
			t.Fatal(err)
		}
		if _, err := x.c.Record(ctx, []Outcome{{URLID: URLID("ship", x.url), Image: testImage("cc", "ship")}}); err != nil {
			t.Fatal(err)
		}
	}
	return main, sh
}

// An image the project set aside stays set aside when a shard brings the
// same bytes from another URL, whichever URL sorts first and whichever
// catalog set it aside; the copy the shard stored becomes an orphan.
func TestMergeKeepsTombstones(t *testing.T) {
	ctx := context.Background()
	// Two URL pairs, so that in one the project's URL id sorts first and in
	// the other the shard's does: the old rule (first URL id wins) would
	// bring the image back in one of them.
	a, b := "http://x.test/a.jpg", "http://x.test/b.jpg"
	if URLID("ship", a) > URLID("ship", b) {
		a, b = b, a
	}
	quarantineKey := "quarantine/off-topic/ship/cc.jpg"
	for _, tc := range []struct {
		name           string
		mainURL, shURL string
		asideInShard   bool
	}{
		{"project set aside, its URL sorts first", a, b, false},
		{"project set aside, the shard's URL sorts first", b, a, false},
		{"shard set aside, its URL sorts first", b, a, true},
		{"shard set aside, the project's URL sorts first", a, b, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			main, sh := mergeCase(t, tc.mainURL, tc.shURL)
			aside, keptURL := main, tc.shURL
			if tc.asideInShard {
				aside, keptURL = sh, tc.mainURL
			}
			if err := aside.SetStatus(ctx, "cc", StatusQuarantined, quarantineKey, "off-topic", "reference", 0.9); err != nil {
				t.Fatal(err)
			}
			st, err := main.Merge(ctx, sh)
			if err != nil {
				t.Fatal(err)
			}
			im, err := main.GetImage(ctx, "cc")
			if err != nil {
				t.Fatal(err)
			}
			if im.Status != StatusQuarantined || im.Key != quarantineKey || im.Reason != "off-topic" {
				t.Fatalf("after merge the image is %s at %s (%s), want it still quarantined at %s", im.Status, im.Key, im.Reason, quarantineKey)
			}
			if !slices.Equal(st.Orphans, []string{"images/ship/cc.jpg"}) {
				t.Fatalf("orphans %v, want the kept copy's key", st.Orphans)
			}
			u, err := main.GetURL(ctx, URLID("ship", keptURL))
			if err != nil || u.State != StateDuplicate {
				t.Fatalf("the URL that brought the bytes again: %+v %v, want a duplicate", u, err)
			}
			// Merging again changes nothing.
			if _, err := main.Merge(ctx, sh); err != nil {
				t.Fatal(err)
			}
			if im2, _ := main.GetImage(ctx, "cc"); im2 != im {
				t.Fatalf("second merge changed the image: %+v -> %+v", im, im2)
			}
			// Both searches stay on record.
			ss, err := main.ImageSightings(ctx, "cc")
			if err != nil || len(ss) != 2 {
				t.Fatalf("sightings after merge %+v %v, want both engines'", ss, err)
			}
		})
	}
}

// Sightings merge by union: the same URL found by a different query in each
// shard keeps both.
func TestMergeUnitesSightings(t *testing.T) {
	ctx := context.Background()
	main, sh := open(t), open(t)
	u := "http://x.test/a.jpg"
	main.AddCandidates(ctx, []Candidate{sighted("ship", u, "bing", "q1")})
	sh.AddCandidates(ctx, []Candidate{sighted("ship", u, "bing", "q2"), sighted("ship", u, "bing", "q1")})
	for i := 0; i < 2; i++ {
		if _, err := main.Merge(ctx, sh); err != nil {
			t.Fatal(err)
		}
	}
	got := statsOf(t, main)
	if len(got) != 2 || got["bing/ship/q1"].Found != 1 || got["bing/ship/q2"].Found != 1 {
		t.Fatalf("stats after merge %+v", got)
	}
}

func TestWorstQuery(t *testing.T) {
	q := func(found, cleanKept int) QueryStats { return QueryStats{Found: found, CleanKept: cleanKept} }
	for _, tc := range []struct {
		name string
		qs   []QueryStats
		want int
	}{
		{"none", nil, -1},
		{"one search stands alone", []QueryStats{q(50, 1)}, -1},
		{"the garbage query", []QueryStats{q(50, 40), q(50, 5), q(40, 30)}, 1},
		{"too few to judge are not blamed", []QueryStats{q(50, 40), q(3, 0), q(40, 30)}, 2},
		{"all alike", []QueryStats{q(10, 5), q(20, 10)}, -1},
		{"nothing kept anywhere but one", []QueryStats{q(10, 0), q(10, 10)}, 0},
	} {
		if got := WorstQuery(tc.qs); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// Two shards that both set the same bytes aside (each under its own reason)
// merge to the same catalog in either order.
func TestMergeTombstonesOrderIndependent(t *testing.T) {
	ctx := context.Background()
	a, b := "http://x.test/a.jpg", "http://x.test/b.jpg"
	shard := func(url, reason string) *Catalog {
		c := open(t)
		c.AddCandidates(ctx, []Candidate{sighted("ship", url, "bing", "q")})
		if _, err := c.Record(ctx, []Outcome{{URLID: URLID("ship", url), Image: testImage("dd", "ship")}}); err != nil {
			t.Fatal(err)
		}
		if err := c.SetStatus(ctx, "dd", StatusQuarantined, "quarantine/"+reason+"/ship/dd.jpg", reason, "m", 1); err != nil {
			t.Fatal(err)
		}
		return c
	}
	s1, s2 := shard(a, "off-topic"), shard(b, "too-small")
	var got []Image
	for _, order := range [][]*Catalog{{s1, s2}, {s2, s1}} {
		main := open(t)
		for _, s := range order {
			if _, err := main.Merge(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		im, err := main.GetImage(ctx, "dd")
		if err != nil || im.Status != StatusQuarantined {
			t.Fatalf("merged image %+v %v", im, err)
		}
		im.FetchedAt = ""
		got = append(got, im)
	}
	if got[0] != got[1] {
		t.Fatalf("merge order changed the result:\n%+v\n%+v", got[0], got[1])
	}
}
