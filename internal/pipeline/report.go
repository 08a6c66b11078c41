package pipeline

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/project"
	"github.com/scour-dev/scour/internal/report"
	"github.com/scour-dev/scour/internal/search"
	"github.com/scour-dev/scour/internal/store"
	"github.com/scour-dev/scour/internal/train"
)

// ReportResult says where the report was written.
type ReportResult struct {
	Page   string `json:"report"` // the HTML page
	Charts string `json:"-"`      // the folder of PNG and SVG charts
	Runs   int    `json:"runs"`   // training runs shown
}

// Report writes one self-contained HTML page with the dataset's and the
// training runs' charts. It always runs: it is cheap, and it shows what the
// other stages left, whichever of them ran.
type Report struct {
	Dir    string // where to write (default: report/ in the project)
	RankBy string // rank sweep variants by val-accuracy or gap ("" = the report's default)
	// Verdict thresholds (zero = the report's defaults).
	MaxGap, MinAccuracy, MaxDrop float64
}

func (Report) Name() string { return "report" }

func (Report) Fingerprint(context.Context, *project.Project) (string, error) { return "", nil }

func (r Report) Run(ctx context.Context, p *project.Project, events progress.Sink) (any, error) {
	return r.Do(ctx, p, events)
}

// Do builds the report and writes it.
func (r Report) Do(ctx context.Context, p *project.Project, _ progress.Sink) (ReportResult, error) {
	var rb report.RankBy
	if r.RankBy != "" {
		var err error
		if rb, err = report.ParseRankBy(r.RankBy); err != nil {
			return ReportResult{}, configErr("%v", err)
		}
	}
	rep, err := BuildReport(ctx, p)
	if err != nil {
		return ReportResult{}, err
	}
	rep.RankBy = rb
	rep.Thresholds = report.Thresholds{MaxGap: r.MaxGap, MinAccuracy: r.MinAccuracy, MaxDrop: r.MaxDrop}
	dir := r.Dir
	if dir == "" {
		dir = filepath.Join(p.Dir, "report")
	}
	res := ReportResult{Page: filepath.Join(dir, "index.html"), Charts: filepath.Join(dir, "charts"), Runs: len(rep.Sweep.Runs)}
	return res, report.Write(dir, rep)
}

// SamplesPerGroup bounds the contact sheets: this many kept images per
// class and quarantined images per reason.
const SamplesPerGroup = 8

// BuildReport gathers the catalog's statistics, sample images and every
// finished training run under runs/ into a report titled after the project.
func BuildReport(ctx context.Context, p *project.Project) (report.Report, error) {
	title := filepath.Base(p.Dir) + ": dataset and training report"
	stats, err := p.Catalog.Stats(ctx, p.Config.ClassNames())
	if err != nil {
		return report.Report{}, err
	}
	ds := &report.Dataset{}
	for _, s := range stats {
		ds.Classes = append(ds.Classes, report.Class{
			Name: s.Class, Found: s.URLs, Downloaded: s.Done + s.Duplicates, Duplicates: s.Duplicates, Kept: s.Kept,
			Failed: counts(s.Failed), Quarantined: counts(s.Quarantined),
		})
	}
	engines, licenses, err := p.Catalog.Provenance(ctx)
	if err != nil {
		return report.Report{}, err
	}
	families := map[string]int{}
	for l, n := range licenses {
		if l == "unknown" {
			l = ""
		}
		families[search.LicenseFamily(l)] += n
	}
	ds.Sources, ds.Licenses = counts(engines), counts(families)
	ds.Credits = credits(ctx, p)
	if ds.Searches, err = searches(ctx, p); err != nil {
		return report.Report{}, err
	}
	if ds.Shortfalls, err = shortfalls(ctx, p, stats); err != nil {
		return report.Report{}, err
	}
	if ds.Kept, err = samples(ctx, p, catalog.StatusKept, func(im catalog.Image) string { return im.Class }); err != nil {
		return report.Report{}, err
	}
	if ds.Quarantined, err = samples(ctx, p, catalog.StatusQuarantined, func(im catalog.Image) string { return im.Reason }); err != nil {
		return report.Report{}, err
	}
	runs, err := loadRuns(ctx, p)
	if err != nil {
		return report.Report{}, err
	}
	return report.Report{Title: title, Dataset: ds, Sweep: report.Sweep{Name: "training runs", Runs: runs}}, nil
}

