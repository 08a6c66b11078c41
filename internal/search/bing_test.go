package search

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/sharedtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const realBingPage = "retrieval-go_bing_images_golang-gopher.html"

func readShared(t *testing.T, elems ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(sharedtest.Path(t, elems...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readTestdata(t *testing.T, elems ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, elems...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkGolden compares got, as indented JSON, with testdata/<name>; -update
// rewrites the file. Golden files were checked by hand against the HTML.
func checkGolden(t *testing.T, name string, got any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s differs from the parse (run go test -update and review the diff):\n%s", path, b)
	}
}

// TestParseBingGolden parses every markup shape on record.
func TestParseBingGolden(t *testing.T) {
	type golden struct {
		Anchors   int
		NextURL   string
		NoResults bool
		Results   []Result
	}
	tests := []struct {
		name   string
		body   func(t *testing.T) []byte
		golden string
		want   int // results
	}{
		{"real 2026 page", func(t *testing.T) []byte { return readShared(t, "fixtures", "bing", realBingPage) }, "bing/golang-gopher.golden.json", 47},
		{"searx 2017 mad", func(t *testing.T) []byte {
			return readShared(t, "fixtures", "bing", "searx-fixtures", "searx_9ee8e55_test_bing_images_html1.html")
		}, "bing/searx_9ee8e55.golden.json", 3},
		{"searx 2018 json", func(t *testing.T) []byte {
			return readShared(t, "fixtures", "bing", "searx-fixtures", "searx_73ec2ba_test_bing_images_html1.html")
		}, "bing/searx_73ec2ba.golden.json", 3},
		{"searx 2019 img_info", func(t *testing.T) []byte {
			return readShared(t, "fixtures", "bing", "searx-fixtures", "searx_289bbfe_test_bing_images_html1.html")
		}, "bing/searx_289bbfe.golden.json", 3},
		{"async fragment", func(t *testing.T) []byte { return readTestdata(t, "bing", "async_page.html") }, "bing/async_page.golden.json", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseBing(tt.body(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.results) != tt.want || p.anchors != tt.want {
				t.Errorf("got %d results from %d anchors, want %d", len(p.results), p.anchors, tt.want)
			}
			if p.noResults {
				t.Error("a page with results was taken for a no-results page")
			}
			checkGolden(t, tt.golden, golden{p.anchors, p.nextURL, p.noResults, p.results})
		})
	}
}

// TestParseBingRealPage checks the saved page against values read from the
// file by hand (first and last a.iusc, the img_info spans, data-nextUrl).
func TestParseBingRealPage(t *testing.T) {
	p, err := parseBing(readShared(t, "fixtures", "bing", realBingPage))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.results) != 47 {
		t.Fatalf("got %d results, want 47", len(p.results))
	}
	first := Result{
		MediaURL: "https://vectorseek.com/wp-content/uploads/2023/03/Golang-Gopher-Logo-Vector.jpg",
		ThumbURL: "https://ts4.mm.bing.net/th?id=OIP.LQQi0et0FFshviPhL18q9QHaHa&pid=15.1",
		PageURL:  "https://vectorseek.com/vector_logo/golang-gopher-logo-vector/",
		Title:    "Golang Gopher Logo PNG (Transparent) SVG AI – Free Download",
		Width:    1000, Height: 1000,
	}
	last := Result{
		MediaURL: "https://i.pinimg.com/originals/0e/2a/0c/0e2a0c6189bb11569a554664b37704fc.jpg",
		ThumbURL: "https://ts2.mm.bing.net/th?id=OIP.Hn0V_XQ15XiT2vBhVFOGtgHaHn&pid=15.1",
		PageURL:  "https://co.pinterest.com/pin/references--239253798947646364/",
		Title:    "Pin by Ariel Cupertino on Only Golang | Mascot, Gopher, Vault boy",
		Width:    1147, Height: 1180,
	}
	if p.results[0] != first {
		t.Errorf("first result\n got %+v\nwant %+v", p.results[0], first)
	}
	if p.results[46] != last {
		t.Errorf("last result\n got %+v\nwant %+v", p.results[46], last)
	}
	if !strings.HasPrefix(p.nextURL, "/images/async?q=golang+gopher&first=36&count=35&") {
		t.Errorf("continuation %q", p.nextURL)
	}
	seen := map[string]bool{}
	noPage := 0
	for _, r := range p.results {
		seen[r.MediaURL] = true
		if r.Width == 0 || r.ThumbURL == "" || r.Title == "" {
			t.Errorf("incomplete result %+v", r)
		}
		if r.PageURL == "" {
			noPage++
		}
	}
	// The 12 items of the two "related searches" clusters have empty purl.
	if noPage != 12 {
		t.Errorf("%d results without a page URL, want 12", noPage)
	}
	// The page repeats five images in its "related" clusters.
	if len(seen) != 42 {
		t.Errorf("%d distinct image URLs, want 42", len(seen))
	}
}

// bingServer fakes Bing: the real page for the search, then the async
// fragment for every continuation. It records the requests.
type bingServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func newBingServer(t *testing.T, page, async []byte) *bingServer {
	s := &bingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, r.Clone(context.Background()))
		s.mu.Unlock()
		switch r.URL.Path {
		case "/images/search":
			w.Write(page)
		case "/images/async":
			w.Write(async)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *bingServer) requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.reqs...)
}

