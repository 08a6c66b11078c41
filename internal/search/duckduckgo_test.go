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

	"github.com/scour-dev/scour/internal/errkind"
)

// No real i.js reply was ever saved (see ../shared/fixtures/bing/SCRAPERS.md),
// so the fake below builds its replies from the shape documented there from
// deedy5/duckduckgo_search: results[] with title, image, thumbnail, url,
// height, width, source, image_token, thumbnail_token, and a relative next
// link. The token page is likewise written here with the vqd="…" spelling
// that library looks for; the token value is made up.
const ddgToken = "4-211915914869418497563420516474829413271"

type ddgItem struct {
	Title          string `json:"title"`
	Image          string `json:"image"`
	Thumbnail      string `json:"thumbnail"`
	URL            string `json:"url"`
	Height         int    `json:"height"`
	Width          int    `json:"width"`
	Source         string `json:"source"`
	ImageToken     string `json:"image_token"`
	ThumbnailToken string `json:"thumbnail_token"`
}

func ddgItemN(n string) ddgItem {
	return ddgItem{
		Title:     "Destroyer " + n,
		Image:     "https://upload.example.org/destroyer-" + n + ".jpg",
		Thumbnail: "https://tse1.mm.bing.net/th?id=OIP." + n + "&pid=Api",
		URL:       "https://ships.example.org/destroyer-" + n,
		Height:    768, Width: 1024, Source: "Bing",
		ImageToken: "tok" + n, ThumbnailToken: "ttok" + n,
	}
}

// ddgServer answers the token page and i.js by offset.
type ddgServer struct {
	*httptest.Server
	mu        sync.Mutex
	tokenHits int
	ijs       []*http.Request
	pages     map[string]any // s= offset -> reply
	status    int            // for i.js, when not 200
}