// credits streams the kept images whose license asks for attribution.
func credits(ctx context.Context, p *project.Project) report.CreditSource {
	return func(yield func(report.Credit) error) error {
		return p.Catalog.ForEachKeptCredit(ctx, func(c catalog.Credit) error {
			if !search.NeedsAttribution(search.LicenseFamily(c.License)) {
				return nil
			}
			return yield(report.Credit{Class: c.Class, File: c.Key, Title: c.Title, Author: c.Author, License: c.License,
				Source: cmp.Or(c.PageURL, c.URL)})
		})
	}
}

// shortfalls lists the classes below their target now, with the reason
// their last top-up recorded. A class whose target changed since, or that
// no top-up judged, is short without a recorded reason: it says so.
func shortfalls(ctx context.Context, p *project.Project, stats []catalog.ClassStats) ([]report.Shortfall, error) {
	why, err := p.Catalog.Shortfalls(ctx)
	if err != nil {
		return nil, err
	}
	kept := map[string]int{}
	for _, s := range stats {
		kept[s.Class] = s.Kept
	}
	var out []report.Shortfall
	for _, c := range p.Config.Classes {
		if c.Target <= 0 || kept[c.Name] >= c.Target {
			continue
		}
		w := "no top-up has run since the target was set: `scour run` or `scour gather --top-up` gathers more"
		if f, ok := why[c.Name]; ok && f.Target == c.Target {
			w = f.Detail
		}
		out = append(out, report.Shortfall{Class: c.Name, Target: c.Target, Kept: kept[c.Name], Why: w})
	}
	return out, nil
}

func counts(m map[string]int) []report.Count {
	out := make([]report.Count, 0, len(m))
	for k, v := range m {
		if k == "" {
			k = "(none)"
		}
		out = append(out, report.Count{Name: k, N: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// samples picks up to SamplesPerGroup images of a status per group (class
// or reason), in content-hash order: an even, stable pick.
func samples(ctx context.Context, p *project.Project, status string, groupOf func(catalog.Image) string) ([]report.Sample, error) {
	per := map[string]int{}
	var out []report.Sample
	err := p.Catalog.ForEachImage(ctx, catalog.ImageFilter{Status: status}, func(im catalog.Image) error {
		g := groupOf(im)
		if per[g] >= SamplesPerGroup {
			return nil
		}
		b, err := store.ReadAll(ctx, p.Store, im.Key, 0)
		if err != nil {
			return nil // a missing file shows up in doctor, not as a broken report
		}
		per[g]++
		out = append(out, report.Sample{Picture: report.Picture{Encoded: b}, Class: im.Class, Reason: im.Reason, Caption: im.SHA256[:10]})
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Class != out[j].Class {
			return out[i].Class < out[j].Class
		}
		return out[i].Reason < out[j].Reason
	})
	return out, err
}

// loadRuns reads runs/*/result.json, ordered by name.
func loadRuns(ctx context.Context, p *project.Project) ([]report.Run, error) {
	files, _ := filepath.Glob(filepath.Join(p.Dir, "runs", "*", "result.json"))
	sort.Strings(files)
	var out []report.Run
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r train.Result
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, toReportRun(ctx, p, r))
	}
	return out, nil
}

// reportRun is a run's history and test result as the report sees them.
func reportRun(r train.Result) report.Run {
	rr := report.Run{Name: r.Name, Spec: r.Spec, Params: int64(r.Params)}
	for _, e := range r.History {
		rr.Epochs = append(rr.Epochs, report.Epoch{TrainLoss: e.TrainLoss, TrainAcc: e.TrainAcc, ValLoss: e.ValLoss, ValAcc: e.ValAcc, Seconds: e.Seconds})
	}
	if r.TestN > 0 {
		rr.Test = &report.Confusion{Classes: r.Classes, Counts: r.Confusion}
	}
	return rr
}

// toReportRun adds the pictures of the run's worst-classified test images.
func toReportRun(ctx context.Context, p *project.Project, r train.Result) report.Run {
	rr := reportRun(r)
	for _, m := range r.Worst {
		im, err := p.Catalog.GetImage(ctx, m.SHA256)
		if err != nil {
			continue
		}
		b, err := store.ReadAll(ctx, p.Store, im.Key, 0)
		if err != nil {
			continue
		}
		rr.Worst = append(rr.Worst, report.Mistake{Picture: report.Picture{Encoded: b}, True: m.True, Predicted: m.Predicted, Confidence: m.Confidence, Caption: m.SHA256[:10]})
	}
	return rr
}
