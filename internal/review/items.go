package review

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/clean"
)

// The page never holds the whole quarantine: /api/state sends how many
// images each reason, class and decision has, and the page asks for the
// images of one list (a reason and class, under the page's filter) a page
// at a time, as it scrolls to them.

// scoring tells the catalog which of clean's reasons rank by which score.
var scoring = catalog.ReviewScoring{OffTopic: clean.ReasonOffTopic, Misfiled: reasonMisfiled}

// Page sizes: what the page asks for by default, and the most it may ask.
const (
	pageItems    = 100
	maxPageItems = 500
)

// item is one image on the page.
type item struct {
	SHA256 string  `json:"sha256"`
	Class  string  `json:"class"`
	Reason string  `json:"reason"`
	Score  float64 `json:"score"`
	Method string  `json:"method,omitempty"`
	// Detail is what clean said about the flag; Copy is the image it is
	// a copy of, when clean names one (duplicates).
	Detail string   `json:"detail,omitempty"`
	Copy   string   `json:"copy,omitempty"`
	Also   []string `json:"also,omitempty"` // the other reasons clean flagged it for
	Width  int      `json:"width"`
	Height int      `json:"height"`
	Bytes  int64    `json:"bytes"`
	// Decision is the person's: "keep", "discard", "move" or "" (not yet
	// decided). A moved image is shown under the class it was found in;
	// MovedTo is the class it went to.
	Decision string `json:"decision,omitempty"`
	MovedTo  string `json:"moved_to,omitempty"`
	// Clean's doubt (catalog.Score): higher is more doubtful, flagged at or
	// above the threshold; absent where that view was not judged. Suggest
	// is the class clean thinks the image belongs to, for a misfiled image
	// only: clean names the nearest other class of every image it scores.
	OffTopic          *float64 `json:"offtopic,omitempty"`
	OffTopicThreshold *float64 `json:"offtopic_threshold,omitempty"`
	OffTopicMethod    string   `json:"offtopic_method,omitempty"`
	Misfiled          *float64 `json:"misfiled,omitempty"`
	MisfiledThreshold *float64 `json:"misfiled_threshold,omitempty"`
	Suggest           string   `json:"suggest,omitempty"`
}

func itemOf(r catalog.ReviewItem) item {
	it := item{SHA256: r.SHA256, Class: r.Class, Reason: r.Reason, Score: r.Score, Method: r.Method,
		Width: r.Width, Height: r.Height, Bytes: r.Bytes, Decision: r.Decision, MovedTo: r.MovedTo}
	for _, f := range r.Flags {
		if f.Reason != r.Reason {
			it.Also = append(it.Also, f.Reason)
			continue
		}
		it.Detail = f.Detail
		if sha256Hex.MatchString(f.Detail) {
			it.Copy = f.Detail
		}
	}
	it.withScore(r.Scores)
	return it
}

// withScore gives it clean's scores of the image.
func (it *item) withScore(sc catalog.Score) {
	if sc.OffTopicThreshold != 0 {
		it.OffTopic, it.OffTopicThreshold, it.OffTopicMethod = &sc.OffTopic, &sc.OffTopicThreshold, sc.OffTopicMethod
	}
	misfiled := it.Reason == reasonMisfiled || slices.Contains(it.Also, reasonMisfiled)
	if sc.MisfiledThreshold != 0 {
		it.Misfiled, it.MisfiledThreshold = &sc.Misfiled, &sc.MisfiledThreshold
		misfiled = misfiled || sc.Misfiled >= sc.MisfiledThreshold
	}
	if misfiled && sc.Suggest != it.Class {
		it.Suggest = sc.Suggest
	}
}

// stateJSON is what the page lays out before it reads any image.
type stateJSON struct {
	Reasons []string    `json:"reasons"` // every reason clean gives, most important first
	Classes []classJSON `json:"classes"` // scour.yaml's classes first, then any other the images are in
	Groups  []groupJSON `json:"groups"`
}

type classJSON struct {
	Name       string    `json:"name"`
	References []refJSON `json:"references"`
}

type refJSON struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
	Why  string `json:"why,omitempty"` // why it is not shown
}

// groupJSON counts the images of one reason, class and decision ("" for
// undecided). Doubt is the most doubtful one's score of its reason and
// Scored how many have one, so the page can put the class holding the most
// doubtful image first.
type groupJSON struct {
	Reason   string  `json:"reason"`
	Class    string  `json:"class"`
	Decision string  `json:"decision,omitempty"`
	Count    int     `json:"count"`
	Scored   int     `json:"scored,omitempty"`
	Doubt    float64 `json:"doubt,omitempty"`
	// How many show an off-topic or a misfiled score, and a suggested
	// class: the page makes room on its cards for the lines some card of a
	// list will have.
	OffTopic  int `json:"offtopic,omitempty"`
	Misfiled  int `json:"misfiled,omitempty"`
	Suggested int `json:"suggested,omitempty"`
}

