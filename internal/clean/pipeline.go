package clean

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/store"
	"github.com/scour-dev/scour/internal/vision"
)

// labelSide is the shorter side images are shrunk to before they go to a
// pixel labeler. The local models' own first step is exactly this resize
// (PIL's antialiased bilinear to 256), so doing it here, on the decoding
// goroutines while the model runs, changes nothing in their output and
// keeps a batch of large photos from holding gigabytes.
const labelSide = 256

// labelers is how many batches are in the labeler at once: with two, one
// batch is being prepared while the other runs.
const labelers = 2

// job is one image for the pipeline to read.
type job struct {
	it           *item
	needMeasure  bool
	needFeatures bool
}

// done is what the pipeline learned about one image.
type done struct {
	it       *item
	measure  *Measure  // when measured
	features *features // when labelled
	labelErr error     // the labeler refused this image alone
	missing  bool      // the store has no bytes under the image's key
	problem  string    // the bytes are not what the catalog says they are
}

// labelJob carries an image to the labeler: its pixels, shrunk, or for a
// BytesLabeler its file as stored.
type labelJob struct {
	d    done
	img  image.Image
	data []byte
}

// pipeline reads images from the store, measures them and has them
// labelled: readers goroutines fetch and decode, and labelers batches are
// in the labeler at a time.
type pipeline struct {
	store     store.Store
	labeler   vision.Labeler // nil: nothing is labelled
	maxPixels int64
	batch     int

	labelFailed atomic.Bool
	labelErr    error // the first whole-call failure; set once, before labelFailed
	failOnce    sync.Once
}

// run processes jobs and calls onDone for each on the calling goroutine. It
// returns the first store or onDone error (after which it stops early), or
// ctx's error. A labeler that fails a whole call does not stop the run: the
// remaining images are measured but not labelled, and labelError says why.
func (p *pipeline) run(ctx context.Context, jobs []job, onDone func(done) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		cancel()
	}

	in := make(chan job)
	out := make(chan done, 64)
	toLabel := make(chan labelJob, p.batch)
	batches := make(chan []labelJob)

	go func() {
		defer close(in)
		for _, j := range jobs {
			select {
			case in <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	var readers sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		readers.Go(func() {
			for j := range in {
				d, lj, err := p.read(ctx, j)
				if err != nil {
					fail(err)
					continue
				}
				if lj != nil {
					select {
					case toLabel <- *lj:
					case <-ctx.Done():
					}
					continue
				}
				out <- d
			}
		})
	}
	go func() {
		defer close(batches)
		var b []labelJob
		for lj := range toLabel {
			if b = append(b, lj); len(b) == p.batch {
				batches <- b
				b = nil
			}
		}
		if len(b) > 0 {
			batches <- b
		}
	}()
	var labelling sync.WaitGroup
	for range labelers {
		labelling.Go(func() {
			for b := range batches {
				for _, d := range p.label(ctx, b) {
					out <- d
				}
			}
		})
	}
	go func() {
		readers.Wait()
		close(toLabel)
		labelling.Wait()
		close(out)
	}()

	for d := range out {
		if ctx.Err() != nil {
			continue // drain so every goroutine can finish
		}
		if err := onDone(d); err != nil {
			fail(err)
		}
	}
	// out is closed only after every goroutine that could call fail has
	// returned, so firstErr is settled.
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("clean: %w", err)
	}
	return nil
}

// labelError is why labelling stopped, or nil.
func (p *pipeline) labelError() error {
	if p.labelFailed.Load() {
		return p.labelErr
	}
	return nil
}

// read fetches one image and does what j asks. Missing bytes and bytes
// that do not match the catalog are findings, not errors; any other store
// failure is an error that stops the run before anything moves.
func (p *pipeline) read(ctx context.Context, j job) (done, *labelJob, error) {
	d := done{it: j.it}
	data, err := get(ctx, p.store, j.it.img.Key)
	if errors.Is(err, store.ErrNotExist) {
		d.missing = true
		return d, nil, nil
	}
	if err != nil {
		return d, nil, fmt.Errorf("clean: reading %s: %w", j.it.img.Key, err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != j.it.img.SHA256 {
		d.problem = fmt.Sprintf("the bytes at %s hash to %s, not to the catalog's sha256", j.it.img.Key, got)
		return d, nil, nil
	}
	_, bytesAPI := p.labeler.(vision.BytesLabeler)
	wantPixels := j.needFeatures && p.labeler != nil && !bytesAPI && !p.labelFailed.Load()
	var input image.Image
	if j.needMeasure {
		m, in := measure(data, p.maxPixels, wantPixels)
		d.measure, input = &m, in
		if m.Broken != "" {
			return d, nil, nil
		}
	}
	if !j.needFeatures || p.labeler == nil || p.labelFailed.Load() {
		return d, nil, nil
	}
	if bytesAPI {
		return d, &labelJob{d: d, data: data}, nil
	}
	if input == nil {
		img, _, err := imaging.Decode(data, imaging.Limits{MaxPixels: p.maxPixels})
		if err != nil {
			// The bytes match their hash, so the cached measure was taken
			// under a higher max_pixels than today's: measure again.
			m, _ := measure(data, p.maxPixels, false)
			d.measure = &m
			return d, nil, nil
		}
		input = modelInput(img)
	}
	return d, &labelJob{d: d, img: input}, nil
}

func get(ctx context.Context, s store.Store, key string) ([]byte, error) {
	rc, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := io.Copy(&b, rc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// modelInput shrinks (or enlarges) img so that its shorter side is
// labelSide, as packed RGBA.
func modelInput(img image.Image) image.Image {
	w, h := imaging.ScaleShorter(img.Bounds().Size(), labelSide)
	return imaging.ResizeRGBA(img, w, h)
}

// label runs one batch through the labeler. After a whole-call failure
// every later batch passes through unlabelled.
func (p *pipeline) label(ctx context.Context, b []labelJob) []done {
	out := make([]done, len(b))
	for i, lj := range b {
		out[i] = lj.d
	}
	if p.labelFailed.Load() || ctx.Err() != nil {
		return out
	}
	var res []vision.Result
	var err error
	if bl, ok := p.labeler.(vision.BytesLabeler); ok {
		data := make([][]byte, len(b))
		for i, lj := range b {
			data[i] = lj.data
		}
		res, err = bl.LabelBytes(ctx, data)
	} else {
		imgs := make([]image.Image, len(b))
		for i, lj := range b {
			imgs[i] = lj.img
		}
		res, err = p.labeler.Label(ctx, imgs)
	}
	if err == nil && len(res) != len(b) {
		err = errkind.Fatal(fmt.Errorf("labeler %s answered %d results for %d images", p.labeler.Name(), len(res), len(b)))
	}
	if err != nil {
		if ctx.Err() == nil {
			p.failOnce.Do(func() {
				p.labelErr = err
				p.labelFailed.Store(true)
			})
		}
		return out
	}
	for i, r := range res {
		if r.Err != nil {
			out[i].labelErr = r.Err
			continue
		}
		out[i].features = &features{Labels: r.Labels, Embedding: r.Embedding}
	}
	return out
}
