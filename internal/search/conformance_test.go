package search_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/search"
	"github.com/scour-dev/scour/internal/search/searchtest"
	"github.com/scour-dev/scour/internal/sharedtest"
)

// TestPagerConformance runs the search.Pager suite on every engine New
// knows, each on recorded pages served from loopback.
func TestPagerConformance(t *testing.T) {
	targets := map[string]func(t *testing.T) searchtest.Target{
		"bing":        bingTarget,
		"duckduckgo":  ddgTarget,
		"commons":     commonsTarget,
		"urls":        urlsTarget,
		"urls/csv":    urlsCSVTarget,
		"folder":      folderBoatsTarget,
		"folder/tree": folderTreeTarget,
	}
	for _, name := range search.Names() {
		if targets[name] == nil {
			t.Errorf("engine %q has no conformance target: add one here", name)
		}
	}
	for name, newTarget := range targets {
		t.Run(name, func(t *testing.T) { searchtest.Run(t, newTarget) })
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bingTarget serves the real saved result page for "golang gopher" and, for
// every continuation, the real async fragment (which Bing repeats past the
// end of a search).
func bingTarget(t *testing.T) searchtest.Target {
	page := readFile(t, sharedtest.Path(t, "fixtures", "bing", "retrieval-go_bing_images_golang-gopher.html"))
	async := readFile(t, filepath.Join("testdata", "bing", "async_page.html"))
	srv := searchtest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("q") != "golang gopher" {
			http.Error(w, "no recording for this query", http.StatusNotFound)
			return
		}
		switch r.URL.Path {
		case "/images/search":
			w.Write(page)
		case "/images/async":
			w.Write(async)
		default:
			http.NotFound(w, r)
		}
	}))
	return srv.Hook(searchtest.Target{
		Engine: search.NewBing(search.Options{BaseURL: srv.URL, Client: srv.Client()}),
		Query:  search.Query{Text: "golang gopher", SafeSearch: true},
		// The page holds 47 items, 42 distinct images (read by hand, see
		// TestParseBingRealPage); the fragment's two add one more.
		Results:  43,
		Distinct: true,
	})
}

// ddgTarget serves DuckDuckGo's token page and i.js. No real i.js reply
// was ever saved (../shared/fixtures/bing/SCRAPERS.md), so the replies are
// built in the shape documented there; the token is made up.
func ddgTarget(t *testing.T) searchtest.Target {
	const token = "4-211915914869418497563420516474829413271"
	item := func(n int) map[string]any {
		return map[string]any{
			"title": fmt.Sprintf("Destroyer %d", n), "image": fmt.Sprintf("https://upload.example.org/destroyer-%d.jpg", n),
			"thumbnail": fmt.Sprintf("https://tse1.mm.bing.net/th?id=OIP.%d&pid=Api", n), "url": fmt.Sprintf("https://ships.example.org/destroyer-%d", n),
			"height": 768, "width": 1024, "source": "Bing", "image_token": fmt.Sprintf("tok%d", n), "thumbnail_token": fmt.Sprintf("ttok%d", n),
		}
	}
	replies := map[string]map[string]any{
		"0":   {"query": "destroyer", "results": []any{item(1), item(2)}, "next": "i.js?q=destroyer&o=json&p=1&s=100&u=bing&f=,,,&l=wt-wt"},
		"100": {"query": "destroyer", "results": []any{item(2), item(3)}, "next": "i.js?q=destroyer&o=json&p=1&s=200&u=bing&f=,,,&l=wt-wt"},
		"200": {"query": "destroyer", "results": []any{}},
	}
	srv := searchtest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case r.URL.Path == "/" && q.Get("q") == "destroyer":
			fmt.Fprintf(w, `<!DOCTYPE html><html><body><script>DDG.deep.initialize('/d.js?q=destroyer&l=wt-wt&s=0&vqd="%s"');</script></body></html>`, token)
		case r.URL.Path == "/i.js" && q.Get("vqd") != token:
			http.Error(w, "stale token", http.StatusForbidden)
		case r.URL.Path == "/i.js" && q.Get("q") == "destroyer" && replies[q.Get("s")] != nil:
			json.NewEncoder(w).Encode(replies[q.Get("s")])
		default:
			http.NotFound(w, r)
		}
	}))
	return srv.Hook(searchtest.Target{
		Engine:   search.NewDuckDuckGo(search.Options{BaseURL: srv.URL, Client: srv.Client()}),
		Query:    search.Query{Text: "destroyer", SafeSearch: true},
		Results:  3, // destroyer-2 comes twice
		Distinct: true,
	})
}

