package cleanbench

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/clean"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/rusage"
	"github.com/scour-dev/scour/internal/store"
	"github.com/scour-dev/scour/internal/vision"
)

// ScaleOptions sizes the clean-at-scale benchmark.
type ScaleOptions struct {
	// Shared is the folder of shared test data: the boats, find-the-ship
	// and noisy-web photos (about 1,770) are the sources of the variants.
	Shared string
	// Images is how many images the project gets; default 100,000.
	Images int
	// Seed drives the variants.
	Seed uint64
	// Labeler is the model; nil opens the local MobileNetV2.
	Labeler   vision.Labeler
	BatchSize int // images per inference run; default 32
	// RecallQueries is how many images have their alike pairs found by
	// comparing them with every other image, for the index's recall: 0
	// takes all of them up to 20,000 images and 2,000 beyond (every pair of
	// 100,000 is 5 billion dot products).
	RecallQueries int
	// Dir is a scratch directory for the project; "" makes a temporary one
	// and removes it afterwards. A Dir kept from an earlier run of the same
	// size is used as it is: its images are not made again and clean finds
	// every measurement and embedding cached, so the run is the judging
	// part alone (its memory and time without the recognizer).
	Dir string
	// CPUProfile, when set, is where a CPU profile of clean.Run is written.
	CPUProfile string
	// Prepare makes the project in Dir and has clean cache what it learns
	// from each image's bytes (measurements, labels, embeddings: a shard's
	// part, clean.Options.MeasureOnly), then stops: a later run on the same
	// Dir measures the judging part alone.
	Prepare bool
}

// ScaleReport is what Scale measured.
type ScaleReport struct {
	Images, Sources, Classes int
	Model                    string
	Cores                    int
	GenerateSeconds          float64 // making the variants and the project (not clean's)
	// CleanSeconds is clean.Run on the fresh project (first run: nothing
	// cached); RecognizerSeconds the part of it during which at least one
	// batch was in the model.
	CleanSeconds, RecognizerSeconds float64
	// Reused: the project was an earlier run's (Dir); Labelled is how many
	// images clean labelled (0: everything was cached, and the run was the
	// judging part alone). Prepared: the run only made the project and
	// cached its labels (ScaleOptions.Prepare).
	Reused, Prepared bool
	Labelled         int
	// Where CleanSeconds went, by clean's progress events: reading (the
	// catalog and caches, decoding, the recognizer), judging (every check
	// and recording the verdicts), moving (into and out of quarantine).
	ReadSeconds, JudgeSeconds, MoveSeconds float64
	Moves                                  int
	PeakRSSBytes                           int64 // the process's high-water resident set, generation included
	CatalogBytes                           int64
	Groups, Duplicates, Quarantined        int
	// The embedding near-duplicate search (cosine >= MinCosine) by the
	// index, against every pair compared for RecallQueries images.
	MinCosine          float64
	RecallQueries      int
	ExactPairs, Missed int
	IndexPairs         int // found by the index in all
	Recall             float64
}

