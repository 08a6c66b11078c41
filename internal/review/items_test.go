package review

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/clean"
)

// The lists the page reads: counts by reason, class and decision; pages
// under a class and state filter, by cursor or offset; an image found by
// its hash with its place in its list; and refusals that say what is wrong.
func TestListsThroughTheAPI(t *testing.T) {
	p := newProject(t)
	var shas []string
	for i := range 4 {
		sha := p.add("Destroyers", photo(t, "Destroyers", i))
		p.quarantine(sha, clean.ReasonOffTopic, float64(i))
		// Most doubtful first: the images in reverse order of adding.
		p.score(catalog.Score{SHA256: sha, OffTopic: 0.6 + 0.1*float64(i), OffTopicThreshold: 0.6, OffTopicMethod: "project"})
		shas = append(shas, sha)
	}
	sub := p.add("Submarines", photo(t, "Submarines", 0))
	p.quarantine(sub, clean.ReasonOffTopic, 1)
	p.score(catalog.Score{SHA256: sub, OffTopic: 0.99, OffTopicThreshold: 0.6, OffTopicMethod: "project"})
	dark := p.add("Submarines", photo(t, "Submarines", 1))
	p.quarantine(dark, clean.ReasonDark, 9)
	s, _ := p.start([]Class{{Name: "Destroyers"}, {Name: "Submarines"}})
	c := newClient(t, s)
	if code, body := c.post("/api/decide", map[string]string{"sha256": shas[2], "decision": verdictDiscard}, nil); code != http.StatusOK {
		t.Fatalf("discard: %d %v", code, body)
	}

	st := c.state()
	got := map[string]int{}
	for _, g := range st.Groups {
		got[g.Reason+"/"+g.Class+"/"+g.Decision] = g.Count
		if g.Reason == clean.ReasonOffTopic && (g.OffTopic != g.Count || g.Scored != g.Count) {
			t.Errorf("group %+v: every off-topic image here is scored", g)
		}
	}
	want := map[string]int{"off-topic/Destroyers/": 3, "off-topic/Destroyers/discard": 1, "off-topic/Submarines/": 1, "dark/Submarines/": 1}
	if len(got) != len(want) {
		t.Fatalf("groups %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("group %s counts %d, want %d (all: %v)", k, got[k], n, got)
		}
	}
	if names := []string{st.Classes[0].Name, st.Classes[1].Name}; len(st.Classes) != 2 || names[0] != "Destroyers" {
		t.Errorf("classes %v", st.Classes)
	}

	list := func(q url.Values) pageJSON {
		t.Helper()
		var page pageJSON
		c.getJSON("/api/items?"+q.Encode(), &page)
		return page
	}
	order := func(items []item) []string {
		var out []string
		for _, it := range items {
			out = append(out, it.SHA256)
		}
		return out
	}
	destroyers := []string{shas[3], shas[2], shas[1], shas[0]}
	q := url.Values{"reason": {clean.ReasonOffTopic}, "class": {"Destroyers"}, "limit": {"3"}}
	first := list(q)
	if !slices.Equal(order(first.Items), destroyers[:3]) || first.Next == "" {
		t.Fatalf("first page %v (next %q), want %v and a cursor", order(first.Items), first.Next, destroyers[:3])
	}
	q.Set("after", first.Next)
	if rest := list(q); !slices.Equal(order(rest.Items), destroyers[3:]) || rest.Next != "" {
		t.Fatalf("second page %v (next %q), want %v and no cursor", order(rest.Items), rest.Next, destroyers[3:])
	}
	q.Del("after")
	q.Set("offset", "2")
	if jump := list(q); !slices.Equal(order(jump.Items), destroyers[2:]) {
		t.Fatalf("from offset 2: %v, want %v", order(jump.Items), destroyers[2:])
	}
	q.Del("offset")
	q.Set("state", "undecided")
	if todo := list(q); !slices.Equal(order(todo.Items), []string{shas[3], shas[1], shas[0]}) {
		t.Fatalf("undecided: %v", order(todo.Items))
	}
	q.Set("state", verdictDiscard)
	if done := list(q); len(done.Items) != 1 || done.Items[0].SHA256 != shas[2] || done.Items[0].Decision != verdictDiscard {
		t.Fatalf("discarded: %+v", done.Items)
	}
	if all := list(url.Values{"reason": {clean.ReasonOffTopic}}); !slices.Equal(order(all.Items), append([]string{sub}, destroyers...)) {
		t.Fatalf("every class: %v, want the most doubtful first", order(all.Items))
	}

	locate := func(sha, state string) locateJSON {
		t.Helper()
		var at locateJSON
		c.getJSON("/api/locate?"+url.Values{"sha": {sha}, "state": {state}}.Encode(), &at)
		return at
	}
	if at := locate(shas[1], ""); at.Index != 2 || at.Item.Reason != clean.ReasonOffTopic || at.Item.Class != "Destroyers" {
		t.Errorf("locate %s: %+v, want index 2 among the Destroyers", shas[1][:8], at)
	}
	if at := locate(shas[1], "undecided"); at.Index != 1 {
		t.Errorf("locate among the undecided: index %d, want 1", at.Index)
	}
	if at := locate(shas[1], verdictKeep); at.Index != -1 {
		t.Errorf("locate an undecided image among the kept: index %d, want -1", at.Index)
	}
	if at := locate(dark, ""); at.Index != 0 || at.Item.Reason != clean.ReasonDark {
		t.Errorf("locate the dark image: %+v", at)
	}

	for _, bad := range []string{
		"/api/items",
		"/api/items?reason=off-topic&state=maybe",
		"/api/items?reason=off-topic&limit=0",
		"/api/items?reason=off-topic&limit=501",
		"/api/items?reason=off-topic&offset=-1",
		"/api/items?reason=off-topic&after=bm90LWEtY3Vyc29y",
		"/api/items?reason=off-topic&after=%25%25",
		"/api/locate?sha=" + strings.Repeat("g", 64),
	} {
		if code, body := c.getRaw(bad); code != http.StatusBadRequest || !strings.Contains(string(body), `"error"`) {
			t.Errorf("%s: %d %s, want 400 with the reason", bad, code, body)
		}
	}
	if code, _ := c.getRaw("/api/locate?sha=" + strings.Repeat("0", 64)); code != http.StatusNotFound {
		t.Errorf("locate an unknown image: %d, want 404", code)
	}
}
