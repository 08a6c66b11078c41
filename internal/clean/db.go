package clean

import (
	"context"
	"fmt"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/vision"
)

// dbErr marks a database failure as fatal: the catalog is the run's memory,
// and going on without it would lose what the run decides.
func dbErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return errkind.Fatal(fmt.Errorf("clean: %s: %w", what, err))
}

// loadMeasures returns the cached measures that are current: taken by this
// version of the code and, for a "too-many-pixels" finding, under the same
// limit (a higher limit might let the image decode).
func loadMeasures(ctx context.Context, cat *catalog.Catalog, maxPixels int64) (map[string]Measure, error) {
	out := map[string]Measure{}
	err := cat.ForEachCleanMeasure(ctx, measureVersion, func(sha string, limit int64, m catalog.CleanMeasure) error {
		if m.Broken != tooManyPixels || limit == maxPixels {
			out[sha] = Measure(m)
		}
		return nil
	})
	return out, dbErr("reading measures", err)
}

const tooManyPixels = "too-many-pixels" // imaging.CauseTooManyPixels

func saveMeasures(ctx context.Context, cat *catalog.Catalog, maxPixels int64, ms map[string]Measure) error {
	rows := make(map[string]catalog.CleanMeasure, len(ms))
	for sha, m := range ms {
		rows[sha] = catalog.CleanMeasure(m)
	}
	return dbErr("saving measures", cat.SaveCleanMeasures(ctx, measureVersion, maxPixels, rows))
}

// features is what a labeler said about one image.
type features struct {
	Labels    []vision.Label
	Embedding []float32
}

func loadFeatures(ctx context.Context, cat *catalog.Catalog, model string) (map[string]features, error) {
	out := map[string]features{}
	// Each row's label names are strings of their own; a project has a
	// few hundred distinct ones, so sharing them saves some 700 bytes an
	// image (70 MB at 100,000 images).
	names := map[string]string{}
	err := cat.ForEachCleanFeatures(ctx, model, func(sha string, r catalog.CleanFeatures) error {
		f := features{Embedding: r.Embedding}
		if len(r.Labels) > 0 {
			f.Labels = make([]vision.Label, len(r.Labels))
		}
		for i, l := range r.Labels {
			name, ok := names[l.Name]
			if !ok {
				name = l.Name
				names[name] = name
			}
			f.Labels[i] = vision.Label{Name: name, Confidence: l.Confidence}
		}
		out[sha] = f
		return nil
	})
	if err != nil {
		return nil, dbErr("reading labels", err)
	}
	return out, nil
}

func saveFeatures(ctx context.Context, cat *catalog.Catalog, model string, fs map[string]features) error {
	rows := make(map[string]catalog.CleanFeatures, len(fs))
	for sha, f := range fs {
		r := catalog.CleanFeatures{Labels: make([]catalog.CleanLabel, len(f.Labels)), Embedding: f.Embedding}
		for i, l := range f.Labels {
			r.Labels[i] = catalog.CleanLabel(l)
		}
		rows[sha] = r
	}
	return dbErr("saving labels", cat.SaveCleanFeatures(ctx, model, rows))
}

// Decisions a person can make about an image.
const (
	DecisionKeep   = "keep"   // never quarantine it again
	DecisionReject = "reject" // quarantine it (reason "rejected") whatever the checks say
)

// SetDecision records a person's decision about an image, which every later
// run of clean obeys; "" forgets it. The review page and Restore use it.
// The image must be in the catalog.
func SetDecision(ctx context.Context, cat *catalog.Catalog, sha, decision string) error {
	if _, err := cat.GetImage(ctx, sha); err != nil {
		return fmt.Errorf("clean: decision on %s: %w", sha, err)
	}
	switch decision {
	case DecisionKeep, DecisionReject:
		return dbErr("recording a decision", cat.SetCleanDecision(ctx, sha, decision))
	case "":
		return dbErr("recording a decision", cat.DeleteCleanDecision(ctx, sha, ""))
	}
	return errkind.Permanent(fmt.Errorf("clean: unknown decision %q (want %q, %q or none)", decision, DecisionKeep, DecisionReject))
}

// Flag is one finding about one image. Score is, for a pixel check, the
// value measured (see Check); for broken, 0, with the decoder's cause as
// Method; for duplicate, the perceptual-hash distance in bits to the copy
// kept, whose sha256 is Detail, and how it was linked as Method (exact,
// phash, embedding, phash+embedding, chain); for cross-class, the number
// of classes the group spans; for off-topic, the robust z-score (0 for the
// labels method), with the method as Method.
type Flag struct {
	SHA256 string  `json:"sha256"`
	Reason string  `json:"reason"`
	Score  float64 `json:"score"`
	Method string  `json:"method,omitempty"`
	Detail string  `json:"detail,omitempty"`
}

// Flags returns the findings of the last clean run, by image then reason;
// reason "" means all.
func Flags(ctx context.Context, cat *catalog.Catalog, reason string) ([]Flag, error) {
	rows, err := cat.CleanFlags(ctx, reason)
	if err != nil {
		return nil, dbErr("reading flags", err)
	}
	out := make([]Flag, len(rows))
	for i, r := range rows {
		out[i] = Flag(r)
	}
	return out, nil
}

// Groups returns the duplicate groups of the last clean run: for every image
// in a group of two or more, the group's id (the sha256 of the copy kept).
// Images in no group are absent. Split keeps each group on one side.
func Groups(ctx context.Context, cat *catalog.Catalog) (map[string]string, error) {
	gs, err := cat.CleanGroups(ctx)
	return gs, dbErr("reading duplicate groups", err)
}

// Embeddings returns the cached embeddings that labeler model (its Name())
// computed during clean, by content hash. Images clean never labelled are
// absent; transfer learning trains on what is there.
func Embeddings(ctx context.Context, cat *catalog.Catalog, model string) (map[string][]float32, error) {
	fs, err := loadFeatures(ctx, cat, model)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]float32, len(fs))
	for sha, f := range fs {
		if len(f.Embedding) > 0 {
			out[sha] = f.Embedding
		}
	}
	return out, nil
}
