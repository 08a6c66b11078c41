// Package clean is the `scour clean` stage: it finds the images of a
// project that should not train a classifier (broken, tiny, blurry, dark,
// near-uniform, duplicated, in two classes at once, off-topic or misfiled)
// and moves them, never deleting anything, to quarantine/<reason>/<class>/
// in the store, recording why in the catalog. Restore undoes it exactly.
//
// A run is idempotent: what an image's bytes show (measurements, labels,
// embeddings) is cached by content hash, every decision is recomputed from
// the whole project, an image already quarantined for a reason that still
// holds stays where it is, and a person's decision (SetDecision, or Restore
// with Keep) overrides every check on every later run.
package clean

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/store"
	"github.com/scour-dev/scour/internal/vision"
)

// stage names clean's progress events.
const stage = "clean"

// Class is one class as clean needs to know it.
type Class struct {
	Name string
	// References are image files that show what the class is about; the
	// labels, reference and auto off-topic methods use them. They are
	// read, never stored.
	References []string
	// Method overrides Config.OffTopic.Method for this class.
	Method string
}

// Options configure Run.
type Options struct {
	Catalog *catalog.Catalog
	Store   store.Store
	// Labeler names what is in images, for the off-topic check and
	// embedding duplicates. nil (no model available) skips both with a
	// note; every other check still runs.
	Labeler vision.Labeler
	Config  Config
	// Classes lists classes with references or their own method; classes
	// of the catalog that are not listed use the defaults.
	Classes []Class
	// DryRun decides everything and moves nothing: no image, status, flag,
	// group or decision changes. Measurements and labels are still cached,
	// being facts about the bytes.
	DryRun bool
	// MeasureOnly computes and caches what clean learns from each image's
	// bytes (measurements, labels, embeddings) and stops there: it judges
	// nothing and moves nothing. It is a shard's part of clean (`scour clean
	// --shards N`): the duplicate and off-topic judgements need whole
	// classes, so they run after `scour merge`, from the merged caches.
	MeasureOnly bool
	Events      progress.Sink
}

// Summary is what a run found and did (in a dry run: would do).
type Summary struct {
	DryRun      bool                     `json:"dry_run"`
	Images      int                      `json:"images"`      // catalog rows looked at
	Kept        int                      `json:"kept"`        // kept after the run
	Quarantined int                      `json:"quarantined"` // quarantined after the run
	Moved       int                      `json:"moved"`       // moved into quarantine, or between its folders
	Released    int                      `json:"released"`    // moved back because nothing flags them any more
	Flags       map[string]int           `json:"flags"`       // images flagged, per reason; an image may have several
	Classes     map[string]*ClassSummary `json:"classes"`
	Groups      int                      `json:"duplicate_groups"`
	Measured    int                      `json:"measured"` // decoded this run (the others were cached)
	Labelled    int                      `json:"labelled"` // labelled this run (the others were cached)
	Moves       []Move                   `json:"moves,omitempty"`
	Missing     []string                 `json:"missing,omitempty"` // images whose bytes are not in the store
	Skipped     []Skipped                `json:"skipped,omitempty"` // catalog rows that make no sense, left alone
	Notes       []string                 `json:"notes,omitempty"`   // what was skipped and why
}

// ClassSummary is one class's share of a Summary.
type ClassSummary struct {
	Images      int             `json:"images"`
	Kept        int             `json:"kept"`
	Quarantined int             `json:"quarantined"`
	Flags       map[string]int  `json:"flags"`
	OffTopic    OffTopicSummary `json:"off_topic"`
}

// OffTopicSummary says how a class was judged off-topic.
type OffTopicSummary struct {
	Method     string `json:"method"`            // labels | reference | outlier | off
	Skipped    string `json:"skipped,omitempty"` // why it did not run
	References int    `json:"references,omitempty"`
	// For reference and outlier: the class's median similarity, its robust
	// standard deviation (1.4826 MAD) and the similarity below which
	// images were flagged.
	Median    float64 `json:"median,omitempty"`
	Sigma     float64 `json:"sigma,omitempty"`
	Threshold float64 `json:"threshold,omitempty"`
	// For reference: the class's median label overlap (see labelScores)
	// and the overlap below which images were flagged.
	LabelMedian    float64 `json:"label_median,omitempty"`
	LabelThreshold float64 `json:"label_threshold,omitempty"`
}

// Skipped is a catalog row clean did not touch, and why.
type Skipped struct {
	SHA256  string `json:"sha256"`
	Problem string `json:"problem"`
}

// item is one catalog image during a run.
type item struct {
	img      catalog.Image
	original string // where clean first found it, if it ever moved it
	decision string // a person's: keep | reject | ""
	m        *Measure
	f        *features
	missing  bool
	flags    map[string]Flag
	// offTopicJudged: the off-topic check ran on this image, so the
	// absence of an off-topic flag means something.
	offTopicJudged bool
	dedupJudged    bool
	score          catalog.Score // clean's doubt, saved for export and review
}