func (r ScaleReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "clean at scale: %d images (%d classes; crops, re-encodes and resizes of %d shared photos), model %s, %d cores\n",
		r.Images, r.Classes, r.Sources, r.Model, r.Cores)
	switch {
	case r.Prepared:
		fmt.Fprintf(&b, "  prepared: measured and labelled %d images in %.1f s (making the project took %.1f s more); run again with the same --dir to judge them\n",
			r.Labelled, r.CleanSeconds, r.GenerateSeconds)
		fmt.Fprintf(&b, "  peak RSS               %8.0f MB\n", float64(r.PeakRSSBytes)/1e6)
		return b.String()
	case r.Reused && r.Labelled == 0:
		fmt.Fprintf(&b, "  scour clean, cached    %8.1f s      (%.0f images/s; an earlier run's project, everything cached: the judging part alone)\n", r.CleanSeconds, float64(r.Images)/r.CleanSeconds)
	default:
		fmt.Fprintf(&b, "  scour clean, first run %8.1f s      (%.0f images/s; making the project took %.1f s more)\n", r.CleanSeconds, float64(r.Images)/r.CleanSeconds, r.GenerateSeconds)
	}
	fmt.Fprintf(&b, "  of which               %8.1f s reading (the recognizer included), %.1f s judging, %.1f s moving %d images\n",
		r.ReadSeconds, r.JudgeSeconds, r.MoveSeconds, r.Moves)
	fmt.Fprintf(&b, "  recognizer share       %8.0f %%      (%.1f s with a batch in the model)\n", 100*r.RecognizerSeconds/r.CleanSeconds, r.RecognizerSeconds)
	fmt.Fprintf(&b, "  peak RSS               %8.0f MB     (target < 2,000 MB at 100,000 images)\n", float64(r.PeakRSSBytes)/1e6)
	fmt.Fprintf(&b, "  catalog                %8.0f MB     (embeddings as float16)\n", float64(r.CatalogBytes)/1e6)
	fmt.Fprintf(&b, "  duplicate groups       %8d        (%d images flagged duplicate; %d quarantined in all)\n", r.Groups, r.Duplicates, r.Quarantined)
	fmt.Fprintf(&b, "  embedding index recall %8.4f        (target >= 0.99: %d of the %d pairs at cosine >= %g of %d images compared with all found; %d pairs in all)\n",
		r.Recall, r.ExactPairs-r.Missed, r.ExactPairs, r.MinCosine, r.RecallQueries, r.IndexPairs)
	return b.String()
}

// minVariants: the fewest images made of each photo used.
const minVariants = 8

// source is one shared photo the variants are made of.
type source struct{ class, path string }

