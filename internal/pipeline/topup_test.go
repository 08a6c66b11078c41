package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/project"
)

// garbage says which results of the loopback search are garbage: 2 in 5,
// spread over every page.
func garbage(i int) bool { return i%5 == 1 || i%5 == 3 }

// licenseOf is the license the loopback search gives result i: every
// spelling family a real Commons search brings, one result in ten with
// none.
func licenseOf(i int) string {
	return []string{"CC BY-SA 4.0", "CC0", "Public domain", "CC BY 2.0", "", "CC BY-NC 2.0", "CC BY-SA 3.0", "cc-by-4.0", "CC0 1.0", "PD-old"}[i%10]
}

// searchServer is a loopback Wikimedia Commons: the MediaWiki search API,
// 10 results a page with a continuation until total, and the images
// themselves, 40% of them garbage that clean quarantines (nearly black
// frames, each with its own bytes so gather keeps them).
func searchServer(t *testing.T, total int) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("/w/api.php", func(w http.ResponseWriter, r *http.Request) {
		q := strings.TrimPrefix(r.URL.Query().Get("gsrsearch"), "filetype:bitmap ")
		off, _ := strconv.Atoi(r.URL.Query().Get("gsroffset"))
		var pages []map[string]any
		for i := off; i < min(off+10, total); i++ {
			pages = append(pages, map[string]any{
				"title": fmt.Sprintf("File:%s %d.png", q, i), "index": i + 1,
				"imageinfo": []map[string]any{{
					"url":            fmt.Sprintf("%s/img/%s/%d.png", srv.URL, q, i),
					"descriptionurl": fmt.Sprintf("%s/wiki/File:%s_%d.png", srv.URL, q, i),
					"width":          64, "height": 64, "mime": "image/png",
					"extmetadata": map[string]any{
						"LicenseShortName": map[string]any{"value": licenseOf(i)},
						"Artist":           map[string]any{"value": fmt.Sprintf(`<a href="/wiki/User:P%d">Photographer %d</a>`, i, i)},
					},
				}},
			})
		}
		resp := map[string]any{"query": map[string]any{"pages": pages}}
		if off+10 < total {
			resp["continue"] = map[string]any{"gsroffset": off + 10, "continue": "gsroffset||"}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	})
	mux.HandleFunc("/img/{q}/{name}", func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(strings.TrimSuffix(r.PathValue("name"), ".png"))
		if err != nil || i >= total {
			http.NotFound(w, r)
			return
		}
		rng := rand.New(rand.NewPCG(uint64(len(r.PathValue("q"))), uint64(i)))
		img := image.NewRGBA(image.Rect(0, 0, 64, 64))
		for by := 0; by < 8; by++ {
			for bx := 0; bx < 8; bx++ {
				a, b, c := uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256))
				col := color.RGBA{a, b, c, 255}
				if garbage(i) {
					col = color.RGBA{a % 6, b % 6, c % 6, 255}
				}
				for y := by * 8; y < by*8+8; y++ {
					for x := bx * 8; x < bx*8+8; x++ {
						img.SetRGBA(x, y, col)
					}
				}
			}
		}
		w.Header().Set("Content-Type", "image/png")
		png.Encode(w, img)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// shipsYAML is one class searched on the loopback server, beside the two
// folder classes of baseYAML (so that train has classes to tell apart).
func shipsYAML(srv string, target int, licenses string) string {
	y := strings.Replace(baseYAML, "  - name: blue\n", fmt.Sprintf("  - name: blue\n  - name: ships\n    queries: [ships]\n    target: %d\n", target), 1)
	src := fmt.Sprintf("  - engine: commons\n    base_url: %s\n    classes: [ships]\n", srv)
	if licenses != "" {
		src += "    licenses: " + licenses + "\n"
	}
	y = strings.Replace(y, "    path: photos\n", "    path: photos\n    classes: [red, blue]\n"+src, 1)
	return y
}