// commonsTarget chains real MediaWiki replies by the continuation each one
// carries (see testdata/wikimedia/PROVENANCE.md): a search reply of
// articles (no files), a video (left out), then a JPEG and the end.
func commonsTarget(t *testing.T) searchtest.Target {
	search0 := readFile(t, sharedtest.Path(t, "fixtures", "api", "wikimedia", "wikipedia-android_full_text_search_results.json"))
	video := readFile(t, filepath.Join("testdata", "wikimedia", "gallery_item_video.json"))
	image := readFile(t, filepath.Join("testdata", "wikimedia", "gallery_item_image.json"))
	srv := searchtest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/w/api.php" || !strings.Contains(q.Get("gsrsearch"), "kinkaku") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		switch cont := [3]string{q.Get("continue"), q.Get("gsroffset"), q.Get("vistart")}; cont {
		case [3]string{}:
			w.Write(search0)
		case [3]string{"gsroffset||", "20", ""}:
			w.Write(video)
		case [3]string{"||", "", "2016-02-26T20:49:32Z"}:
			w.Write(image)
		default:
			http.Error(w, fmt.Sprintf("no recording for continuation %q", cont), http.StatusNotFound)
		}
	}))
	return srv.Hook(searchtest.Target{
		Engine:   search.NewCommons(search.Options{BaseURL: srv.URL, Client: srv.Client()}),
		Query:    search.Query{Text: "kinkaku", SafeSearch: true},
		Results:  1,
		Distinct: true,
	})
}

func writeList(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// urlsTarget reads a plain list with comments and lines to skip, three
// URLs a page.
func urlsTarget(t *testing.T) searchtest.Target {
	var b strings.Builder
	b.WriteString("# destroyers\n\n")
	for i := range 8 {
		fmt.Fprintf(&b, "https://upload.example.org/destroyer-%d.jpg\n", i)
		if i%3 == 0 {
			b.WriteString("ftp://example.org/skipped.jpg\nnot a url\n")
		}
	}
	b.WriteString("https://upload.example.org/destroyer-0.jpg\n") // lists may repeat a URL
	eng, err := search.NewURLList(search.Options{Path: writeList(t, "list.txt", b.String()), PageSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	return searchtest.Target{Engine: eng, Query: search.Query{Text: "ignored"}, Results: 9}
}

// urlsCSVTarget reads a CSV list with classes, titles and credits.
func urlsCSVTarget(t *testing.T) searchtest.Target {
	list := "url,class,title,license,author\n" +
		"https://upload.example.org/z.jpg,Destroyers,\"Zumwalt, at sea\",CC BY 4.0,US Navy\n" +
		"javascript:alert(1),Destroyers,,,\n" +
		"https://upload.example.org/t.jpg, Tugs ,\"two\nlines\",,\n" +
		"https://upload.example.org/k.jpg,Kayaks,,,\n"
	eng, err := search.NewURLList(search.Options{Path: writeList(t, "list.csv", list), PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	return searchtest.Target{Engine: eng, Query: search.Query{}, Results: 3}
}

// folderBoatsTarget imports the real boats tree, 100 images a page.
func folderBoatsTarget(t *testing.T) searchtest.Target {
	root := sharedtest.Path(t, "images", "boats", "train")
	images := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && strings.EqualFold(filepath.Ext(path), ".jpg") && filepath.Dir(path) != root {
			images++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := search.NewFolder(search.Options{Path: root, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	return searchtest.Target{Engine: eng, Query: search.Query{}, Results: images, Distinct: true}
}

// folderTreeTarget imports a small nested tree, two images a page.
func folderTreeTarget(t *testing.T) searchtest.Target {
	root := t.TempDir()
	for _, p := range []string{"stray.jpg", "cats/a.jpg", "cats/sub/b.png", "cats/notes.txt", "dogs/c.gif", "dogs/.hidden.jpg", "dogs/deep/er/d.webp", "dogs/e.jpeg"} {
		path := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	eng, err := search.NewFolder(search.Options{Path: root, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	return searchtest.Target{Engine: eng, Query: search.Query{}, Results: 5, Distinct: true}
}
