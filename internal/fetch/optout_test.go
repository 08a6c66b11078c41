package fetch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scour-dev/scour/internal/errkind"
)

func TestOptOutDirectives(t *testing.T) {
	for v, want := range map[string]bool{
		"noai":                                   true,
		"noimageai":                              true,
		"noindex, NoAI":                          true,
		"noindex, nofollow":                      false,
		"scour: noimageai":                       true,
		"Scour: noindex, noai":                   true,
		"otherbot: noai":                         false,
		"otherbot: noindex, scour: noai":         true,
		"scour: noindex, otherbot: noai":         false,
		"unavailable_after: 2030-01-01, noai":    true,
		"max-image-preview: large":               false,
		"noimageindex":                           false,
		"":                                       false,
		"otherbot: noai, unavailable_after: now": false,
	} {
		if got := optOutDirectives(v); got != want {
			t.Errorf("optOutDirectives(%q) = %v, want %v", v, got, want)
		}
	}
	for page, want := range map[string]bool{
		`<html><head><meta name="robots" content="noai, noimageai"></head><body>x</body></html>`: true,
		`<html><head><META NAME="Robots" CONTENT="noimageai"/></head></html>`:                    true,
		`<html><head><meta name="scour" content="noindex noai"></head></html>`:                   true,
		`<html><head><meta name="otherbot" content="noai"></head></html>`:                        false,
		`<html><head><meta name="robots" content="noindex"></head><body>noai</body></html>`:      false,
		`<html><head><meta name="description" content="noai"></head></html>`:                     false,
		`<html><body>Access denied</body></html>`:                                                false,
	} {
		if got := optOutMeta([]byte(page)); got != want {
			t.Errorf("optOutMeta(%s) = %v, want %v", page, got, want)
		}
	}
}

// TestOptOuts serves the opt-outs where an image was expected. The header
// ones come with a body that never ends: a fetcher that read it before
// looking at the headers would stall instead of reporting the opt-out.
func TestOptOuts(t *testing.T) {
	jpg := realJPEG(t)
	mux := http.NewServeMux()
	endless := func(tag string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Robots-Tag", tag)
			w.Header().Set("Content-Type", "image/jpeg")
			w.Write(jpg[:100])
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	}
	mux.HandleFunc("/noai.jpg", endless("noai"))
	mux.HandleFunc("/noimageai.jpg", endless("noindex, noimageai"))
	mux.HandleFunc("/scour-noai.jpg", endless("scour: noai"))
	mux.HandleFunc("/other-noai.jpg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Robots-Tag", "otherbot: noai")
		w.Write(jpg)
	})
	mux.HandleFunc("/page-noai.jpg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!DOCTYPE html><html><head><title>Photo</title><meta name="robots" content="noai, noimageai"></head><body><img src="/x.jpg"></body></html>`))
	})
	mux.HandleFunc("/page.jpg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!DOCTYPE html><html><head><meta name="robots" content="noindex"></head><body>Hotlinking not allowed</body></html>`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	f := New(fastOpts())
	for path, want := range map[string]string{
		"/noai.jpg": "opted-out", "/noimageai.jpg": "opted-out", "/scour-noai.jpg": "opted-out",
		"/other-noai.jpg": "", "/page-noai.jpg": "opted-out", "/page.jpg": "html",
	} {
		_, err := f.Get(context.Background(), srv.URL+path)
		if got := errkind.Cause(err); err != nil && got != want || err == nil && want != "" {
			t.Errorf("%s: cause %q (%v), want %q", path, got, err, want)
		}
		if want == "opted-out" && (errkind.IsRetryable(err) || StatusOf(err) != 200) {
			t.Errorf("%s: an opt-out is permanent and keeps its status: %v (status %d)", path, err, StatusOf(err))
		}
	}
}

func TestUserAgentNamesScourAndContact(t *testing.T) {
	jpg := realJPEG(t)
	var mu sync.Mutex
	var uas []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		uas = append(uas, r.URL.Path+" "+r.Header.Get("User-Agent"))
		mu.Unlock()
		w.Write(jpg)
	}))
	defer srv.Close()
	o := fastOpts()
	o.Contact = "datasets@example.org"
	if _, err := New(o).Get(context.Background(), srv.URL+"/a.jpg"); err != nil {
		t.Fatal(err)
	}
	if len(uas) != 2 {
		t.Fatalf("requests %q, want robots.txt and the image", uas)
	}
	for _, ua := range uas {
		if !strings.Contains(ua, " scour/") || !strings.Contains(ua, "datasets@example.org") || !strings.Contains(ua, "bot") {
			t.Errorf("request %q: the User-Agent must name scour, its version, the contact and say it is a bot", ua)
		}
	}
	// An explicit User-Agent replaces the built one.
	o.UserAgent = "lab-crawler/1 (+https://lab.example.org)"
	uas = nil
	if _, err := New(o).Get(context.Background(), srv.URL+"/b.jpg"); err != nil {
		t.Fatal(err)
	}
	for _, ua := range uas {
		if !strings.HasSuffix(ua, " "+o.UserAgent) {
			t.Errorf("request %q: want User-Agent %q", ua, o.UserAgent)
		}
	}
}
