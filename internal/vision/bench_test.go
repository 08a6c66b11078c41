//go:build cgo

package vision

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/sharedtest"
)

// BenchmarkLabelBoats measures what the clean stage pays per photo: decode
// (on all cores, as the stage's workers do), resize and crop, and
// MobileNetV2 inference, in batches of 32 (one op = one batch). It reports
// images/s.
func BenchmarkLabelBoats(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join(sharedtest.Path(b, "images", "boats", "train"), "*", "*.jpg"))
	if len(files) < 32 {
		b.Skip("too few boats photos")
	}
	var photos [][]byte
	for _, f := range files[:128] {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		photos = append(photos, data)
	}
	l := newLocal(b, MobileNetV2(), LocalOptions{BatchSize: 32})
	const batch = 32
	imgs := make([]image.Image, batch)
	next := 0
	for b.Loop() {
		var g errgroup.Group
		g.SetLimit(runtime.GOMAXPROCS(0))
		for i := range imgs {
			data := photos[(next+i)%len(photos)]
			g.Go(func() (err error) {
				imgs[i], _, err = imaging.Decode(data, imaging.Limits{})
				return err
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		next += batch
		if _, err := l.Label(context.Background(), imgs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
}
