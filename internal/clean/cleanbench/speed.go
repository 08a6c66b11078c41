package cleanbench

import (
	"context"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/clean"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/store"
	"github.com/scour-dev/scour/internal/vision"
)

// SpeedOptions sizes the speed benchmark.
type SpeedOptions struct {
	// Shared is the folder of shared test data: its boats and find-the-ship
	// photos (mixed sizes, about 1,100) are the input.
	Shared string
	// N caps the number of photos; 0 takes them all.
	N int
	// Labeler is the model under test; nil opens the local MobileNetV2.
	Labeler vision.Labeler
	// BatchSize is the images per inference run; default 32.
	BatchSize int
}

// SpeedReport is what Speed measured.
type SpeedReport struct {
	Model  string
	Images int
	Cores  int
	// Bare: files in memory, decoded, resized to the model's input and run
	// through the model, decoding on every core while two batches take turns
	// in the model.
	BareSeconds float64
	// Stage: the same photos through clean.Run on a fresh project (store
	// reads, hashes, pixel statistics, the model, the catalog writes,
	// duplicate and off-topic judgement, quarantine moves).
	StageSeconds float64
}

func (r SpeedReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "clean speed benchmark: %d photos (boats and find-the-ship, mixed sizes), model %s, %d cores\n", r.Images, r.Model, r.Cores)
	fmt.Fprintf(&b, "  decode+resize+inference %7.0f images/s   (target >= 200 on 2 cores)\n", float64(r.Images)/r.BareSeconds)
	fmt.Fprintf(&b, "  scour clean, all checks %7.0f images/s   (first run: nothing cached)\n", float64(r.Images)/r.StageSeconds)
	return b.String()
}

// Speed times decoding, resizing and labelling, bare and as the clean stage
// does it.
func Speed(ctx context.Context, o SpeedOptions) (SpeedReport, error) {
	rep := SpeedReport{Cores: runtime.GOMAXPROCS(0)}
	if o.BatchSize <= 0 {
		o.BatchSize = 32
	}
	var files [][]byte
	for _, dir := range []string{"boats", "find-the-ship"} {
		err := filepath.WalkDir(filepath.Join(o.Shared, "images", dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || !strings.HasSuffix(p, ".jpg") {
				return err
			}
			data, err := os.ReadFile(p)
			files = append(files, data)
			return err
		})
		if err != nil {
			return rep, fmt.Errorf("cleanbench: reading the shared photos: %w", err)
		}
	}
	if o.N > 0 && o.N < len(files) {
		files = files[:o.N]
	}
	rep.Images = len(files)
	if o.Labeler == nil {
		l, err := clean.NewLocalLabeler(o.BatchSize)
		if err != nil {
			return rep, err
		}
		defer l.Close()
		o.Labeler = l
	}
	rep.Model = o.Labeler.Name()

	t0 := time.Now()
	if err := bare(ctx, files, o.Labeler, o.BatchSize); err != nil {
		return rep, err
	}
	rep.BareSeconds = time.Since(t0).Seconds()

	dir, err := os.MkdirTemp("", "scour-bench-speed-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(dir)
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
	for _, data := range files {
		if err := p.add("photos", data); err != nil {
			return rep, err
		}
	}
	cfg := clean.Default()
	cfg.OffTopic.BatchSize = o.BatchSize
	t0 = time.Now()
	if _, err := clean.Run(ctx, clean.Options{Catalog: cat, Store: st, Labeler: o.Labeler, Config: cfg}); err != nil {
		return rep, err
	}
	rep.StageSeconds = time.Since(t0).Seconds()
	return rep, nil
}

// bare decodes and shrinks files on every core and labels them in batches,
// two batches in the model at a time.
func bare(ctx context.Context, files [][]byte, l vision.Labeler, batch int) error {
	in := make(chan []byte)
	ready := make(chan image.Image, batch)
	go func() {
		defer close(in)
		for _, f := range files {
			in <- f
		}
	}()
	var decoders sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		decoders.Go(func() {
			for data := range in {
				img, _, err := imaging.Decode(data, imaging.Limits{})
				if err != nil {
					continue
				}
				w, h := imaging.ScaleShorter(img.Bounds().Size(), 256)
				ready <- imaging.ResizeRGBA(img, w, h)
			}
		})
	}
	go func() {
		decoders.Wait()
		close(ready)
	}()
	batches := make(chan []image.Image)
	go func() {
		defer close(batches)
		var b []image.Image
		for img := range ready {
			if b = append(b, img); len(b) == batch {
				batches <- b
				b = nil
			}
		}
		if len(b) > 0 {
			batches <- b
		}
	}()
	var mu sync.Mutex
	var firstErr error
	var models sync.WaitGroup
	for range 2 {
		models.Go(func() {
			for b := range batches {
				if _, err := l.Label(ctx, b); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		})
	}
	models.Wait()
	return firstErr
}