// Scale makes a project of synthetic variants of the shared photos and
// runs the whole clean stage on it, as a first run, timing it and the
// recognizer's part, then measures the recall of the embedding index
// against comparing every pair.
func Scale(ctx context.Context, o ScaleOptions) (ScaleReport, error) {
	rep := ScaleReport{Cores: runtime.GOMAXPROCS(0)}
	if o.Images <= 0 {
		o.Images = 100_000
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 32
	}
	srcs, err := scaleSources(o.Shared)
	if err != nil {
		return rep, err
	}
	// Every photo used gets at least minVariants images, so that a small
	// run has groups of copies too: fewer photos, drawn at random.
	if use := (o.Images + minVariants - 1) / minVariants; use < len(srcs) {
		r := rand.New(rand.NewPCG(o.Seed, 0x5ca1e))
		r.Shuffle(len(srcs), func(i, j int) { srcs[i], srcs[j] = srcs[j], srcs[i] })
		srcs = srcs[:use]
	}
	rep.Images, rep.Sources = o.Images, len(srcs)
	classes := map[string]bool{}
	for _, s := range srcs {
		classes[s.class] = true
	}
	rep.Classes = len(classes)
	dir := o.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "scour-bench-scale-"); err != nil {
			return rep, err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return rep, fmt.Errorf("cleanbench: %w", err)
	}
	dbPath := filepath.Join(dir, "scour.db")
	cat, err := catalog.Open(ctx, dbPath)
	if err != nil {
		return rep, err
	}
	defer cat.Close()
	st, err := store.NewLocal(dir)
	if err != nil {
		return rep, err
	}
	if o.Labeler == nil {
		l, err := clean.NewLocalLabeler(o.BatchSize)
		if err != nil {
			return rep, err
		}
		defer l.Close()
		o.Labeler = l
	}
	rep.Model = o.Labeler.Name()

	counts, err := cat.CountImages(ctx)
	if err != nil {
		return rep, err
	}
	var have int
	for _, byStatus := range counts {
		for _, n := range byStatus {
			have += n
		}
	}
	// The marker says which project the folder holds (a few variants are
	// byte for byte another, so the catalog holds slightly fewer images).
	marker := filepath.Join(dir, "scale-project")
	made := fmt.Sprintf("images %d seed %d\n", o.Images, o.Seed)
	switch old, err := os.ReadFile(marker); {
	case have > 0 && err == nil && string(old) == made:
		rep.Reused = true
	case have > 0 || err == nil:
		return rep, fmt.Errorf("cleanbench: %s holds another project (%q, %d images) than --images %d: pass another --dir", dir, strings.TrimSpace(string(old)), have, o.Images)
	default:
		t0 := time.Now()
		if err := makeVariants(ctx, cat, st, srcs, o.Images, o.Seed); err != nil {
			return rep, err
		}
		rep.GenerateSeconds = time.Since(t0).Seconds()
		if err := os.WriteFile(marker, []byte(made), 0o644); err != nil {
			return rep, fmt.Errorf("cleanbench: %w", err)
		}
	}
	runtime.GC()

	cfg := clean.Default()
	cfg.OffTopic.BatchSize = o.BatchSize
	rep.MinCosine = cfg.Duplicates.MinCosine
	tl := &timedLabeler{Labeler: o.Labeler}
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return rep, fmt.Errorf("cleanbench: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return rep, fmt.Errorf("cleanbench: %w", err)
		}
	}
	t0 := time.Now()
	var mu sync.Mutex
	var readEnd, moveStart, moveEnd time.Time
	events := progress.Func(func(e progress.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case e.Kind == progress.End && e.Stage == "clean":
			readEnd = time.Now()
		case e.Kind == progress.Begin && e.Stage == "clean move":
			moveStart = time.Now()
		case e.Kind == progress.End && e.Stage == "clean move":
			moveEnd = time.Now()
		}
	})
	sum, err := clean.Run(ctx, clean.Options{Catalog: cat, Store: st, Labeler: tl, Config: cfg, MeasureOnly: o.Prepare, Events: events})
	if o.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return rep, err
	}
	end := time.Now()
	rep.CleanSeconds = end.Sub(t0).Seconds()
	mu.Lock()
	if readEnd.IsZero() { // nothing to read: every image was cached
		readEnd = t0
	}
	if moveStart.IsZero() { // nothing to move
		moveStart, moveEnd = end, end
	}
	rep.ReadSeconds, rep.JudgeSeconds = readEnd.Sub(t0).Seconds(), moveStart.Sub(readEnd).Seconds()
	rep.MoveSeconds = moveEnd.Sub(moveStart).Seconds()
	mu.Unlock()
	rep.Moves = sum.Moved + sum.Released
	rep.RecognizerSeconds = tl.busy().Seconds()
	rep.PeakRSSBytes = rusage.PeakRSS()
	rep.Labelled = sum.Labelled
	if o.Prepare {
		rep.Prepared = true
		return rep, nil
	}
	rep.Groups, rep.Duplicates = sum.Groups, sum.Flags[clean.ReasonDuplicate]
	rep.Quarantined = sum.Quarantined
	if fi, err := os.Stat(dbPath); err == nil {
		rep.CatalogBytes = fi.Size()
	}
	if fi, err := os.Stat(dbPath + "-wal"); err == nil {
		rep.CatalogBytes += fi.Size()
	}
	return rep, indexRecall(ctx, cat, rep.Model, o.RecallQueries, o.Seed, &rep)
}

// scaleSources lists the shared photos by class: each boats class, the
// find-the-ship webcam and the two noisy-web queries.
func scaleSources(shared string) ([]source, error) {
	var out []source
	walk := func(dir string, class func(path string) string) error {
		return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.EqualFold(filepath.Ext(p), ".jpg") {
				return err
			}
			out = append(out, source{class(p), p})
			return nil
		})
	}
	images := filepath.Join(shared, "images")
	boats := filepath.Join(images, "boats", "train")
	err := walk(boats, func(p string) string { return filepath.Base(filepath.Dir(p)) })
	if err == nil {
		err = walk(filepath.Join(images, "find-the-ship"), func(string) string { return "webcam" })
	}
	if err == nil {
		err = walk(filepath.Join(images, "noisy-web"), func(p string) string { return filepath.Base(filepath.Dir(p)) })
	}
	if err != nil {
		return nil, fmt.Errorf("cleanbench: reading the shared photos: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cleanbench: no photos under %s", images)
	}
	return out, nil
}

