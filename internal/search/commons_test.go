package search

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scour-dev/scour/internal/errkind"
)

// commonsStep is one request the fake API expects and the recorded reply it
// serves.
type commonsStep struct {
	cont  map[string]string // continuation parameters the request must carry
	reply []byte
}

// newCommonsServer serves real MediaWiki replies in sequence, each only to
// a request that carries exactly the continuation the previous reply gave.
// No saved reply to scour's own query exists, so the chain is made of real
// replies to neighbouring queries (see testdata/wikimedia/PROVENANCE.md).
func newCommonsServer(t *testing.T, steps []commonsStep) (*httptest.Server, func() []*http.Request) {
	var mu sync.Mutex
	var reqs []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n := len(reqs)
		reqs = append(reqs, r.Clone(context.Background()))
		mu.Unlock()
		if r.URL.Path != "/w/api.php" || n >= len(steps) {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		for _, k := range []string{"gsroffset", "vistart", "continue"} {
			if q.Get(k) != steps[n].cont[k] {
				t.Errorf("request %d: %s=%q, want %q", n, k, q.Get(k), steps[n].cont[k])
			}
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(steps[n].reply)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []*http.Request {
		mu.Lock()
		defer mu.Unlock()
		return reqs
	}
}

func TestCommonsPagination(t *testing.T) {
	srv, requests := newCommonsServer(t, []commonsStep{
		// A real generator=search reply: article pages without imageinfo,
		// and the continue block {"gsroffset": 20, "continue": "gsroffset||"}.
		{nil, readShared(t, "fixtures", "api", "wikimedia", "wikipedia-android_full_text_search_results.json")},
		// A video, with the continue block {"vistart": …, "continue": "||"}.
		{map[string]string{"gsroffset": "20", "continue": "gsroffset||"}, readTestdata(t, "wikimedia", "gallery_item_video.json")},
		// A JPEG with licence metadata, and no continue block: the end.
		{map[string]string{"vistart": "2016-02-26T20:49:32Z", "continue": "||"}, readTestdata(t, "wikimedia", "gallery_item_image.json")},
	})
	eng := NewCommons(Options{BaseURL: srv.URL, Client: srv.Client(), Contact: "ada@example.org"})
	ctx := context.Background()
	pager, err := eng.Search(ctx, Query{Text: "kinkaku", SafeSearch: true})
	if err != nil {
		t.Fatal(err)
	}
	var pages [][]Result
	for page := 0; ; page++ {
		res, err := pager.Page(ctx, page)
		if errors.Is(err, ErrNoMore) {
			break
		}
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		pages = append(pages, res)
		if page > 5 {
			t.Fatal("no end in sight")
		}
	}
	if len(pages) != 3 || len(pages[0]) != 0 || len(pages[1]) != 0 {
		t.Fatalf("pages = %+v; want no files on the article page, the video left out, then one image", pages)
	}
	want := Result{
		MediaURL: "https://upload.wikimedia.org/wikipedia/commons/c/c9/Kinkaku3402CBcropped.jpg",
		ThumbURL: "https://upload.wikimedia.org/wikipedia/commons/thumb/c/c9/Kinkaku3402CBcropped.jpg/1280px-Kinkaku3402CBcropped.jpg",
		PageURL:  "https://commons.wikimedia.org/wiki/File:Kinkaku3402CBcropped.jpg",
		Title:    "Kinkaku3402CBcropped.jpg",
		Width:    2125, Height: 1489,
		License: "Public domain",
		Author:  "Fg2",
	}
	if len(pages[2]) != 1 || pages[2][0] != want {
		t.Errorf("last page = %+v\nwant [%+v]", pages[2], want)
	}

	reqs := requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	q := reqs[0].URL.Query()
	for k, v := range map[string]string{
		"action": "query", "format": "json", "formatversion": "2", "generator": "search",
		"gsrnamespace": "6", "prop": "imageinfo", "iiprop": "url|size|mime|extmetadata",
	} {
		if q.Get(k) != v {
			t.Errorf("%s=%q, want %q", k, q.Get(k), v)
		}
	}
	if !strings.Contains(q.Get("gsrsearch"), "kinkaku") {
		t.Errorf("gsrsearch=%q does not hold the query", q.Get("gsrsearch"))
	}
	// Wikimedia's User-Agent policy: the tool, its version, a contact.
	for _, r := range reqs {
		if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "scour/") || !strings.Contains(ua, "ada@example.org") {
			t.Errorf("User-Agent %q does not name scour/<version> and the contact", ua)
		}
	}
	// A continuation replaces the previous one instead of piling up.
	if q2 := reqs[2].URL.Query(); q2.Has("gsroffset") {
		t.Errorf("third request still carries gsroffset: %s", reqs[2].URL.RawQuery)
	}
}

// TestCommonsCredit reads licence and author from a real extmetadata reply
// (a file whose description page is elsewhere, so it has no url: no Result).
func TestCommonsCredit(t *testing.T) {
	var resp commonsResponse
	if err := json.Unmarshal(readShared(t, "fixtures", "api", "wikimedia", "wikipedia-android_image_license.json"), &resp); err != nil {
		t.Fatal(err)
	}
	pages, err := decodePages(resp.Query.Pages)
	if err != nil || len(pages) != 1 || len(pages[0].ImageInfo) != 1 {
		t.Fatalf("pages = %+v, %v", pages, err)
	}
	license, author := commonsCredit(pages[0].ImageInfo[0].ExtMetadata)
	if license != "CC BY-SA 4.0" || author != "DerHexer" {
		t.Errorf("credit = %q, %q; want CC BY-SA 4.0, DerHexer", license, author)
	}
	if r, ok := commonsResult(pages[0]); ok {
		t.Errorf("a file without a URL became a result: %+v", r)
	}
}

func TestCommonsSearchOrder(t *testing.T) {
	// The real search reply lists pages by id; "index" is the rank.
	var resp commonsResponse
	if err := json.Unmarshal(readShared(t, "fixtures", "api", "wikimedia", "wikipedia-android_full_text_search_results.json"), &resp); err != nil {
		t.Fatal(err)
	}
	pages, err := decodePages(resp.Query.Pages)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) < 2 || pages[0].Title != "IND Queens Boulevard Line" || pages[0].Index != 1 {
		t.Errorf("first by rank = %+v, want IND Queens Boulevard Line (index 1)", pages[0])
	}
	for i := 1; i < len(pages); i++ {
		if pages[i].Index < pages[i-1].Index {
			t.Fatalf("not in rank order at %d: %d after %d", i, pages[i].Index, pages[i-1].Index)
		}
	}
	// The older format keys pages by id; it must give the same order.
	byID := map[string]commonsPage{}
	for i, p := range pages {
		byID[string(rune('a'+i))] = p
	}
	raw, _ := json.Marshal(byID)
	again, err := decodePages(raw)
	if err != nil || len(again) != len(pages) || again[0].Title != pages[0].Title {
		t.Errorf("object form: %v, first %+v", err, again)
	}
}