type runner struct {
	o       Options
	cfg     Config
	events  progress.Sink
	classes map[string]Class
	model   string // the labeler's name, keying its cached labels
	refs    map[string][]features
	// labelErr is why the labeler stopped being asked, once it failed a
	// whole call; the off-topic check is then skipped.
	labelErr error
	sum      *Summary
}

// Run cleans the project: measures and labels what it has not seen, flags,
// groups duplicates and moves images in and out of quarantine. Bad options
// (an unknown method, a reference image that cannot be read) fail before
// anything is read. A store failure while reading stops the run before
// anything moves; one while moving leaves every image either moved and
// recorded or untouched.
func Run(ctx context.Context, o Options) (Summary, error) {
	sum := Summary{DryRun: o.DryRun, Flags: map[string]int{}, Classes: map[string]*ClassSummary{}}
	r := &runner{o: o, cfg: o.Config, events: o.Events, classes: map[string]Class{}, sum: &sum}
	if r.events == nil {
		r.events = progress.Discard
	}
	if err := r.checkOptions(); err != nil {
		return sum, err
	}
	if o.Labeler != nil {
		r.model = o.Labeler.Name()
	}
	m := mover{o.Catalog, o.Store}
	if !o.DryRun {
		if err := m.recoverMoves(ctx, r.events); err != nil {
			return sum, err
		}
		// A class move that review left half done must settle first, or this
		// run would judge the image under its old class.
		if err := RecoverReclasses(ctx, o.Catalog, o.Store, r.events); err != nil {
			return sum, err
		}
	}
	defer tightenGC()()
	items, err := r.loadItems(ctx)
	if err != nil {
		return sum, err
	}
	if err := r.loadReferences(ctx); err != nil {
		return sum, err
	}
	if err := r.read(ctx, items); err != nil {
		return sum, err
	}
	if o.MeasureOnly {
		sum.Images = len(items)
		return sum, nil
	}
	r.checkPixels(items)
	groups, err := r.dedup(ctx, items)
	if err != nil {
		return sum, err
	}
	if err := r.crossClassSightings(ctx, items); err != nil {
		return sum, err
	}
	r.offTopic(items)

	steps := r.plan(items)
	if !o.DryRun {
		if err := r.record(ctx, items, groups); err != nil {
			return sum, err
		}
		if err := r.saveScores(ctx, items); err != nil {
			return sum, err
		}
	}
	if err := r.apply(ctx, m, steps); err != nil {
		return sum, err
	}
	r.summarize(items)
	return sum, nil
}

func (r *runner) note(msg string) {
	r.sum.Notes = append(r.sum.Notes, msg)
	progress.Info(r.events, stage, msg)
}

func (r *runner) warn(msg string) {
	r.sum.Notes = append(r.sum.Notes, msg)
	progress.Warn(r.events, stage, msg)
}

func (r *runner) checkOptions() error {
	if r.o.Catalog == nil || r.o.Store == nil {
		return errkind.Fatal(errors.New("clean: a catalog and a store are needed"))
	}
	if err := r.cfg.Validate(); err != nil {
		return errkind.Permanent(err)
	}
	for _, c := range r.o.Classes {
		if c.Method != "" {
			if err := validMethod(c.Method); err != nil {
				return errkind.Permanent(fmt.Errorf("clean: class %q: %w", c.Name, err))
			}
		}
		if m := r.methodFor(c); (m == MethodLabels || m == MethodReference) && len(c.References) == 0 {
			return errkind.Permanent(fmt.Errorf("clean: class %q: the %s method needs reference images", c.Name, m))
		}
		r.classes[c.Name] = c
	}
	return nil
}

// methodFor is the off-topic method asked for a class, before knowing what
// the labeler can do ("auto" stays "auto").
func (r *runner) methodFor(c Class) string {
	if c.Method != "" {
		return c.Method
	}
	return r.cfg.OffTopic.Method
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// rowProblem says what makes no sense in a catalog row, or "".
func rowProblem(im catalog.Image) string {
	switch {
	case !sha256Hex.MatchString(im.SHA256):
		return fmt.Sprintf("sha256 %q is not 64 lowercase hex digits", im.SHA256)
	case im.Class == "" || strings.Contains(im.Class, "/") || store.ValidKey(im.Class) != nil:
		return fmt.Sprintf("class %q cannot name a folder", im.Class)
	case store.ValidKey(im.Key) != nil:
		return fmt.Sprintf("key %q is not a store key", im.Key)
	case im.Status == catalog.StatusKept:
		return ""
	case im.Status != catalog.StatusQuarantined:
		return fmt.Sprintf("status %q is neither %q nor %q", im.Status, catalog.StatusKept, catalog.StatusQuarantined)
	case !slices.Contains(reasonOrder, im.Reason):
		return fmt.Sprintf("quarantined for %q, which is not a reason clean gives", im.Reason)
	}
	return ""
}

func (r *runner) loadItems(ctx context.Context) ([]*item, error) {
	decisions, err := r.o.Catalog.CleanDecisions(ctx)
	if err != nil {
		return nil, dbErr("reading decisions", err)
	}
	originals, err := r.o.Catalog.CleanOriginalKeys(ctx)
	if err != nil {
		return nil, dbErr("reading moves", err)
	}
	var items []*item
	err = r.o.Catalog.ForEachImage(ctx, catalog.ImageFilter{}, func(im catalog.Image) error {
		r.sum.Images++
		if p := rowProblem(im); p != "" {
			r.sum.Skipped = append(r.sum.Skipped, Skipped{SHA256: im.SHA256, Problem: p})
			r.warn(fmt.Sprintf("image %q left alone: %s", im.SHA256, p))
			return nil
		}
		items = append(items, &item{img: im, original: originals[im.SHA256], decision: decisions[im.SHA256], flags: map[string]Flag{}})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("clean: reading the catalog: %w", err)
	}
	return items, nil
}

// loadReferences labels every class's reference images (from the cache
// when it can). A reference that cannot be read or decoded is an error:
// the user named it, and judging a class without it would mislead.
func (r *runner) loadReferences(ctx context.Context) error {
	r.refs = map[string][]features{}
	var cached map[string]features
	for _, c := range r.o.Classes {
		for _, path := range c.References {
			data, err := os.ReadFile(path)
			if err != nil {
				return errkind.Permanent(fmt.Errorf("clean: class %q: reference image: %w", c.Name, err))
			}
			m, input := measure(data, r.cfg.MaxPixels, true)
			if m.Broken != "" {
				return errkind.Permanent(fmt.Errorf("clean: class %q: reference image %s: %s", c.Name, path, m.BrokenMsg))
			}
			if r.o.Labeler == nil || r.labelErr != nil {
				continue
			}
			if cached == nil {
				var err error
				if cached, err = loadFeatures(ctx, r.o.Catalog, r.model); err != nil {
					return err
				}
			}
			sum := sha256.Sum256(data)
			sha := hex.EncodeToString(sum[:])
			f, ok := cached[sha]
			if !ok {
				got, imgErr, err := r.labelOne(ctx, data, input)
				if err != nil {
					if ctx.Err() != nil {
						return fmt.Errorf("clean: %w", ctx.Err())
					}
					r.labelErr = err
					continue
				}
				if imgErr != nil {
					r.warn(fmt.Sprintf("class %q: the labeler refused the reference image %s (%v); it is not used", c.Name, path, imgErr))
					continue
				}
				f = got
				if err := saveFeatures(ctx, r.o.Catalog, r.model, map[string]features{sha: f}); err != nil {
					return err
				}
			}
			r.refs[c.Name] = append(r.refs[c.Name], f)
		}
	}
	return nil
}

// labelOne labels a single image, by its bytes when the labeler prefers,
// else by input, its pixels prepared by measure. imgErr is the labeler
// refusing this image; err is the call failing.
func (r *runner) labelOne(ctx context.Context, data []byte, input image.Image) (f features, imgErr, err error) {
	var res []vision.Result
	if bl, ok := r.o.Labeler.(vision.BytesLabeler); ok {
		res, err = bl.LabelBytes(ctx, [][]byte{data})
	} else {
		res, err = r.o.Labeler.Label(ctx, []image.Image{input})
	}
	switch {
	case err != nil:
		return f, nil, err
	case len(res) != 1:
		return f, nil, errkind.Fatal(fmt.Errorf("labeler %s answered %d results for 1 image", r.model, len(res)))
	case res[0].Err != nil:
		return f, res[0].Err, nil
	}
	return features{Labels: res[0].Labels, Embedding: res[0].Embedding}, nil, nil
}

// summarize fills the counts from each item's final state.
func (r *runner) summarize(items []*item) {
	for _, it := range items {
		cs := r.class(it.img.Class)
		cs.Images++
		if it.img.Status == catalog.StatusQuarantined {
			r.sum.Quarantined++
			cs.Quarantined++
		} else {
			r.sum.Kept++
			cs.Kept++
		}
		for reason := range it.flags {
			r.sum.Flags[reason]++
			cs.Flags[reason]++
		}
	}
	sort.Strings(r.sum.Missing)
}

func (r *runner) class(name string) *ClassSummary {
	cs := r.sum.Classes[name]
	if cs == nil {
		cs = &ClassSummary{Flags: map[string]int{}}
		r.sum.Classes[name] = cs
	}
	return cs
}