// makeVariants fills the project with n images: image i is variant i/len
// of source i%len. Variant 0 is the photo's own file; the others are,
// in turn, a re-encode at another JPEG quality, a resize, and crops of
// 45-100% of each side (resized and re-encoded too), so that the project
// holds exact copies, near-duplicates and pictures that merely overlap.
// Sources are decoded once each, on every core; nothing holds more than a
// few decoded photos.
func makeVariants(ctx context.Context, cat *catalog.Catalog, st store.Store, srcs []source, n int, seed uint64) error {
	jobs := make(chan int)
	outs := make(chan catalog.Outcome, 256)
	var firstErr error
	var once sync.Once
	fail := func(err error) { once.Do(func() { firstErr = err }) }
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var workers sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		workers.Go(func() {
			for s := range jobs {
				if err := variantsOf(ctx, st, srcs[s], s, len(srcs), n, seed, outs); err != nil {
					fail(err)
					cancel()
				}
			}
		})
	}
	go func() {
		defer close(jobs)
		for s := range min(len(srcs), n) {
			select {
			case jobs <- s:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		workers.Wait()
		close(outs)
	}()
	var batch []catalog.Outcome
	for out := range outs {
		if batch = append(batch, out); len(batch) == 1000 {
			if _, err := cat.Record(ctx, batch); err != nil {
				fail(err)
				cancel()
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 && firstErr == nil {
		if _, err := cat.Record(ctx, batch); err != nil {
			fail(err)
		}
	}
	if firstErr != nil {
		return fmt.Errorf("cleanbench: making the project: %w", firstErr)
	}
	return ctx.Err()
}

func variantsOf(ctx context.Context, st store.Store, src source, s, sources, n int, seed uint64, outs chan<- catalog.Outcome) error {
	orig, err := os.ReadFile(src.path)
	if err != nil {
		return err
	}
	img, _, err := imaging.Decode(orig, imaging.Limits{})
	if err != nil {
		return fmt.Errorf("%s: %w", src.path, err)
	}
	b := img.Bounds()
	for i := s; i < n; i += sources {
		v := i / sources
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		data := orig
		if v > 0 {
			crop := b
			scale := 1.0
			switch v % 5 {
			case 1: // re-encoded
			case 2: // resized
				scale = 0.3 + 0.6*r.Float64()
			default: // cropped, then resized
				fw, fh := 0.45+0.55*r.Float64(), 0.45+0.55*r.Float64()
				cw, ch := max(8, int(fw*float64(b.Dx()))), max(8, int(fh*float64(b.Dy())))
				x0, y0 := b.Min.X+r.IntN(b.Dx()-cw+1), b.Min.Y+r.IntN(b.Dy()-ch+1)
				crop = image.Rect(x0, y0, x0+cw, y0+ch)
				scale = 0.5 + 0.5*r.Float64()
			}
			// Variants of the largest webcam frames stay the size of a
			// web image. The photo is resized whole and the crop taken of
			// the result, which computes only the crop's pixels.
			scale = min(scale, 1024/float64(max(crop.Dx(), crop.Dy())))
			fw, fh := max(16, int(scale*float64(b.Dx()))), max(16, int(scale*float64(b.Dy())))
			sx, sy := float64(fw)/float64(b.Dx()), float64(fh)/float64(b.Dy())
			out := image.Rect(int(sx*float64(crop.Min.X-b.Min.X)), int(sy*float64(crop.Min.Y-b.Min.Y)),
				int(sx*float64(crop.Max.X-b.Min.X)), int(sy*float64(crop.Max.Y-b.Min.Y))).Intersect(image.Rect(0, 0, fw, fh))
			if out.Dx() < 8 || out.Dy() < 8 {
				out = image.Rect(0, 0, fw, fh)
			}
			if data, err = jpegOf(imaging.RGBA(imaging.ResizeCropRGB(img, fw, fh, out), out.Dx(), out.Dy()), 50+r.IntN(46)); err != nil {
				return err
			}
		}
		im, err := put(ctx, st, src.class, data)
		if err != nil {
			return err
		}
		select {
		case outs <- catalog.Outcome{URLID: im.SHA256[:32], Image: im}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// put stores one image's bytes as gather would and returns its row.
func put(ctx context.Context, st store.Store, class string, data []byte) (*catalog.Image, error) {
	meta, err := imaging.Inspect(data, imaging.Limits{})
	if err != nil {
		return nil, err
	}
	sha := hash(data)
	key := "images/" + class + "/" + sha + imaging.Ext(meta.Format)
	if err := st.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
		return nil, err
	}
	return &catalog.Image{SHA256: sha, Class: class, Key: key, Format: meta.Format, Width: meta.Width, Height: meta.Height,
		Bytes: int64(len(data)), PHash: meta.PHash, FetchedAt: "2025-01-01T00:00:00Z"}, nil
}

// timedLabeler measures how long at least one batch is in the model: the
// recognizer's share of the stage, however many batches overlap.
type timedLabeler struct {
	vision.Labeler
	mu       sync.Mutex
	inFlight int
	since    time.Time
	total    time.Duration
}

func (t *timedLabeler) Label(ctx context.Context, imgs []image.Image) ([]vision.Result, error) {
	t.mu.Lock()
	if t.inFlight++; t.inFlight == 1 {
		t.since = time.Now()
	}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		if t.inFlight--; t.inFlight == 0 {
			t.total += time.Since(t.since)
		}
		t.mu.Unlock()
	}()
	return t.Labeler.Label(ctx, imgs)
}

func (t *timedLabeler) busy() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

// indexRecall compares the pairs the embedding index finds with those found
// by comparing queries images (a random sample; all when queries covers
// them) with every other image.
func indexRecall(ctx context.Context, cat *catalog.Catalog, model string, queries int, seed uint64, rep *ScaleReport) error {
	byHash, err := clean.Embeddings(ctx, cat, model)
	if err != nil {
		return err
	}
	shas := slices.Sorted(func(yield func(string) bool) {
		for s := range byHash {
			if !yield(s) {
				return
			}
		}
	})
	embs := make([][]float32, len(shas))
	for i, s := range shas {
		embs[i] = byHash[s]
	}
	clear(byHash)
	found, err := clean.EmbeddingPairs(ctx, embs, rep.MinCosine, clean.SearchIndex)
	if err != nil {
		return err
	}
	rep.IndexPairs = len(found)
	if queries <= 0 {
		queries = len(embs)
		if len(embs) > 20_000 {
			queries = 2_000
		}
	}
	queries = min(queries, len(embs))
	rows := rand.New(rand.NewPCG(seed, 0x4ec)).Perm(len(embs))[:queries]
	isQuery := make([]bool, len(embs))
	for _, i := range rows {
		isQuery[i] = true
	}
	has := map[[2]int32]bool{}
	for _, p := range found {
		if isQuery[p[0]] || isQuery[p[1]] {
			has[p] = true
		}
	}
	var mu sync.Mutex
	var exact, missed int
	parallel(len(rows), func(k int) {
		i := rows[k]
		var e, m int
		for j := range embs {
			// A pair of two queries is counted once, from its lower index.
			if j == i || isQuery[j] && j < i || len(embs[j]) != len(embs[i]) || clean.Cosine(embs[i], embs[j]) < rep.MinCosine {
				continue
			}
			e++
			if !has[[2]int32{int32(min(i, j)), int32(max(i, j))}] {
				m++
			}
		}
		mu.Lock()
		exact, missed = exact+e, missed+m
		mu.Unlock()
	})
	rep.RecallQueries, rep.ExactPairs, rep.Missed = queries, exact, missed
	rep.Recall = 1
	if exact > 0 {
		rep.Recall = float64(exact-missed) / float64(exact)
	}
	return nil
}

func parallel(n int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