func TestBingPagination(t *testing.T) {
	srv := newBingServer(t, readShared(t, "fixtures", "bing", realBingPage), readTestdata(t, "bing", "async_page.html"))
	eng := NewBing(Options{BaseURL: srv.URL, Client: srv.Client()})
	ctx := context.Background()
	pager, err := eng.Search(ctx, Query{Text: "golang gopher", SafeSearch: true})
	if err != nil {
		t.Fatal(err)
	}

	page0, err := pager.Page(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page0) != 42 {
		t.Errorf("page 0: %d results, want the 42 distinct images of the real page", len(page0))
	}
	page1, err := pager.Page(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := "https://fbi.cults3d.com/uploaders/20060779/illustration-file/33ee35e6-01dc-43cf-9891-ee175c22f446/GolangGopherThree02.png"
	if len(page1) != 1 || page1[0].MediaURL != want {
		t.Errorf("page 1 = %+v, want only the image not on page 0 (%s)", page1, want)
	}
	// Bing serving the same fragment again is the end, not an endless loop.
	if _, err := pager.Page(ctx, 2); !errors.Is(err, ErrNoMore) {
		t.Errorf("page 2 (a repeat): err = %v, want ErrNoMore", err)
	}
	if _, err := pager.Page(ctx, 3); !errors.Is(err, ErrNoMore) {
		t.Errorf("page 3: err = %v, want ErrNoMore", err)
	}

	reqs := srv.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (no request after the end)", len(reqs))
	}
	q0 := reqs[0].URL.Query()
	for k, v := range map[string]string{"q": "golang gopher", "form": "QBIDMH", "first": "1", "adlt": "strict"} {
		if q0.Get(k) != v {
			t.Errorf("search request %s=%q, want %q (%s)", k, q0.Get(k), v, reqs[0].URL)
		}
	}
	if !strings.HasPrefix(reqs[0].URL.RawQuery, "q=golang+gopher&form=QBIDMH&first=1&adlt=strict") {
		t.Errorf("search query string %q", reqs[0].URL.RawQuery)
	}
	for _, h := range []string{"User-Agent", "Accept-Language", "Sec-Ch-Ua", "Sec-Ch-Ua-Platform"} {
		if reqs[0].Header.Get(h) == "" {
			t.Errorf("search request lacks %s", h)
		}
	}
	if !strings.Contains(reqs[0].Header.Get("User-Agent"), "Chrome/") {
		t.Errorf("User-Agent %q is not a browser's", reqs[0].Header.Get("User-Agent"))
	}
	// Page 1 follows the page's own continuation, with its state token.
	q1 := reqs[1].URL.Query()
	if q1.Get("first") != "36" || q1.Get("count") != "35" || q1.Get("dgState") == "" || q1.Get("adlt") != "strict" {
		t.Errorf("continuation request %s", reqs[1].URL)
	}
	// The fragment has no continuation of its own: the next offset is built.
	q2 := reqs[2].URL.Query()
	if q2.Get("first") != "71" || q2.Get("count") != "35" || q2.Get("q") != "golang gopher" || q2.Get("adlt") != "strict" {
		t.Errorf("built async request %s", reqs[2].URL)
	}
}