func TestCommonsReplies(t *testing.T) {
	tests := []struct {
		name      string
		reply     []byte
		header    map[string]string
		wantNoMor bool
		wantKind  errkind.Kind
		wantCause string
		wantAfter time.Duration
	}{
		{name: "no match (real)", reply: readTestdata(t, "wikimedia", "full_text_search_results_empty.json"), wantNoMor: true},
		{name: "API error (real)", reply: readTestdata(t, "wikimedia", "api_error.json"), wantKind: errkind.KindPermanent, wantCause: "api-unknown_action"},
		// maxlag replies are documented (API:Etiquette) but none was saved;
		// this one follows the documented shape.
		{name: "maxlag", reply: []byte(`{"error":{"code":"maxlag","info":"Waiting for 10.64.16.27: 7 seconds lagged","host":"10.64.16.27","lag":7}}`),
			header: map[string]string{"Retry-After": "7"}, wantKind: errkind.KindRetryable, wantCause: "api-maxlag", wantAfter: 7 * time.Second},
		{name: "maxlag without Retry-After", reply: []byte(`{"error":{"code":"maxlag","info":"lagged"}}`),
			wantKind: errkind.KindRetryable, wantCause: "api-maxlag", wantAfter: commonsLagWait},
		{name: "not JSON", reply: []byte(`<html>Wikimedia Error</html>`), wantKind: errkind.KindPermanent, wantCause: "markup-changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.Write(tt.reply)
			}))
			defer srv.Close()
			pager, _ := NewCommons(Options{BaseURL: srv.URL, Client: srv.Client()}).Search(context.Background(), Query{Text: "zxqv"})
			_, err := pager.Page(context.Background(), 0)
			if tt.wantNoMor {
				if !errors.Is(err, ErrNoMore) {
					t.Fatalf("err = %v, want ErrNoMore", err)
				}
				return
			}
			if err == nil || errors.Is(err, ErrNoMore) {
				t.Fatalf("err = %v, want an error", err)
			}
			if errkind.KindOf(err) != tt.wantKind || errkind.Cause(err) != tt.wantCause || errkind.RetryAfter(err) != tt.wantAfter {
				t.Errorf("err = %v: kind %v cause %q after %v; want %v %q %v", err,
					errkind.KindOf(err), errkind.Cause(err), errkind.RetryAfter(err), tt.wantKind, tt.wantCause, tt.wantAfter)
			}
		})
	}
}

func TestRasterMIME(t *testing.T) {
	tests := map[string]bool{
		"image/jpeg": true, "image/png": true, "IMAGE/WEBP": true, "image/gif": true,
		"image/svg+xml": false, "image/vnd.djvu": false, "image/tiff": false, "application/pdf": false,
		"video/webm": false, "audio/ogg": false, "": false,
	}
	for mime, want := range tests {
		if got := rasterMIME(mime); got != want {
			t.Errorf("rasterMIME(%q) = %v, want %v", mime, got, want)
		}
	}
}

func TestHTMLText(t *testing.T) {
	tests := map[string]string{
		`<a href="//commons.wikimedia.org/wiki/User:DerHexer" title="User:DerHexer">DerHexer</a>`: "DerHexer",
		`<span class="fn value"><b>Jarek</b> Tuszyński</span>`:                                    "Jarek Tuszyński",
		`<ul><li>Alice</li><li>Bob</li></ul>`:                                                     "Alice Bob",
		`Tom &amp; Jerry`:                                                                         "Tom & Jerry",
		"  plain\n text ":                                                                         "plain text",
	}
	for in, want := range tests {
		if got := htmlText(in); got != want {
			t.Errorf("htmlText(%q) = %q, want %q", in, got, want)
		}
	}
}
