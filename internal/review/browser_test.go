package review

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/clean"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts headless Chromium for the test, or skips it (fails it in
// CI, where a missing browser is a broken setup, not a choice).
func browser(t *testing.T, flags ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := fmt.Sprintf("%s not found (%v): apt-get install chromium to run the review page in a real browser", chromiumPath, err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
	}, flags...)...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc()
	})
	// The first action starts the browser, which lives as long as the
	// context it was given: this one, not a step's shorter one.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return ctx
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

func cardSel(sha string) string { return fmt.Sprintf(`.card[data-sha="%s"]`, sha) }

// decisionOf is what the page shows for sha: "keep", "discard" or "".
func decisionOf(t *testing.T, ctx context.Context, sha string) string {
	t.Helper()
	do(t, ctx, "waiting for "+sha[:8], chromedp.WaitReady(chromedp.CSS(cardSel(sha))))
	return eval[string](t, ctx, fmt.Sprintf(`document.querySelector('%s').dataset.decision || ""`, cardSel(sha)))
}

func waitDecision(t *testing.T, ctx context.Context, sha, want string) {
	t.Helper()
	sel := cardSel(sha) + `:not([data-decision])`
	if want != "" {
		sel = fmt.Sprintf(`%s[data-decision="%s"]`, cardSel(sha), want)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.WaitReady(chromedp.CSS(sel))); err != nil {
		t.Fatalf("image %s never showed decision %q (shows %q): %v", sha[:8], want, decisionOf(t, ctx, sha), err)
	}
}

