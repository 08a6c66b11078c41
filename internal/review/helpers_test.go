package review

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/clean"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/sharedtest"
	"github.com/scour-dev/scour/internal/store"
)

// project is a scratch scour project whose images gather stored and clean
// quarantined, set up the way those stages leave them.
type project struct {
	t     *testing.T
	dir   string
	cat   *catalog.Catalog
	store *store.Local
}

func newProject(t *testing.T) *project {
	t.Helper()
	// Named like a project, since the page shows the directory's name.
	dir := filepath.Join(t.TempDir(), "warships")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(context.Background(), filepath.Join(dir, "scour.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	st, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &project{t: t, dir: dir, cat: cat, store: st}
}

// photo returns the n-th real photo (in name order) of a boats class.
func photo(t *testing.T, class string, n int) []byte {
	t.Helper()
	dir := sharedtest.Path(t, "images", "boats", "train", class)
	names, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil || len(names) <= n {
		t.Skipf("shared boats photos: want %d in %s, found %d (%v)", n+1, dir, len(names), err)
	}
	slices.Sort(names)
	data, err := os.ReadFile(names[n])
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// add stores data where gather puts it and records it in the catalog.
func (p *project) add(class string, data []byte) string {
	p.t.Helper()
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	key := "images/" + class + "/" + sha + ".jpg"
	if err := p.store.Put(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		p.t.Fatal(err)
	}
	meta, err := imaging.Inspect(data, imaging.Limits{})
	if err != nil {
		p.t.Fatal(err)
	}
	im := &catalog.Image{SHA256: sha, Class: class, Key: key, Format: meta.Format, Width: meta.Width,
		Height: meta.Height, Bytes: int64(len(data)), PHash: meta.PHash}
	if _, err := p.cat.Record(context.Background(), []catalog.Outcome{{URLID: sha[:32], Image: im}}); err != nil {
		p.t.Fatal(err)
	}
	return sha
}

// quarantine moves an image as clean does: to quarantine/<reason>/<class>/.
func (p *project) quarantine(sha, reason string, score float64) {
	p.t.Helper()
	im := p.image(sha)
	to := clean.QuarantinePrefix + reason + "/" + im.Class + "/" + sha + ".jpg"
	if err := p.store.Move(context.Background(), im.Key, to); err != nil {
		p.t.Fatal(err)
	}
	if err := p.cat.SetStatus(context.Background(), sha, catalog.StatusQuarantined, to, reason, "test", score); err != nil {
		p.t.Fatal(err)
	}
}

func (p *project) image(sha string) catalog.Image {
	p.t.Helper()
	im, err := p.cat.GetImage(context.Background(), sha)
	if err != nil {
		p.t.Fatal(err)
	}
	return im
}

// onDisk reports whether the project directory holds key as a file.
func (p *project) onDisk(key string) bool {
	fi, err := os.Stat(filepath.Join(p.dir, filepath.FromSlash(key)))
	return err == nil && fi.Mode().IsRegular()
}

// cleanDecision is what clean will obey for sha: keep, reject or "".
func (p *project) cleanDecision(sha string) string {
	p.t.Helper()
	ds, err := p.cat.CleanDecisions(context.Background())
	if err != nil {
		p.t.Fatal(err)
	}
	return ds[sha]
}

func (p *project) start(classes []Class) (*Server, *progress.Recorder) {
	p.t.Helper()
	rec := &progress.Recorder{}
	s, err := Start(context.Background(), Options{Catalog: p.cat, Store: p.store, ProjectDir: p.dir, Classes: classes, Events: rec})
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { s.Close() })
	return s, rec
}

// client is a browser stand-in that has opened the server's URL, so it
// holds the session cookie.
type client struct {
	t      *testing.T
	s      *Server
	http   *http.Client
	origin string
}

func newClient(t *testing.T, s *Server) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, s: s, http: &http.Client{Jar: jar}, origin: s.origin}
	resp, err := c.http.Get(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(s.secret)) {
		t.Fatalf("opening %s: %s, the page does not carry the token", s.URL(), resp.Status)
	}
	return c
}

// post sends a JSON body as the page does, with header changes applied.
func (c *client) post(path string, body any, edit func(http.Header)) (int, map[string]string) {
	c.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		c.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, c.origin+path, bytes.NewReader(b))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", c.origin)
	req.Header.Set(tokenHeader, c.s.secret)
	if edit != nil {
		edit(req.Header)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// getRaw sends path exactly as written, without the client cleaning it.
func (c *client) getRaw(path string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.origin+"/", nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.URL.Opaque = "//" + req.URL.Host + path
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func (c *client) state() stateJSON {
	c.t.Helper()
	var st stateJSON
	c.getJSON("/api/state", &st)
	return st
}

func (c *client) getJSON(path string, v any) {
	c.t.Helper()
	code, body := c.getRaw(path)
	if err := json.Unmarshal(body, v); code != http.StatusOK || err != nil {
		c.t.Fatalf("%s: %d %s %v", path, code, body, err)
	}
}

// shown is every image the page lists, reason by reason in the tabs'
// order, each reason's list read as the page reads it: a page at a time,
// each from the cursor the last one gave (two images a page, so that
// every list here takes several).
func (c *client) shown() []item {
	c.t.Helper()
	st := c.state()
	var reasons []string
	for _, g := range st.Groups {
		if !slices.Contains(reasons, g.Reason) {
			reasons = append(reasons, g.Reason)
		}
	}
	slices.SortStableFunc(reasons, func(a, b string) int {
		rank := func(r string) int {
			if i := slices.Index(st.Reasons, r); i >= 0 {
				return i
			}
			return len(st.Reasons)
		}
		return rank(a) - rank(b)
	})
	var out []item
	for _, r := range reasons {
		next := ""
		for {
			v := url.Values{"reason": {r}, "limit": {"2"}}
			if next != "" {
				v.Set("after", next)
			}
			var page pageJSON
			c.getJSON("/api/items?"+v.Encode(), &page)
			out = append(out, page.Items...)
			if next = page.Next; next == "" {
				break
			}
		}
	}
	return out
}

func shownItem(items []item, sha string) (item, bool) {
	for _, it := range items {
		if it.SHA256 == sha {
			return it, true
		}
	}
	return item{}, false
}
