package fetch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/scour-dev/scour/internal/errkind"
)

func TestRobotsRules(t *testing.T) {
	const txt = `# a comment line
User-agent: otherbot
Disallow: /

User-agent: *
Disallow: /private/          # trailing comment
Allow: /private/ok/
Disallow: /*.gif$
Disallow: /search?
Disallow: /%7Ejoe/
Disallow: /caf%C3%A9/
Disallow:
Sitemap: https://example.test/sitemap.xml
Allow: /p
Disallow: /page
Disallow: /tie
Allow: /tie
`
	rules := parseRobots([]byte(txt), "scour")
	for _, c := range []struct {
		path string
		want bool
	}{
		{"/", true},
		{"/public/a.jpg", true},
		{"/private/a.jpg", false},
		{"/private/ok/a.jpg", true}, // the longer Allow wins
		{"/private", true},          // a prefix of the rule is not covered
		{"/img/x.gif", false},
		{"/img/x.gif?v=2", true}, // $ anchors the end
		{"/img/x.gifs", true},
		{"/search?q=ships", false},
		{"/search", true},
		{"/~joe/a.jpg", false}, // %7E and ~ are one character
		{"/%7ejoe/a.jpg", false},
		{"/café/a.jpg", false}, // raw UTF-8 against an escaped rule
		{"/caf%c3%a9/a.jpg", false},
		{"/page/1.jpg", false}, // /page is longer than /p
		{"/photo.jpg", true},
		{"/tie/a.jpg", true}, // equal length: Allow wins
		{"/robots.txt", true},
	} {
		if got := rules.allows(c.path); got != c.want {
			t.Errorf("allows(%q) = %v, want %v", c.path, got, c.want)
		}
	}

	// A group naming scour replaces the * groups; two groups naming it are
	// combined; the token is matched without case or version.
	mine := parseRobots([]byte("User-agent: *\nDisallow: /\n\nUser-agent: Scour/2.0\nUser-agent: otherbot\nDisallow: /a/\n\nUser-agent: SCOUR\nDisallow: /b/\n"), "scour")
	for path, want := range map[string]bool{"/c/x.jpg": true, "/a/x.jpg": false, "/b/x.jpg": false} {
		if got := mine.allows(path); got != want {
			t.Errorf("scour group: allows(%q) = %v, want %v", path, got, want)
		}
	}
	// Rules before any user-agent line, and files of garbage, restrict nothing.
	for _, body := range []string{"Disallow: /\n", "<html><body>Not found</body></html>", ""} {
		if !parseRobots([]byte(body), "scour").allows("/x.jpg") {
			t.Errorf("%q disallows /x.jpg", body)
		}
	}
	// Wildcards in the middle, and a lone $.
	wild := parseRobots([]byte("User-agent: *\nDisallow: /*/thumbs/*.jpg$\nDisallow: /$\n"), "scour")
	for path, want := range map[string]bool{"/a/thumbs/b.jpg": false, "/a/b/thumbs/c/d.jpg": false, "/a/thumbs/b.jpg.png": true, "/thumbs/b.jpg": true, "/": false, "/x": true} {
		if got := wild.allows(path); got != want {
			t.Errorf("wildcards: allows(%q) = %v, want %v", path, got, want)
		}
	}
}

// robotsSite is a loopback image host with a robots.txt; it counts requests.
type robotsSite struct {
	srv    *httptest.Server
	robots atomic.Int64
	images atomic.Int64
	mu     sync.Mutex
	uas    []string
}