func focused(t *testing.T, ctx context.Context) string {
	t.Helper()
	return eval[string](t, ctx, `(document.querySelector(".card.focus") || {dataset: {}}).dataset.sha || ""`)
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) < 20_000 {
		t.Fatalf("screenshot: %d bytes, not a picture of a page", len(png))
	}
	dir := os.Getenv("SCOUR_SCREENSHOTS") // to keep them for a person to look at
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The whole page in a real browser: a click keeps, the keyboard discards
// and undoes, and what was decided is in the catalog, on disk, after a
// reload and after a restart.
func TestReviewInBrowser(t *testing.T) {
	ctx := browser(t)
	p := newProject(t)
	d := []string{p.add("Destroyers", photo(t, "Destroyers", 0)), p.add("Destroyers", photo(t, "Destroyers", 1)), p.add("Destroyers", photo(t, "Destroyers", 2))}
	s := []string{p.add("Submarines", photo(t, "Submarines", 0)), p.add("Submarines", photo(t, "Submarines", 1)), p.add("Submarines", photo(t, "Submarines", 2))}
	// Clean ranks dark before blurry, and so do the tabs.
	p.quarantine(d[0], clean.ReasonDark, 18.7)
	p.quarantine(d[1], clean.ReasonDark, 21.3)
	p.quarantine(s[0], clean.ReasonDark, 9.4)
	p.quarantine(d[2], clean.ReasonBlurry, 41.5)
	p.quarantine(s[1], clean.ReasonBlurry, 63.25)
	p.quarantine(s[2], clean.ReasonBlurry, 12)
	quarantined := map[string]string{}
	for _, sha := range slices.Concat(d, s) {
		quarantined[sha] = p.image(sha).Key
	}
	if err := os.MkdirAll(filepath.Join(p.dir, "references"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"destroyer-1.jpg": photo(t, "Destroyers", 3), "destroyer-2.jpg": photo(t, "Destroyers", 4), "submarine.jpg": photo(t, "Submarines", 3)} {
		if err := os.WriteFile(filepath.Join(p.dir, "references", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	classes := []Class{
		{Name: "Destroyers", References: []string{"references/destroyer-1.jpg", "references/destroyer-2.jpg"}},
		{Name: "Submarines", References: []string{"references/submarine.jpg"}},
	}
	srv, _ := p.start(classes)
	cards := `[...document.querySelectorAll(".card")].map(c => c.dataset.sha)`

	do(t, ctx, "opening the page", chromedp.Navigate(srv.URL()), chromedp.WaitReady(chromedp.CSS(`body[data-ready="true"]`)))
	if tabs := eval[[]string](t, ctx, `[...document.querySelectorAll(".tab")].map(t => t.dataset.reason)`); fmt.Sprint(tabs) != "[dark blurry]" {
		t.Fatalf("tabs %v, want [dark blurry]", tabs)
	}
	dark := eval[[]string](t, ctx, cards)
	if fmt.Sprint(sorted(dark)) != fmt.Sprint(sorted([]string{d[0], d[1], s[0]})) {
		t.Fatalf("the first reason shows %v, want the 3 dark images", dark)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll(".refs img").length`); n != 3 {
		t.Errorf("%d reference images beside the grids, want 3", n)
	}
	// Wait for every picture to be drawn, so a broken one fails here and
	// the screenshot shows them.
	loaded := `[...document.querySelectorAll("main img")].every(i => i.complete && i.naturalWidth > 0)`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](loaded, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("pictures not drawn: %v", err)
	}

	// A click keeps the first image; the focus moves on to the next.
	kept, undone := dark[0], dark[1]
	do(t, ctx, "clicking keep", chromedp.Click(chromedp.CSS(cardSel(kept)+" button.keep")))
	waitDecision(t, ctx, kept, verdictKeep)
	if f := focused(t, ctx); f != undone {
		t.Fatalf("after keep the focus is on %q, want the next image %s", f, undone)
	}
	// The keyboard discards that one, then takes it back.
	do(t, ctx, "pressing d", chromedp.KeyEvent("d"))
	waitDecision(t, ctx, undone, verdictDiscard)
	do(t, ctx, "pressing u", chromedp.KeyEvent("u"))
	waitDecision(t, ctx, undone, "")
	// In the second reason, → and d discard its second image.
	do(t, ctx, "pressing 2", chromedp.KeyEvent("2"), chromedp.WaitReady(chromedp.CSS(cardSel(s[1]))))
	blurry := eval[[]string](t, ctx, cards)
	if fmt.Sprint(sorted(blurry)) != fmt.Sprint(sorted([]string{d[2], s[1], s[2]})) {
		t.Fatalf("the second reason shows %v, want the 3 blurry images", blurry)
	}
	discarded := blurry[1]
	do(t, ctx, "moving right", chromedp.KeyEvent(kb.ArrowRight))
	if f := focused(t, ctx); f != discarded {
		t.Fatalf("after → the focus is on %q, want %s", f, discarded)
	}
	do(t, ctx, "pressing d", chromedp.KeyEvent("d"))
	waitDecision(t, ctx, discarded, verdictDiscard)
	screenshot(t, ctx, "review-blurry.png")

	check := func(when string) {
		t.Helper()
		do(t, ctx, when, chromedp.WaitReady(chromedp.CSS(`body[data-ready="true"]`)), chromedp.KeyEvent("1"))
		if got := decisionOf(t, ctx, kept); got != verdictKeep {
			t.Errorf("%s: the kept image shows %q", when, got)
		}
		if got := decisionOf(t, ctx, undone); got != "" {
			t.Errorf("%s: the undone image shows %q", when, got)
		}
		do(t, ctx, when, chromedp.KeyEvent("2"))
		if got := decisionOf(t, ctx, discarded); got != verdictDiscard {
			t.Errorf("%s: the discarded image shows %q", when, got)
		}
	}
	do(t, ctx, "reloading", chromedp.Reload())
	check("after a reload")
	srv.Close()
	srv, _ = p.start(classes)
	do(t, ctx, "opening the restarted server", chromedp.Navigate(srv.URL()))
	check("after a restart")
	do(t, ctx, "back to the first reason", chromedp.KeyEvent("1"))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](loaded, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("pictures not drawn: %v", err)
	}
	screenshot(t, ctx, "review-dark.png")

	// Space enlarges the focused image beside its class's references.
	do(t, ctx, "pressing space", chromedp.KeyEvent(" "), chromedp.WaitVisible(chromedp.CSS("#viewer")))
	big := `(i => i.complete && i.naturalWidth > 0)(document.querySelector("#viewer-img"))`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](big, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the enlarged picture is not drawn: %v", err)
	}
	screenshot(t, ctx, "review-viewer.png")
	do(t, ctx, "pressing escape", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.CSS("#viewer")))

	// The catalog and the files.
	keptIm := p.image(kept)
	if want := "images/" + keptIm.Class + "/" + kept + ".jpg"; keptIm.Status != catalog.StatusKept || keptIm.Key != want || !p.onDisk(want) ||
		p.onDisk(quarantined[kept]) || p.cleanDecision(kept) != clean.DecisionKeep {
		t.Errorf("kept image: %s at %s (on disk %v), clean decision %q", keptIm.Status, keptIm.Key, p.onDisk(keptIm.Key), p.cleanDecision(kept))
	}
	for _, sha := range slices.Concat(dark[1:], blurry) {
		want := ""
		if sha == discarded {
			want = clean.DecisionReject
		}
		if im := p.image(sha); im.Status != catalog.StatusQuarantined || im.Key != quarantined[sha] || !p.onDisk(im.Key) || p.cleanDecision(sha) != want {
			t.Errorf("image %s: %s at %s (on disk %v), clean decision %q; want it in quarantine, decision %q",
				sha, im.Status, im.Key, p.onDisk(im.Key), p.cleanDecision(sha), want)
		}
	}
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }
