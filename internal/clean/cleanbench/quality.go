package cleanbench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/classname"
	"github.com/scour-dev/scour/internal/clean"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/store"
	"github.com/scour-dev/scour/internal/vision"
)

// QualityOptions sizes the quality benchmark.
type QualityOptions struct {
	// Shared is the folder of shared test data (its images/ is read).
	Shared string
	// Labeler is the model under test; nil opens the local MobileNetV2.
	Labeler vision.Labeler
	// Junk is how many off-topic images are mixed into the class: CIFAR-10
	// thumbnails of other things, empty find-the-ship webcam frames and
	// photos of other boat classes, in the proportions 2:1:2. Default 25,
	// a fifth of the class, which is a noisy scrape.
	Junk int
	// Class is the boats class (a folder of boats/train) that the junk is
	// mixed into; default Destroyers. Other classes check that a method's
	// figures are not an accident of one class.
	Class string
	// Copies is how many copies of each kind (exact, re-encoded, resized,
	// cropped) are planted. Default 5.
	Copies int
	// Dir is a scratch directory for the project; "" makes a temporary one
	// and removes it afterwards.
	Dir    string
	Events progress.Sink
}

// Score counts how one detector did against the truth.
type Score struct {
	Name                        string
	TruePos, FalsePos, FalseNeg int
	// Found counts, per source of the images ("cifar", "other boats",
	// "destroyers", ...), how many were flagged, of Of.
	Found, Of map[string]int
	Note      string
}

func (s Score) Precision() float64 { return ratio(s.TruePos, s.TruePos+s.FalsePos) }
func (s Score) Recall() float64    { return ratio(s.TruePos, s.TruePos+s.FalseNeg) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// QualityReport is what Quality measured.
type QualityReport struct {
	Class           string
	Model           string
	Positives, Junk int
	References      []string
	OffTopic        []Score // per method
	Duplicates      []Score // per kind of planted copy, then all together
	Seconds         float64
}

func (r QualityReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "clean quality benchmark: class %s, %d photos plus %d planted off-topic images, model %s\n", r.Class, r.Positives, r.Junk, r.Model)
	fmt.Fprintf(&b, "  references: %s\n", strings.Join(r.References, ", "))
	fmt.Fprintf(&b, "  off-topic      precision  recall   (flagged right / wrong / missed)\n")
	for _, s := range r.OffTopic {
		target := ""
		if s.Name == clean.MethodReference {
			target = "  target >= 0.90 / 0.90"
		}
		fmt.Fprintf(&b, "  %-12s   %6.2f    %6.2f   (%d / %d / %d)%s%s\n", s.Name, s.Precision(), s.Recall(), s.TruePos, s.FalsePos, s.FalseNeg, target, note(s))
		fmt.Fprintf(&b, "  %14s flagged per source: %s\n", "", bySource(s))
	}
	fmt.Fprintf(&b, "  duplicates     precision  recall   (found / false / missed)\n")
	for _, s := range r.Duplicates {
		fmt.Fprintf(&b, "  %-12s   %6.2f    %6.2f   (%d / %d / %d)%s\n", s.Name, s.Precision(), s.Recall(), s.TruePos, s.FalsePos, s.FalseNeg, note(s))
	}
	if all := r.Duplicates[len(r.Duplicates)-1]; all.FalsePos > 0 {
		fmt.Fprintf(&b, "  %14s flagged per source: %s\n", "", bySource(all))
	}
	fmt.Fprintf(&b, "  wall %.1f s\n", r.Seconds)
	return b.String()
}