func newRobotsSite(t *testing.T, jpg []byte, robotsStatus int, robotsBody string) *robotsSite {
	s := &robotsSite{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.uas = append(s.uas, r.Header.Get("User-Agent"))
		s.mu.Unlock()
		if r.URL.Path == "/robots.txt" {
			s.robots.Add(1)
			w.WriteHeader(robotsStatus)
			w.Write([]byte(robotsBody))
			return
		}
		s.images.Add(1)
		if strings.HasPrefix(r.URL.Path, "/to/") {
			http.Redirect(w, r, strings.TrimPrefix(r.URL.Path, "/to"), http.StatusFound)
			return
		}
		w.Write(jpg)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func TestRobotsHonoured(t *testing.T) {
	jpg := realJPEG(t)
	site := newRobotsSite(t, jpg, 200, "User-agent: *\nDisallow: /private/\nAllow: /private/ok/\nDisallow: /*.gif$\n")
	f := New(fastOpts())
	ctx := context.Background()
	for _, c := range []struct {
		path  string
		cause string // "" = fetched
	}{
		{"/public/a.jpg", ""},
		{"/private/a.jpg", "opted-out"},
		{"/private/ok/a.jpg", ""},
		{"/x.gif", "opted-out"},
		{"/x.gif?v=1", ""},
		{"/to/private/b.jpg", "opted-out"}, // a redirect into a disallowed path
	} {
		_, err := f.Get(ctx, site.srv.URL+c.path)
		if got := errkind.Cause(err); err != nil && got != c.cause || err == nil && c.cause != "" {
			t.Errorf("%s: cause %q (%v), want %q", c.path, got, err, c.cause)
		}
		if err != nil && errkind.IsRetryable(err) {
			t.Errorf("%s: an opt-out must be permanent: %v", c.path, err)
		}
	}
	// Three fetched, plus the redirect's first hop; the disallowed paths
	// are never asked for.
	if n := site.images.Load(); n != 4 {
		t.Errorf("%d image requests, want 4", n)
	}
	if n := site.robots.Load(); n != 1 {
		t.Errorf("robots.txt fetched %d times, want once", n)
	}

	// fetch.robots: false asks for nothing and fetches everything.
	o := fastOpts()
	o.IgnoreRobots = true
	before := site.robots.Load()
	if _, err := New(o).Get(ctx, site.srv.URL+"/private/a.jpg"); err != nil {
		t.Errorf("robots off: %v", err)
	}
	if site.robots.Load() != before {
		t.Error("robots.txt fetched with robots off")
	}
}

func TestRobotsGroupForScour(t *testing.T) {
	site := newRobotsSite(t, realJPEG(t), 200, "User-agent: *\nAllow: /\n\nUser-agent: scour\nDisallow: /\n")
	_, err := New(fastOpts()).Get(context.Background(), site.srv.URL+"/a.jpg")
	if errkind.Cause(err) != "opted-out" {
		t.Fatalf("a robots.txt that shuts out scour by name: got %v, want opted-out", err)
	}
}

// TestRobotsStatuses follows RFC 9309 2.3.1: a missing or forbidden
// robots.txt (4xx) allows everything; a server error (5xx, 429) means the
// rules are unknown, so nothing is fetched, retryably, and the answer is
// cached rather than asked for again for each URL.
func TestRobotsStatuses(t *testing.T) {
	jpg := realJPEG(t)
	for _, c := range []struct {
		status int
		cause  string
	}{
		{404, ""}, {410, ""}, {401, ""}, {403, ""},
		{500, "robots-unreachable"}, {503, "robots-unreachable"}, {429, "robots-unreachable"},
	} {
		site := newRobotsSite(t, jpg, c.status, "User-agent: *\nDisallow: /\n")
		f := New(fastOpts())
		for i := 0; i < 3; i++ {
			_, err := f.Get(context.Background(), site.srv.URL+"/a.jpg?i="+string(rune('0'+i)))
			if got := errkind.Cause(err); err != nil && got != c.cause || err == nil && c.cause != "" {
				t.Fatalf("robots.txt HTTP %d: cause %q (%v), want %q", c.status, got, err, c.cause)
			}
			if err != nil && !errkind.IsRetryable(err) {
				t.Fatalf("robots.txt HTTP %d: want a retryable failure, got %v", c.status, err)
			}
		}
		if n := site.robots.Load(); n != 1 {
			t.Errorf("robots.txt HTTP %d: asked %d times, want once", c.status, n)
		}
		wantImages := int64(3)
		if c.cause != "" {
			wantImages = 0
		}
		if n := site.images.Load(); n != wantImages {
			t.Errorf("robots.txt HTTP %d: %d image requests, want %d", c.status, n, wantImages)
		}
	}
}

// TestRobotsFetchedOnce sends many URLs of one host at once, in a synctest
// bubble, while robots.txt takes a while to come: all of them wait for the
// one fetch.
func TestRobotsFetchedOnce(t *testing.T) {
	jpg := realJPEG(t)
	synctest.Test(t, func(t *testing.T) {
		var robots, images atomic.Int64
		o := fastOpts()
		o.PerHost = 4
		o.Transport = pipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/robots.txt" {
				robots.Add(1)
				time.Sleep(200 * time.Millisecond)
				w.Write([]byte("User-agent: *\nDisallow: /no/\n"))
				return
			}
			images.Add(1)
			w.Write(jpg)
		}))
		f := New(o)
		var wg sync.WaitGroup
		var bad atomic.Int64
		for i := 0; i < 40; i++ {
			wg.Go(func() {
				dir := "yes"
				if i%2 == 1 {
					dir = "no"
				}
				_, err := f.Get(context.Background(), "http://images.test/"+dir+"/"+string(rune('a'+i%26))+".jpg")
				if (err == nil) != (dir == "yes") || err != nil && errkind.Cause(err) != "opted-out" {
					bad.Add(1)
					t.Errorf("%s/%d: %v", dir, i, err)
				}
			})
		}
		wg.Wait()
		if n := robots.Load(); n != 1 {
			t.Errorf("robots.txt fetched %d times for 40 URLs, want once", n)
		}
		if n := images.Load(); n != 20 {
			t.Errorf("%d image requests, want 20", n)
		}
	})
}

