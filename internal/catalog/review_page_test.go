package catalog

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

var testScoring = ReviewScoring{OffTopic: "off-topic", Misfiled: "misfiled"}

// reviewFixture fills a catalog with quarantined images of three reasons
// and three classes, scores some of them (with ties, on purpose), and
// decides on some as the review page would: discards, keeps (the image is
// kept again, its reason only in the decision) and moves (the image is in
// another class, the page shows it under the old one). It returns what the
// page should show, built without SQL.
func reviewFixture(t *testing.T, c *Catalog, n int) []ReviewItem {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	reasons := []string{"off-topic", "misfiled", "blurry"}
	classes := []string{"Tugs", "Destroyers", "Submarines"}
	var outs []Outcome
	var want []ReviewItem
	var scores []Score
	for i := range n {
		sum := sha256.Sum256(fmt.Appendf(nil, "image %d", i))
		sha := hex.EncodeToString(sum[:])
		class, reason := classes[rng.IntN(3)], reasons[rng.IntN(3)]
		outs = append(outs, Outcome{URLID: sha[:32], Image: &Image{SHA256: sha, Class: class, Key: "images/" + class + "/" + sha + ".jpg", Format: "jpeg", Width: 10 + i, Height: 20, Bytes: int64(i)}})
		it := ReviewItem{SHA256: sha, Class: class, Reason: reason, Method: "test", Score: float64(i % 7), Width: 10 + i, Height: 20, Bytes: int64(i)}
		if i%5 != 0 {
			// Few distinct values, so that ties are common.
			sc := Score{SHA256: sha, OffTopic: float64(rng.IntN(5)) / 4, OffTopicThreshold: 0.5, OffTopicMethod: "project",
				Misfiled: float64(rng.IntN(5)) / 4, MisfiledThreshold: 0.7, Suggest: classes[rng.IntN(3)]}
			if i%11 == 0 {
				sc.MisfiledThreshold = 0 // not judged
			}
			scores = append(scores, sc)
			it.Scores = sc
			switch {
			case reason == "off-topic":
				it.Doubt, it.Scored = sc.OffTopic, true
			case reason == "misfiled" && sc.MisfiledThreshold != 0:
				it.Doubt, it.Scored = sc.Misfiled, true
			}
		}
		want = append(want, it)
	}
	if _, err := c.Record(ctx, outs); err != nil {
		t.Fatal(err)
	}
	if err := c.SaveScores(ctx, scores); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		it := &want[i]
		qkey := "quarantine/" + it.Reason + "/" + it.Class + "/" + it.SHA256 + ".jpg"
		if err := c.SetStatus(ctx, it.SHA256, StatusQuarantined, qkey, it.Reason, it.Method, it.Score); err != nil {
			t.Fatal(err)
		}
		decide := func(d string) {
			if err := c.SaveReviewDecision(ctx, ReviewDecision{SHA256: it.SHA256, Decision: d, Reason: it.Reason, Score: it.Score, Method: it.Method, FromKey: qkey}); err != nil {
				t.Fatal(err)
			}
			it.Decision = d
		}
		switch i % 9 {
		case 1:
			decide(ReviewDiscard)
		case 2:
			decide(ReviewKeep)
			if err := c.SetStatus(ctx, it.SHA256, StatusKept, "images/"+it.Class+"/"+it.SHA256+".jpg", "", "", 0); err != nil {
				t.Fatal(err)
			}
		case 3:
			decide(ReviewMove)
			to := classes[(slices.Index(classes, it.Class)+1)%3]
			m := ClassMove{SHA256: it.SHA256, FromClass: it.Class, ToClass: to, FromKey: qkey, ToKey: "images/" + to + "/" + it.SHA256 + ".jpg", FromStatus: StatusQuarantined}
			if err := c.BeginClassMove(ctx, m); err != nil {
				t.Fatal(err)
			}
			if err := c.FinishClassMove(ctx, it.SHA256); err != nil {
				t.Fatal(err)
			}
			if err := c.SetStatus(ctx, it.SHA256, StatusKept, m.ToKey, "", "", 0); err != nil {
				t.Fatal(err)
			}
			it.MovedTo = to
		case 4:
			// Kept outside the page (scour clean restore): no longer shown.
			if err := c.SetStatus(ctx, it.SHA256, StatusKept, "images/"+it.Class+"/"+it.SHA256+".jpg", "", "", 0); err != nil {
				t.Fatal(err)
			}
			it.Reason = ""
		}
		if i%4 == 0 && it.Reason != "" {
			f := CleanFlag{SHA256: it.SHA256, Reason: it.Reason, Score: it.Score, Method: it.Method, Detail: "detail " + it.SHA256[:6]}
			also := CleanFlag{SHA256: it.SHA256, Reason: "dark", Score: 1}
			if err := c.RecordCleanRun(ctx, []CleanVerdict{{Flag: f, Flagged: true}, {Flag: also, Flagged: true}}, nil); err != nil {
				t.Fatal(err)
			}
			it.Flags = []CleanFlag{f, also}
			slices.SortFunc(it.Flags, func(a, b CleanFlag) int { return strings.Compare(a.Reason, b.Reason) })
		}
	}
	return slices.DeleteFunc(want, func(it ReviewItem) bool { return it.Reason == "" })
}

func reviewOrder(a, b ReviewItem) int {
	return cmp.Or(cmp.Compare(b.Doubt, a.Doubt), strings.Compare(a.Class, b.Class), strings.Compare(a.SHA256, b.SHA256))
}

func matching(all []ReviewItem, q ReviewQuery) []ReviewItem {
	var out []ReviewItem
	for _, it := range all {
		if it.Reason != q.Reason || q.Class != "" && it.Class != q.Class {
			continue
		}
		if q.State == ReviewUndecided && it.Decision != "" || q.State != "" && q.State != ReviewUndecided && it.Decision != q.State {
			continue
		}
		out = append(out, it)
	}
	slices.SortFunc(out, reviewOrder)
	return out
}

func sameItems(t *testing.T, what string, got, want []ReviewItem) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d items, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		g.Scores.SHA256, w.Scores.SHA256 = "", ""
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Fatalf("%s: item %d is\n%+v\nwant\n%+v", what, i, g, w)
		}
	}
}

// Every list the page asks for, walked by keyset pages and by offsets,
// is what was put in, in order, once each; the groups count them; an
// item's index is its place.
func TestReviewPages(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	all := reviewFixture(t, c, 700)
	for _, reason := range []string{"off-topic", "misfiled", "blurry"} {
		for _, class := range []string{"", "Tugs", "Submarines"} {
			for _, state := range []string{"", ReviewUndecided, ReviewKeep, ReviewDiscard, ReviewMove} {
				q := ReviewQuery{Scoring: testScoring, Reason: reason, Class: class, State: state, Limit: 17}
				what := fmt.Sprintf("%s/%s/%s", reason, class, state)
				want := matching(all, q)
				var walked []ReviewItem
				for {
					page, err := c.ReviewPage(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					walked = append(walked, page...)
					if len(page) < q.Limit {
						break
					}
					cur := page[len(page)-1].Cursor()
					q.After = &cur
				}
				sameItems(t, what+" by keyset", walked, want)
				q.After = nil
				for _, off := range []int{0, 5, len(want) / 2, len(want)} {
					q.Offset = off
					page, err := c.ReviewPage(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					off = min(off, len(want))
					sameItems(t, fmt.Sprintf("%s at offset %d", what, off), page, want[off:min(len(want), off+q.Limit)])
				}
				for i, it := range want {
					if i%13 != 0 {
						continue
					}
					n, err := c.ReviewIndex(ctx, q, it.Cursor())
					if err != nil || n != i {
						t.Fatalf("%s: index of item %d: %d, %v", what, i, n, err)
					}
				}
			}
		}
	}

	groups, err := c.ReviewGroups(ctx, testScoring)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, g := range groups {
		want := matching(all, ReviewQuery{Reason: g.Reason, Class: g.Class, State: cmp.Or(g.Decision, ReviewUndecided)})
		scored, top, off, mis, suggested := 0, 0.0, 0, 0, 0
		for _, it := range want {
			if it.Scored {
				scored++
			}
			if it.Scores.OffTopicThreshold != 0 {
				off++
			}
			if it.Scores.MisfiledThreshold != 0 {
				mis++
			}
			sc := it.Scores
			if sc.Suggest != "" && sc.Suggest != it.Class && (it.Reason == "misfiled" || sc.MisfiledThreshold != 0 && sc.Misfiled >= sc.MisfiledThreshold) {
				suggested++
			}
		}
		if len(want) > 0 {
			top = want[0].Doubt
		}
		if g.Count != len(want) || g.Scored != scored || g.MaxDoubt != top || g.OffTopicJudged != off || g.MisfiledJudged != mis || g.Suggested != suggested {
			t.Errorf("group %+v, want %d items, %d scored, most doubtful %g, %d and %d judged off-topic and misfiled, %d suggested a class",
				g, len(want), scored, top, off, mis, suggested)
		}
		total += g.Count
	}
	if total != len(all) {
		t.Errorf("groups count %d items, want %d", total, len(all))
	}

	for _, it := range all[:50] {
		got, err := c.ReviewItemOf(ctx, testScoring, it.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		sameItems(t, "item "+it.SHA256[:8], []ReviewItem{got}, []ReviewItem{it})
	}
	if _, err := c.ReviewItemOf(ctx, testScoring, strings.Repeat("0", 64)); !isNotFound(err) {
		t.Errorf("an image not in the catalog: %v, want ErrNotFound", err)
	}
	if _, err := c.ReviewPage(ctx, ReviewQuery{Reason: "blurry", State: "maybe"}); err == nil {
		t.Error("an unknown state was accepted")
	}
}

// ReviewChanges moves on with every write, this process's or another's,
// and stands still without one, whatever is read meanwhile.
func TestReviewChanges(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	all := reviewFixture(t, c, 30)
	at := func() ReviewChanges {
		t.Helper()
		r, err := c.ReviewChanges(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	before := at()
	if _, err := c.ReviewGroups(ctx, testScoring); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReviewPage(ctx, ReviewQuery{Scoring: testScoring, Reason: "off-topic", Limit: 5}); err != nil {
		t.Fatal(err)
	}
	if got := at(); got != before {
		t.Fatalf("reading moved the catalog's history from %+v to %+v", before, got)
	}
	if err := c.SetStatus(ctx, all[0].SHA256, StatusKept, "images/x.jpg", "", "", 0); err != nil {
		t.Fatal(err)
	}
	mine := at()
	if mine == before {
		t.Fatalf("a write on this catalog left its history at %+v", mine)
	}
	// Another process's catalog on the same file.
	other, err := Open(ctx, c.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.SetStatus(ctx, all[1].SHA256, StatusKept, "images/y.jpg", "", "", 0); err != nil {
		t.Fatal(err)
	}
	if got := at(); got == mine {
		t.Fatalf("a write through another connection left the history at %+v", got)
	}
}

// The review page's queries over a quarantine of 20,000 images in ten
// classes, most of them in one reason, as the page asks them: the counts,
// a list's first page, a page 10,000 images in by cursor and by offset,
// and an image's place.
//
//	go test ./internal/catalog -run '^$' -bench ReviewPages
func BenchmarkReviewPages(b *testing.B) {
	ctx := context.Background()
	c, err := Open(ctx, b.TempDir()+"/scour.db")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 20_000 {
		sum := sha256.Sum256(fmt.Appendf(nil, "image %d", i))
		sha := hex.EncodeToString(sum[:])
		reason := "off-topic"
		if i%10 < 3 {
			reason = "misfiled"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO images(sha256, class, key, format, width, height, bytes, phash, fetched_at, status, reason, score, method)
			VALUES(?, ?, 'k', 'jpeg', 1, 1, 1, 0, '', ?, ?, 1, 'm')`, sha, fmt.Sprint("class ", i%10), StatusQuarantined, reason); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO clean_scores(sha256, offtopic, offtopic_threshold, misfiled, misfiled_threshold, suggest)
			VALUES(?, ?, 0.6, ?, 0.7, 'class 0')`, sha, rng.Float64(), rng.Float64()); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	q := ReviewQuery{Scoring: testScoring, Reason: "off-topic", Limit: 100}
	deep, err := c.ReviewPage(ctx, ReviewQuery{Scoring: testScoring, Reason: "off-topic", Offset: 9_999, Limit: 1})
	if err != nil || len(deep) != 1 {
		b.Fatalf("item 10,000: %v %v", deep, err)
	}
	at := deep[0].Cursor()
	for _, bm := range []struct {
		name string
		run  func() error
	}{
		{"groups", func() error { _, err := c.ReviewGroups(ctx, testScoring); return err }},
		{"first-page", func() error { _, err := c.ReviewPage(ctx, q); return err }},
		{"first-page-of-a-class", func() error { q := q; q.Class = "class 1"; _, err := c.ReviewPage(ctx, q); return err }},
		{"page-at-10000-by-cursor", func() error { q := q; q.After = &at; _, err := c.ReviewPage(ctx, q); return err }},
		{"page-at-10000-by-offset", func() error { q := q; q.Offset = 10_000; _, err := c.ReviewPage(ctx, q); return err }},
		{"index", func() error { _, err := c.ReviewIndex(ctx, q, at); return err }},
	} {
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				if err := bm.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
