package review

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/clean"
)

// Misfiled images in a real browser: the cards show clean's scores and
// suggestion, most doubtful first; m moves the focused image to the
// suggested class, u takes it back, the button does the same, and the
// catalog and the files follow.
func TestMoveInBrowser(t *testing.T) {
	ctx := browser(t)
	p := newProject(t)
	p.add("Destroyers", photo(t, "Destroyers", 0))
	p.add("Tugs", photo(t, "Tugs", 0))
	tug1, tug2 := ordered(p.add("Destroyers", photo(t, "Tugs", 1)), p.add("Destroyers", photo(t, "Tugs", 2)))
	p.misfile(tug1, "Tugs", 0.91, 0.7)
	p.misfile(tug2, "Tugs", 0.74, 0.7)
	sub := p.add("Tugs", photo(t, "Submarines", 0))
	p.quarantine(sub, clean.ReasonOffTopic, 3.2)
	p.score(catalog.Score{SHA256: sub, OffTopic: 0.88, OffTopicThreshold: 0.6, OffTopicMethod: "project"})
	quarantined := map[string]string{tug1: p.image(tug1).Key, tug2: p.image(tug2).Key}
	if err := os.MkdirAll(filepath.Join(p.dir, "references"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"destroyer.jpg": photo(t, "Destroyers", 3), "tug.jpg": photo(t, "Tugs", 3)} {
		if err := os.WriteFile(filepath.Join(p.dir, "references", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	classes := []Class{{Name: "Destroyers", References: []string{"references/destroyer.jpg"}}, {Name: "Tugs", References: []string{"references/tug.jpg"}}}
	srv, _ := p.start(classes)

	do(t, ctx, "opening the page", chromedp.Navigate(srv.URL()), chromedp.WaitReady(chromedp.CSS(`body[data-ready="true"]`)))
	tabs := eval[[]string](t, ctx, `[...document.querySelectorAll(".tab")].map(t => t.dataset.reason)`)
	if fmt.Sprint(tabs) != "[off-topic misfiled]" {
		t.Fatalf("tabs %v, want [off-topic misfiled]", tabs)
	}
	if got := eval[string](t, ctx, `document.querySelector(".card .doubt.over").textContent`); !strings.Contains(got, "0.88") || !strings.Contains(got, "0.60") {
		t.Errorf("the off-topic card says %q, want its score 0.88 and threshold 0.60", got)
	}
	do(t, ctx, "pressing 2", chromedp.KeyEvent("2"), chromedp.WaitReady(chromedp.CSS(cardSel(tug1))))
	cards := eval[[]string](t, ctx, `[...document.querySelectorAll(".card")].map(c => c.dataset.sha)`)
	if fmt.Sprint(cards) != fmt.Sprint([]string{tug1, tug2}) {
		t.Fatalf("misfiled cards %v, want the most doubtful first: %v", cards, []string{tug1, tug2})
	}
	if got := eval[string](t, ctx, fmt.Sprintf(`document.querySelector('%s .suggest').textContent`, cardSel(tug1))); !strings.Contains(got, "Tugs") {
		t.Errorf("the misfiled card suggests %q, want Tugs", got)
	}
	if got := eval[string](t, ctx, fmt.Sprintf(`[...document.querySelectorAll('%s .doubt')].map(d => d.textContent).join(" | ")`, cardSel(tug1))); !strings.Contains(got, "misfiled 0.91 / 0.70") {
		t.Errorf("the misfiled card's scores read %q", got)
	}
	loaded := `[...document.querySelectorAll("main img")].every(i => i.complete && i.naturalWidth > 0)`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](loaded, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("pictures not drawn: %v", err)
	}
	screenshot(t, ctx, "review-misfiled.png")
	// Enlarged, it stands beside both classes' references.
	do(t, ctx, "pressing space", chromedp.KeyEvent(" "), chromedp.WaitVisible(chromedp.CSS("#viewer")))
	if got := eval[[]string](t, ctx, `[...document.querySelectorAll("#viewer-refs h3")].map(h => h.textContent)`); fmt.Sprint(got) != "[References: Destroyers References: Tugs]" {
		t.Errorf("the enlarged view's references: %v", got)
	}
	do(t, ctx, "pressing escape", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.CSS("#viewer")))

	moved := func(sha string) {
		t.Helper()
		want := "images/Tugs/" + sha + ".jpg"
		if im := p.image(sha); im.Class != "Tugs" || im.Key != want || im.Status != catalog.StatusKept || !p.onDisk(want) || p.onDisk(quarantined[sha]) ||
			p.cleanDecision(sha) != clean.DecisionKeep {
			t.Fatalf("after the move: %+v (on disk %v), clean decision %q", im, p.onDisk(want), p.cleanDecision(sha))
		}
	}
	notMoved := func(sha string) {
		t.Helper()
		if im := p.image(sha); im.Class != "Destroyers" || im.Key != quarantined[sha] || im.Status != catalog.StatusQuarantined || !p.onDisk(im.Key) ||
			p.onDisk("images/Tugs/"+sha+".jpg") || p.cleanDecision(sha) != "" {
			t.Fatalf("not moved: %+v (on disk %v), clean decision %q", im, p.onDisk(im.Key), p.cleanDecision(sha))
		}
	}

	// m moves the focused image; the focus goes on; u takes it back.
	if f := focused(t, ctx); f != tug1 {
		t.Fatalf("the focus is on %q, want the most doubtful %s", f, tug1)
	}
	do(t, ctx, "pressing m", chromedp.KeyEvent("m"))
	waitDecision(t, ctx, tug1, verdictMove)
	if got := eval[string](t, ctx, fmt.Sprintf(`document.querySelector('%s .badge').textContent`, cardSel(tug1))); got != "moved → Tugs" {
		t.Errorf("badge %q", got)
	}
	if f := focused(t, ctx); f != tug2 {
		t.Errorf("after m the focus is on %q, want the next image %s", f, tug2)
	}
	moved(tug1)
	screenshot(t, ctx, "review-moved.png")
	do(t, ctx, "pressing u", chromedp.KeyEvent("u"))
	waitDecision(t, ctx, tug1, "")
	notMoved(tug1)

	// The button does the same, and the move survives a reload.
	do(t, ctx, "clicking move", chromedp.Click(chromedp.CSS(cardSel(tug2)+" button.move")))
	waitDecision(t, ctx, tug2, verdictMove)
	moved(tug2)
	do(t, ctx, "reloading", chromedp.Reload(), chromedp.WaitReady(chromedp.CSS(`body[data-ready="true"]`)), chromedp.KeyEvent("2"))
	if got := decisionOf(t, ctx, tug2); got != verdictMove {
		t.Errorf("after a reload the moved image shows %q", got)
	}
	if got := decisionOf(t, ctx, tug1); got != "" {
		t.Errorf("after a reload the undone image shows %q", got)
	}
	do(t, ctx, "undo on the card", chromedp.Click(chromedp.CSS(cardSel(tug2)+" button.undo")))
	waitDecision(t, ctx, tug2, "")
	notMoved(tug2)
}