func TestRobotsCacheBounded(t *testing.T) {
	c := newRobotsCache(3, 1<<20)
	ctx := context.Background()
	fetches := 0
	get := func(origin string) {
		if _, err := c.get(ctx, origin, func(context.Context) (robotsAnswer, error) { fetches++; return robotsAnswer{}, nil }); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []string{"a", "b", "c", "a", "d", "a", "b"} {
		get(o)
	}
	// a b c fetched; a hit; d evicts b (least recent); a hit; b refetched.
	if fetches != 5 {
		t.Errorf("%d fetches, want 5", fetches)
	}
	if c.lru.Len() != 3 || len(c.m) != 3 {
		t.Errorf("cache holds %d/%d entries, cap 3", c.lru.Len(), len(c.m))
	}

	// The rules' size bounds it too: big robots.txt files push out others.
	c = newRobotsCache(100, 10_000)
	big := robotsRules{{pattern: strings.Repeat("/x", 2000)}} // about 4 KB
	for _, o := range []string{"a", "b", "c", "d"} {
		if _, err := c.get(ctx, o, func(context.Context) (robotsAnswer, error) { return robotsAnswer{rules: big}, nil }); err != nil {
			t.Fatal(err)
		}
		if c.bytes > 10_000 {
			t.Fatalf("after %s: %d bytes held, bound 10000", o, c.bytes)
		}
	}
	if _, ok := c.m["d"]; !ok || len(c.m) != 2 || c.bytes != 2*big.size() {
		t.Errorf("cache holds %d entries, %d bytes; want the 2 newest", len(c.m), c.bytes)
	}
}

func TestRobotsOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"http://Images.Test/a.jpg":      "http://images.test:80",
		"http://images.test:80/b":       "http://images.test:80",
		"https://images.test/a":         "https://images.test:443",
		"https://images.test:8443/a?b":  "https://images.test:8443",
		"http://[::1]:8080/x.jpg":       "http://[::1]:8080",
		"http://images.test/%7Ejoe?x=1": "http://images.test:80",
	} {
		u, _ := url.Parse(in)
		if got := robotsOrigin(u); got != want {
			t.Errorf("robotsOrigin(%s) = %s, want %s", in, got, want)
		}
	}
}