func (s *Server) state(w http.ResponseWriter, r *http.Request) {
	groups, err := s.counts.groups(r.Context())
	if err != nil {
		s.fail(w, dbErr("reading the quarantine", err))
		return
	}
	st := stateJSON{Reasons: reasonOrder(), Classes: []classJSON{}, Groups: []groupJSON{}}
	seen := map[string]bool{}
	addClass := func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		c := classJSON{Name: name, References: []refJSON{}}
		for i, ref := range s.refs[name] {
			rj := refJSON{Name: ref.Name, Why: ref.Why}
			if ref.Why == "" {
				rj.URL = fmt.Sprintf("/ref/%s/%d", url.PathEscape(name), i)
			}
			c.References = append(c.References, rj)
		}
		st.Classes = append(st.Classes, c)
	}
	for _, c := range s.o.Classes {
		addClass(c.Name)
	}
	for _, g := range groups {
		addClass(g.Class)
		st.Groups = append(st.Groups, groupJSON{Reason: g.Reason, Class: g.Class, Decision: g.Decision, Count: g.Count, Scored: g.Scored, Doubt: g.MaxDoubt,
			OffTopic: g.OffTopicJudged, Misfiled: g.MisfiledJudged, Suggested: g.Suggested})
	}
	writeJSON(w, http.StatusOK, st)
}

// pageJSON is one page of a list; Next continues it ("" after the last).
type pageJSON struct {
	Items []item `json:"items"`
	Next  string `json:"next,omitempty"`
}

// listQuery reads the list a request names: reason (required), class and
// state (the page's filter: "", "undecided", "keep", "discard", "move").
func listQuery(v url.Values) (catalog.ReviewQuery, error) {
	q := catalog.ReviewQuery{Scoring: scoring, Reason: v.Get("reason"), Class: v.Get("class"), State: v.Get("state")}
	if q.Reason == "" {
		return q, errors.New("reason is required")
	}
	switch q.State {
	case "", catalog.ReviewUndecided, verdictKeep, verdictDiscard, verdictMove:
	default:
		return q, fmt.Errorf("state must be one of undecided, keep, discard, move, or none")
	}
	return q, nil
}

// items sends a page of a list: after a cursor from the previous page, or
// from an offset when the page jumps into the middle of the list.
func (s *Server) items(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q, err := listQuery(v)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	q.Limit = pageItems
	if l := v.Get("limit"); l != "" {
		if q.Limit, err = strconv.Atoi(l); err != nil || q.Limit < 1 || q.Limit > maxPageItems {
			httpError(w, http.StatusBadRequest, fmt.Sprintf("limit must be a number from 1 to %d", maxPageItems))
			return
		}
	}
	if after := v.Get("after"); after != "" {
		cur, err := parseCursor(after)
		if err != nil {
			httpError(w, http.StatusBadRequest, "after: "+err.Error())
			return
		}
		q.After = &cur
	} else if o := v.Get("offset"); o != "" {
		if q.Offset, err = strconv.Atoi(o); err != nil || q.Offset < 0 {
			httpError(w, http.StatusBadRequest, "offset must be a number, 0 or more")
			return
		}
	}
	rs, err := s.o.Catalog.ReviewPage(r.Context(), q)
	if err != nil {
		s.fail(w, dbErr("reading the quarantine", err))
		return
	}
	page := pageJSON{Items: make([]item, len(rs))}
	for i, ri := range rs {
		page.Items[i] = itemOf(ri)
	}
	if len(rs) == q.Limit {
		page.Next = cursorText(rs[len(rs)-1].Cursor())
	}
	writeJSON(w, http.StatusOK, page)
}

// locateJSON is an image and its place in its list (its reason and
// class) under the page's filter; -1 when the filter hides it.
type locateJSON struct {
	Item  item `json:"item"`
	Index int  `json:"index"`
}

// locate finds an image the page does not hold, such as one whose
// decision was just undone from another reason's list.
func (s *Server) locate(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	sha := v.Get("sha")
	if !sha256Hex.MatchString(sha) {
		httpError(w, http.StatusBadRequest, "sha must be 64 lowercase hex digits")
		return
	}
	ri, err := s.o.Catalog.ReviewItemOf(r.Context(), scoring, sha)
	if err != nil {
		if !errors.Is(err, catalog.ErrNotFound) {
			err = dbErr("reading the quarantine", err)
		}
		s.fail(w, err)
		return
	}
	v.Set("reason", ri.Reason)
	v.Set("class", ri.Class)
	q, err := listQuery(v)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := locateJSON{Item: itemOf(ri), Index: -1}
	if q.State == "" || q.State == ri.Decision || q.State == catalog.ReviewUndecided && ri.Decision == "" {
		if out.Index, err = s.o.Catalog.ReviewIndex(r.Context(), q, ri.Cursor()); err != nil {
			s.fail(w, dbErr("reading the quarantine", err))
			return
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// A cursor goes to the page and back as opaque text: class names are
// free text, so it is JSON in base64.
func cursorText(c catalog.ReviewCursor) string {
	b, _ := json.Marshal([]any{c.Doubt, c.Class, c.SHA256})
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseCursor(text string) (catalog.ReviewCursor, error) {
	var c catalog.ReviewCursor
	b, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil {
		return c, errors.New("not a cursor this page gave")
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil || len(parts) != 3 ||
		json.Unmarshal(parts[0], &c.Doubt) != nil || json.Unmarshal(parts[1], &c.Class) != nil || json.Unmarshal(parts[2], &c.SHA256) != nil ||
		!sha256Hex.MatchString(c.SHA256) {
		return c, errors.New("not a cursor this page gave")
	}
	return c, nil
}