// bySource lists found/of per source.
func bySource(s Score) string {
	var parts []string
	for _, k := range sourceOrder {
		if s.Found[k] > 0 || s.Of[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d/%d", k, s.Found[k], s.Of[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// Where the benchmark's images come from.
var sourceOrder = []string{srcPositive, srcCIFAR, srcEmpty, srcBoats, "exact", "re-encoded", "resized", "cropped"}

const (
	srcPositive = "class photos"
	srcCIFAR    = "CIFAR-10"
	srcEmpty    = "empty frames"
	srcBoats    = "other boats"
)

func note(s Score) string {
	if s.Note == "" {
		return ""
	}
	return "  " + s.Note
}

// preferredRefs are three destroyer photos chosen to span the class: two
// Arleigh Burke-class ships and a Zumwalt.
var preferredRefs = []string{"0.jpg", "1.jpg", "151.jpg"}

// Quality builds a noisy class from the shared photos with known ground
// truth, runs clean on it with each off-topic method and scores the flags.
func Quality(ctx context.Context, o QualityOptions) (QualityReport, error) {
	var rep QualityReport
	if o.Junk <= 0 {
		o.Junk = 25
	}
	if o.Copies <= 0 {
		o.Copies = 5
	}
	if o.Events == nil {
		o.Events = progress.Discard
	}
	images := filepath.Join(o.Shared, "images")
	if _, err := os.Stat(images); err != nil {
		return rep, fmt.Errorf("cleanbench: the shared photos: %w", err)
	}
	if o.Labeler == nil {
		l, err := clean.NewLocalLabeler(0)
		if err != nil {
			return rep, err
		}
		defer l.Close()
		o.Labeler = l
	}
	rep.Model = o.Labeler.Name()
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "scour-bench-clean-")
		if err != nil {
			return rep, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	cat, err := catalog.Open(ctx, filepath.Join(dir, "scour.db"))
	if err != nil {
		return rep, err
	}
	defer cat.Close()
	st, err := store.NewLocal(dir)
	if err != nil {
		return rep, err
	}
	p := &benchProject{ctx: ctx, cat: cat, store: st}
	t0 := time.Now()

	if o.Class == "" {
		o.Class = "Destroyers"
	}
	rep.Class = o.Class
	destroyers, err := photos(filepath.Join(images, "boats", "train", o.Class), "*.jpg")
	if err != nil {
		return rep, err
	}
	var refs, pos []string
	for _, f := range destroyers {
		if slices.Contains(preferredRefs, filepath.Base(f)) {
			refs = append(refs, f)
		} else {
			pos = append(pos, f)
		}
	}
	if len(refs) != len(preferredRefs) || o.Class != "Destroyers" {
		refs, pos = destroyers[:3], destroyers[3:]
	}
	for _, f := range refs {
		rep.References = append(rep.References, filepath.Base(f))
	}
	const class = "destroyers"
	source := map[string]string{} // sha256 -> where it came from
	var originals [][]byte
	for _, f := range pos {
		data, err := p.addFile(class, f)
		if err != nil {
			return rep, err
		}
		originals = append(originals, data)
		source[hash(data)] = srcPositive
	}
	rep.Positives = len(pos)

	junk := map[string]bool{}
	nCIFAR, nEmpty := o.Junk*2/5, o.Junk/5
	sources := []struct {
		name  string
		globs []string
		n     int
	}{
		{srcCIFAR, cifarNonShip(images), nCIFAR},
		{srcEmpty, []string{filepath.Join(images, "find-the-ship", "set-A_train", "empty", "*.jpg")}, nEmpty},
		{srcBoats, []string{filepath.Join(images, "boats", "train", "Kayaks", "*.jpg"), filepath.Join(images, "boats", "train", "Sailboats", "*.jpg"),
			filepath.Join(images, "boats", "train", "Fishing Boats", "*.jpg")}, o.Junk - nCIFAR - nEmpty},
	}
	for _, s := range sources {
		files, err := roundRobin(s.globs, s.n)
		if err != nil {
			return rep, err
		}
		for _, f := range files {
			data, err := p.addFile(class, f)
			if err != nil {
				return rep, err
			}
			junk[hash(data)] = true
			source[hash(data)] = s.name
		}
	}
	rep.Junk = len(junk)

	copies, err := plantCopies(p, class, originals, o.Copies)
	if err != nil {
		return rep, err
	}
	for kind, shas := range copies {
		for sha := range shas {
			source[sha] = kind
		}
	}

	cfg := clean.Default()
	for _, method := range []string{clean.MethodReference, clean.MethodLabels, clean.MethodOutlier, clean.MethodProject} {
		c := clean.Class{Name: class, Method: method}
		if method == clean.MethodReference || method == clean.MethodLabels {
			c.References = refs
		}
		sum, err := clean.Run(ctx, clean.Options{Catalog: cat, Store: st, Labeler: o.Labeler, Config: cfg, Classes: []clean.Class{c}, Events: o.Events})
		if err != nil {
			return rep, err
		}
		s := Score{Name: method, Note: sum.Classes[class].OffTopic.Skipped}
		if ot := sum.Classes[class].OffTopic; ot.Threshold != 0 {
			s.Note = fmt.Sprintf("similarity threshold %.3f (median %.3f, sigma %.3f)", ot.Threshold, ot.Median, ot.Sigma)
			if ot.LabelThreshold != 0 {
				s.Note += fmt.Sprintf(", label overlap threshold %.3f (median %.3f)", ot.LabelThreshold, ot.LabelMedian)
			}
		}
		flags, err := clean.Flags(ctx, cat, clean.ReasonOffTopic)
		if err != nil {
			return rep, err
		}
		rep.OffTopic = append(rep.OffTopic, score(s, flags, junk, source))
	}

	flags, err := clean.Flags(ctx, cat, clean.ReasonDuplicate)
	if err != nil {
		return rep, err
	}
	all := map[string]bool{}
	for _, k := range copyKinds {
		for sha := range copies[k] {
			all[sha] = true
		}
	}
	for _, k := range copyKinds {
		var mine []clean.Flag
		for _, f := range flags {
			if copies[k][f.SHA256] {
				mine = append(mine, f)
			}
		}
		rep.Duplicates = append(rep.Duplicates, score(Score{Name: k}, mine, copies[k], source))
	}
	total := score(Score{Name: "all copies"}, flags, all, source)
	if total.FalsePos > 0 {
		total.Note = "flags on unplanted images may be copies already in the scrape"
	}
	rep.Duplicates = append(rep.Duplicates, total)
	rep.Seconds = time.Since(t0).Seconds()
	return rep, nil
}

func score(s Score, flags []clean.Flag, truth map[string]bool, source map[string]string) Score {
	s.Found, s.Of = map[string]int{}, map[string]int{}
	for _, src := range source {
		s.Of[src]++
	}
	hit := map[string]bool{}
	for _, f := range flags {
		s.Found[source[f.SHA256]]++
		if truth[f.SHA256] {
			s.TruePos++
			hit[f.SHA256] = true
		} else {
			s.FalsePos++
		}
	}
	s.FalseNeg = len(truth) - len(hit)
	return s
}

var copyKinds = []string{"exact", "re-encoded", "resized", "cropped"}

// plantCopies adds, for each kind, n altered copies of distinct originals:
// the same JPEG with a comment added (same pixels), re-encoded at quality
// 50, resized to 60%, and centre-cropped to 90% (re-encoded at 90).
func plantCopies(p *benchProject, class string, originals [][]byte, n int) (map[string]map[string]bool, error) {
	if len(originals) < n*len(copyKinds) {
		return nil, fmt.Errorf("cleanbench: %d photos are too few to plant %d copies of each kind", len(originals), n)
	}
	out := map[string]map[string]bool{}
	for k, kind := range copyKinds {
		out[kind] = map[string]bool{}
		for i := range n {
			src := originals[k*n+i]
			img, _, err := imaging.Decode(src, imaging.Limits{})
			if err != nil {
				return nil, err
			}
			b := img.Bounds()
			var data []byte
			switch kind {
			case "exact":
				// A JPEG comment after SOI: other bytes, the same pixels.
				const text = "re-posted"
				data = append([]byte{0xFF, 0xD8, 0xFF, 0xFE, 0, byte(len(text) + 2)}, text...)
				data = append(data, src[2:]...)
			case "re-encoded":
				data, err = jpegOf(img, 50)
			case "resized":
				data, err = jpegOf(imaging.ResizeRGBA(img, b.Dx()*3/5, b.Dy()*3/5), 85)
			case "cropped":
				crop := imaging.CenterCrop(b.Dx(), b.Dy(), b.Dx()*9/10, b.Dy()*9/10)
				data, err = jpegOf(imaging.RGBA(imaging.ResizeCropRGB(img, b.Dx(), b.Dy(), crop), crop.Dx(), crop.Dy()), 90)
			}
			if err != nil {
				return nil, err
			}
			if err := p.add(class, data); err != nil {
				return nil, err
			}
			out[kind][hash(data)] = true
		}
	}
	return out, nil
}

func jpegOf(img image.Image, q int) ([]byte, error) {
	var b bytes.Buffer
	err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q})
	return b.Bytes(), err
}

func hash(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// benchProject records images as gather would.
type benchProject struct {
	ctx   context.Context
	cat   *catalog.Catalog
	store store.Store
	n     int
}

func (p *benchProject) addFile(class, path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return data, p.add(class, data)
}

func (p *benchProject) add(class string, data []byte) error {
	meta, err := imaging.Inspect(data, imaging.Limits{})
	if err != nil {
		return fmt.Errorf("cleanbench: %w", err)
	}
	sha := hash(data)
	key := "images/" + classname.Folder(class) + "/" + sha + imaging.Ext(meta.Format)
	if err := p.store.Put(p.ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
		return err
	}
	p.n++
	im := &catalog.Image{SHA256: sha, Class: class, Key: key, Format: meta.Format, Width: meta.Width, Height: meta.Height,
		Bytes: int64(len(data)), PHash: meta.PHash, FetchedAt: fmt.Sprintf("2025-01-01T00:00:%09.3fZ", float64(p.n)/1000)}
	_, err = p.cat.Record(p.ctx, []catalog.Outcome{{URLID: sha[:32], Image: im}})
	return err
}

func photos(dir, pattern string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("no %s under %s", pattern, dir)
	}
	slices.Sort(files)
	return files, err
}

// cifarNonShip globs every CIFAR-10 class but ship.
func cifarNonShip(images string) []string {
	var out []string
	for _, c := range []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "truck"} {
		out = append(out, filepath.Join(images, "cifar10-subset", "train", c, "*.jpg"))
	}
	return out
}

// roundRobin takes n files, one from each glob in turn, in name order.
func roundRobin(globs []string, n int) ([]string, error) {
	var lists [][]string
	for _, g := range globs {
		files, err := filepath.Glob(g)
		if err != nil {
			return nil, err
		}
		slices.Sort(files)
		lists = append(lists, files)
	}
	var out []string
	for i := 0; len(out) < n; i++ {
		took := false
		for _, l := range lists {
			if i < len(l) && len(out) < n {
				out = append(out, l[i])
				took = true
			}
		}
		if !took {
			return nil, errors.New("cleanbench: not enough junk photos in " + strings.Join(globs, ", "))
		}
	}
	return out, nil
}