func newDDGServer(t *testing.T, tokenPage string, pages map[string]any) *ddgServer {
	s := &ddgServer{pages: pages}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch r.URL.Path {
		case "/":
			s.tokenHits++
			w.Write([]byte(tokenPage))
		case "/i.js":
			s.ijs = append(s.ijs, r.Clone(context.Background()))
			if s.status != 0 {
				w.WriteHeader(s.status)
				return
			}
			reply, ok := s.pages[r.URL.Query().Get("s")]
			if !ok {
				http.NotFound(w, r)
				return
			}
			json.NewEncoder(w).Encode(reply)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func tokenPage(spelling string) string {
	return `<!DOCTYPE html><html><head><title>destroyer at DuckDuckGo</title></head><body><script>` +
		spelling + `</script></body></html>`
}

func TestDuckDuckGoPagination(t *testing.T) {
	srv := newDDGServer(t, tokenPage(`DDG.deep.initialize('/d.js?q=destroyer&l=wt-wt&s=0&vqd="`+ddgToken+`"');`), map[string]any{
		"0": map[string]any{
			"query":   "destroyer",
			"results": []ddgItem{ddgItemN("1"), ddgItemN("2")},
			"next":    "i.js?q=destroyer&o=json&p=1&s=100&u=bing&f=,,,&l=wt-wt",
			"vqd":     map[string]string{"destroyer": ddgToken},
		},
		"100": map[string]any{
			"query":   "destroyer",
			"results": []ddgItem{ddgItemN("2"), ddgItemN("3")},
		},
	})
	eng := NewDuckDuckGo(Options{BaseURL: srv.URL, Client: srv.Client()})
	ctx := context.Background()
	pager, err := eng.Search(ctx, Query{Text: "destroyer", SafeSearch: true})
	if err != nil {
		t.Fatal(err)
	}
	page0, err := pager.Page(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	want0 := Result{
		MediaURL: "https://upload.example.org/destroyer-1.jpg", ThumbURL: "https://tse1.mm.bing.net/th?id=OIP.1&pid=Api",
		PageURL: "https://ships.example.org/destroyer-1", Title: "Destroyer 1", Width: 1024, Height: 768,
	}
	if len(page0) != 2 || page0[0] != want0 {
		t.Fatalf("page 0 = %+v", page0)
	}
	page1, err := pager.Page(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(page1) != 1 || page1[0].MediaURL != "https://upload.example.org/destroyer-3.jpg" {
		t.Errorf("page 1 = %+v, want only destroyer-3 (destroyer-2 was on page 0)", page1)
	}
	if _, err := pager.Page(ctx, 2); !errors.Is(err, ErrNoMore) {
		t.Errorf("page 2: err = %v, want ErrNoMore (no next link)", err)
	}
	if srv.tokenHits != 1 || len(srv.ijs) != 2 {
		t.Errorf("%d token and %d i.js requests, want 1 and 2", srv.tokenHits, len(srv.ijs))
	}
	for i, r := range srv.ijs {
		q := r.URL.Query()
		for k, v := range map[string]string{"l": "wt-wt", "o": "json", "q": "destroyer", "vqd": ddgToken, "f": ",,,,,", "p": "1"} {
			if q.Get(k) != v {
				t.Errorf("i.js request %d: %s=%q, want %q", i, k, q.Get(k), v)
			}
		}
		if r.Header.Get("Referer") != srv.URL+"/" {
			t.Errorf("i.js request %d: Referer %q", i, r.Header.Get("Referer"))
		}
	}
	if got := srv.ijs[1].URL.Query().Get("s"); got != "100" {
		t.Errorf("second i.js request s=%q, want the next link's 100", got)
	}
}

func TestDuckDuckGoSafeSearchOff(t *testing.T) {
	srv := newDDGServer(t, tokenPage(`vqd="`+ddgToken+`"`), map[string]any{
		"0": map[string]any{"results": []ddgItem{ddgItemN("1")}},
	})
	pager, _ := NewDuckDuckGo(Options{BaseURL: srv.URL, Client: srv.Client()}).Search(context.Background(), Query{Text: "destroyer"})
	if _, err := pager.Page(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if got := srv.ijs[0].URL.Query().Get("p"); got != "-1" {
		t.Errorf("p=%q with safe search off, want -1", got)
	}
}

func TestExtractVQD(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"double quotes", `<script>vqd="4-123456789"</script>`, "4-123456789"},
		{"query parameter", `<a href="/d.js?q=x&vqd=4-987654321&s=0">`, "4-987654321"},
		{"single quotes", `<script>var vqd='4-555'</script>`, "4-555"},
		{"none", `<html><body>blocked</body></html>`, ""},
		{"empty", `vqd=""`, ""},
	}
	for _, tt := range tests {
		if got := extractVQD([]byte(tt.body)); got != tt.want {
			t.Errorf("%s: extractVQD = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestDuckDuckGoErrors(t *testing.T) {
	t.Run("no token", func(t *testing.T) {
		srv := newDDGServer(t, tokenPage(`nothing here`), nil)
		pager, _ := NewDuckDuckGo(Options{BaseURL: srv.URL, Client: srv.Client()}).Search(context.Background(), Query{Text: "destroyer"})
		_, err := pager.Page(context.Background(), 0)
		if err == nil || !strings.Contains(err.Error(), "vqd") || errkind.Cause(err) != "no-vqd" || errkind.KindOf(err) != errkind.KindPermanent {
			t.Errorf("err = %v (cause %q), want a permanent no-vqd error", err, errkind.Cause(err))
		}
	})
	t.Run("403 refreshes the token", func(t *testing.T) {
		srv := newDDGServer(t, tokenPage(`vqd="`+ddgToken+`"`), map[string]any{
			"0": map[string]any{"results": []ddgItem{ddgItemN("1")}},
		})
		srv.status = http.StatusForbidden
		pager, _ := NewDuckDuckGo(Options{BaseURL: srv.URL, Client: srv.Client()}).Search(context.Background(), Query{Text: "destroyer"})
		_, err := pager.Page(context.Background(), 0)
		if !errkind.IsRetryable(err) {
			t.Fatalf("err = %v, want retryable", err)
		}
		srv.mu.Lock()
		srv.status = 0
		srv.mu.Unlock()
		if res, err := pager.Page(context.Background(), 0); err != nil || len(res) != 1 {
			t.Fatalf("retry: %v, %v", res, err)
		}
		if srv.tokenHits != 2 {
			t.Errorf("%d token requests, want 2 (a fresh token after the 403)", srv.tokenHits)
		}
	})
	t.Run("changed API", func(t *testing.T) {
		srv := newDDGServer(t, tokenPage(`vqd="`+ddgToken+`"`), map[string]any{
			"0": map[string]any{"images": []ddgItem{ddgItemN("1")}},
		})
		pager, _ := NewDuckDuckGo(Options{BaseURL: srv.URL, Client: srv.Client()}).Search(context.Background(), Query{Text: "destroyer"})
		_, err := pager.Page(context.Background(), 0)
		if err == nil || errors.Is(err, ErrNoMore) || errkind.Cause(err) != "markup-changed" {
			t.Errorf("err = %v, want a markup-changed error", err)
		}
	})
	t.Run("empty results", func(t *testing.T) {
		srv := newDDGServer(t, tokenPage(`vqd="`+ddgToken+`"`), map[string]any{
			"0": map[string]any{"results": []ddgItem{}},
		})
		pager, _ := NewDuckDuckGo(Options{BaseURL: srv.URL, Client: srv.Client()}).Search(context.Background(), Query{Text: "destroyer"})
		if _, err := pager.Page(context.Background(), 0); !errors.Is(err, ErrNoMore) {
			t.Errorf("err = %v, want ErrNoMore", err)
		}
	})
}