func TestBingSafeSearchOff(t *testing.T) {
	srv := newBingServer(t, readShared(t, "fixtures", "bing", realBingPage), readTestdata(t, "bing", "async_page.html"))
	pager, err := NewBing(Options{BaseURL: srv.URL, Client: srv.Client()}).Search(context.Background(), Query{Text: "golang gopher"})
	if err != nil {
		t.Fatal(err)
	}
	for page := range 2 {
		if _, err := pager.Page(context.Background(), page); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range srv.requests() {
		if got := r.URL.Query()["adlt"]; len(got) != 1 || got[0] != "off" {
			t.Errorf("%s: adlt = %v, want [off]", r.URL, got)
		}
	}
}

func TestBingErrors(t *testing.T) {
	// The no-results page is written for this test: no saved Bing page for
	// a query without results was found. Its shape (li.b_no inside
	// #b_results) is the one the real page's stylesheet styles.
	const noResults = `<html><body><ol id="b_results"><li class="b_no"><h1>There are no results for <strong>zxqv</strong></h1></li></ol></body></html>`
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		wantMsg   string
		wantNoMor bool
		wantKind  errkind.Kind
		wantAfter time.Duration
		wantCause string
	}{
		{name: "429 seconds", status: 429, header: map[string]string{"Retry-After": "7"}, wantKind: errkind.KindRetryable, wantAfter: 7 * time.Second, wantCause: "http-429"},
		{name: "503 date", status: 503, header: map[string]string{"Retry-After": time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)}, wantKind: errkind.KindRetryable, wantAfter: 90 * time.Second, wantCause: "http-503"},
		{name: "404", status: 404, wantKind: errkind.KindPermanent, wantCause: "http-404"},
		{name: "403", status: 403, wantKind: errkind.KindPermanent, wantCause: "http-403"},
		{name: "markup changed", status: 200, body: `<html><body><div class="newgrid"><img src="x.jpg"></div></body></html>`,
			wantMsg: "bing: 0 results parsed from a 200 page: markup changed?", wantKind: errkind.KindPermanent, wantCause: "markup-changed"},
		{name: "anchors without murl", status: 200, body: `<a class="iusc" m="{&quot;purl&quot;:&quot;p&quot;}"></a>`,
			wantMsg: "bing: 0 results parsed from a 200 page: markup changed?", wantKind: errkind.KindPermanent, wantCause: "markup-changed"},
		{name: "genuine no results", status: 200, body: noResults, wantNoMor: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			pager, err := NewBing(Options{BaseURL: srv.URL, Client: srv.Client()}).Search(context.Background(), Query{Text: "zxqv", SafeSearch: true})
			if err != nil {
				t.Fatal(err)
			}
			_, err = pager.Page(context.Background(), 0)
			if tt.wantNoMor {
				if !errors.Is(err, ErrNoMore) {
					t.Fatalf("err = %v, want ErrNoMore", err)
				}
				return
			}
			if err == nil || errors.Is(err, ErrNoMore) {
				t.Fatalf("err = %v, want an error", err)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("message %q, want %q", err.Error(), tt.wantMsg)
			}
			if k := errkind.KindOf(err); k != tt.wantKind {
				t.Errorf("kind %v, want %v (%v)", k, tt.wantKind, err)
			}
			if got := errkind.RetryAfter(err); got < tt.wantAfter-2*time.Second || got > tt.wantAfter {
				t.Errorf("retry after %v, want about %v", got, tt.wantAfter)
			}
			if got := errkind.Cause(err); got != tt.wantCause {
				t.Errorf("cause %q, want %q", got, tt.wantCause)
			}
			// A failed page can be asked again: the pager did not move on.
			if _, err2 := pager.Page(context.Background(), 0); err2 == nil || errors.Is(err2, ErrNoMore) {
				t.Errorf("second try of page 0: %v, want the same failure", err2)
			}
		})
	}
}

func TestBingEmptyQuery(t *testing.T) {
	if _, err := NewBing(Options{}).Search(context.Background(), Query{Text: "  "}); err == nil {
		t.Error("an empty query was accepted")
	}
}

func BenchmarkParseBing(b *testing.B) {
	dir, ok := sharedtest.Find()
	if !ok {
		b.Skip("shared test data not found")
	}
	body, err := os.ReadFile(filepath.Join(dir, "fixtures", "bing", realBingPage))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := parseBing(body); err != nil {
			b.Fatal(err)
		}
	}
}