func keptOf(t *testing.T, p *project.Project, class string) int {
	t.Helper()
	n, err := p.Catalog.CountKept(context.Background(), class)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTopUpReachesTarget searches a loopback server whose pages are 40%
// garbage: the first round falls short once clean has quarantined the
// garbage, and the top-up reaches the target in clean images in at most 3
// rounds.
func TestTopUpReachesTarget(t *testing.T) {
	ctx := context.Background()
	srv := searchServer(t, 1000)
	const target = 20

	// One round only: gather stops at 20 downloads, clean takes the
	// garbage away, and the class is short because the rounds ran out
	// (or, when the 20 downloads drew more than half garbage, because of
	// the garbage).
	p := newProject(t, shipsYAML(srv.URL, target, ""))
	sum, err := TopUp{Rounds: 1, Clean: Clean{Labeler: "none"}}.Do(ctx, p, quiet{})
	if err != nil {
		t.Fatal(err)
	}
	short := sum.Short()
	if len(short) != 1 || short[0].Class != "ships" {
		t.Fatalf("one round: short %+v, want ships", short)
	}
	if why := map[string]string{ShortRounds: "rounds cap reached: 1 of 1 rounds", ShortGarbage: "too much garbage"}[short[0].Reason]; why == "" || !strings.Contains(short[0].Why, why) {
		t.Errorf("one round: ships short for %q (%s), want the rounds cap or the garbage", short[0].Reason, short[0].Why)
	}
	if k := keptOf(t, p, "ships"); k >= target || k < target/3 {
		t.Fatalf("one round kept %d clean images; with 40%% garbage it should be short of %d, but not empty", k, target)
	}

	p = newProject(t, shipsYAML(srv.URL, target, ""))
	sum, err = TopUp{Clean: Clean{Labeler: "none"}}.Do(ctx, p, quiet{})
	if err != nil {
		t.Fatal(err)
	}
	kept := keptOf(t, p, "ships")
	if kept < target {
		t.Fatalf("after %d rounds: %d clean images of %d; short: %+v", len(sum.Rounds), kept, target, sum.Short())
	}
	if len(sum.Rounds) > DefaultRounds || len(sum.Rounds) < 2 {
		t.Errorf("%d rounds, want 2 or 3: the first cannot reach the target through 40%% garbage", len(sum.Rounds))
	}
	// The top-up asks for about what the garbage takes, not for a pile.
	if kept > target*3/2 {
		t.Errorf("%d clean images for a target of %d: the top-up fetched far too much", kept, target)
	}
	if len(sum.Short()) != 0 {
		t.Errorf("short classes %+v after reaching the target", sum.Short())
	}
	quarantined := 0
	p.Catalog.ForEachImage(ctx, catalog.ImageFilter{Status: catalog.StatusQuarantined}, func(im catalog.Image) error {
		if im.Class == "ships" {
			quarantined++
		}
		return nil
	})
	if quarantined == 0 {
		t.Error("clean quarantined no garbage: the test no longer tests a top-up")
	}
	t.Logf("%d rounds, %d clean images, %d quarantined", len(sum.Rounds), kept, quarantined)
	f, err := p.Catalog.Shortfalls(ctx)
	if err != nil || len(f) != 0 {
		t.Errorf("recorded shortfalls %v, %v; want none once the target is reached", f, err)
	}
}

// TestRunTopUpExhausted runs the whole pipeline on a search with fewer
// results than the target, under a license filter: the class ends short
// with "sources exhausted" in the summary and the report, the filter's
// drops are counted, and the report credits the CC BY images.
func TestRunTopUpExhausted(t *testing.T) {
	ctx := context.Background()
	srv := searchServer(t, 15)
	p := newProject(t, shipsYAML(srv.URL, 20, "[cc0, pd, cc-by, CC BY-SA]"))
	rs, err := Run(ctx, p, RunOptions{Events: quiet{}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := results(t, rs), "gather:done clean:done top-up:done split:done train:done report:done"; got != want {
		t.Errorf("run:\n got %s\nwant %s", got, want)
	}
	var top TopUpSummary
	var notes []string
	for _, r := range rs {
		switch s := r.Summary.(type) {
		case TopUpSummary:
			top = s
		case *GatherSummary:
			notes = append(notes, s.Notes...)
		}
	}
	short := top.Short()
	if len(short) != 1 || short[0].Reason != ShortExhausted || !strings.Contains(short[0].Why, "sources exhausted") {
		t.Fatalf("top-up short %+v, want ships short with its sources exhausted", short)
	}
	// 15 results: 2 without a license and 1 CC BY-NC are dropped; of the
	// 12 left, 6 are garbage.
	if short[0].Kept != 6 {
		t.Errorf("ships kept %d clean images, want the 6 good ones the filter allows", short[0].Kept)
	}
	if !strings.Contains(strings.Join(notes, "\n"), "dropped 3 results: 2 without a license, 1 cc-by-nc") {
		t.Errorf("gather notes do not count the filter's drops:\n%s", strings.Join(notes, "\n"))
	}

	page, err := os.ReadFile(filepath.Join(p.Dir, "report", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="shortfalls"`, "sources exhausted: every search and list ran to its end", `href="credits.md"`, "<td>cc-by-sa</td>", "<td>pd</td>"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	credits, err := os.ReadFile(filepath.Join(p.Dir, "report", "credits.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The good images the filter allows are 0, 2, 7, 9, 10 and 12; of
	// those, 0, 7 and 10 are CC BY or CC BY-SA.
	for _, i := range []int{0, 7, 10} {
		if !strings.Contains(string(credits), fmt.Sprintf(`"ships %d.png" by Photographer %d, <%s/wiki/File:ships_%d.png>, licensed under %s`, i, i, srv.URL, i, licenseOf(i))) {
			t.Errorf("credits.md does not credit image %d:\n%s", i, credits)
		}
	}
	if n := strings.Count(string(credits), "\n- "); n != 3 {
		t.Errorf("credits.md lists %d images, want 3:\n%s", n, credits)
	}

	// Nothing changed: no stage and no top-up runs again.
	rs, err = Run(ctx, p, RunOptions{Events: quiet{}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := results(t, rs), "gather:skipped clean:skipped split:skipped train:skipped report:done"; got != want {
		t.Errorf("run again:\n got %s\nwant %s", got, want)
	}
}

// TestRunTopUpRounds checks that `scour run` really re-runs gather and
// clean in its top-up rounds (fingerprints do not skip them), and that a
// second run with nothing changed skips both and tops up nothing.
func TestRunTopUpRounds(t *testing.T) {
	ctx := context.Background()
	srv := searchServer(t, 1000)
	p := newProject(t, shipsYAML(srv.URL, 20, ""))
	rs, err := Run(ctx, p, RunOptions{Events: quiet{}})
	if err != nil {
		t.Fatal(err)
	}
	got := results(t, rs)
	if got != "gather:done clean:done gather:done clean:done top-up:done split:done train:done report:done" &&
		got != "gather:done clean:done gather:done clean:done gather:done clean:done top-up:done split:done train:done report:done" {
		t.Errorf("run: %s\nwant the first gather and clean, then one or two top-up rounds", got)
	}
	if k := keptOf(t, p, "ships"); k < 20 {
		t.Errorf("ships has %d clean images after the run, want its target of 20", k)
	}
	rs, err = Run(ctx, p, RunOptions{Events: quiet{}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := results(t, rs), "gather:skipped clean:skipped split:skipped train:skipped report:done"; got != want {
		t.Errorf("run again:\n got %s\nwant %s", got, want)
	}
	// --rounds 1 turns the top-up off; the summary still says why ships
	// is short.
	p = newProject(t, shipsYAML(srv.URL, 20, ""))
	rs, err = Run(ctx, p, RunOptions{Events: quiet{}, Rounds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := results(t, rs), "gather:done clean:done top-up:done split:done train:done report:done"; got != want {
		t.Errorf("run --rounds 1:\n got %s\nwant %s", got, want)
	}
	if sum, ok := rs[2].Summary.(TopUpSummary); !ok || len(sum.Short()) != 1 || !strings.Contains(sum.Short()[0].Why, "1 of 1 rounds") {
		t.Errorf("run --rounds 1: top-up summary %+v, want ships short after 1 of 1 rounds", rs[2].Summary)
	}
}
