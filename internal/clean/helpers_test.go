package clean

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/sharedtest"
	"github.com/scour-dev/scour/internal/store"
)

// project is a scratch scour project: a catalog and a local store.
type project struct {
	t     *testing.T
	dir   string
	cat   *catalog.Catalog
	store *store.Local
	n     int
}

func newProject(t *testing.T) *project {
	t.Helper()
	dir := t.TempDir()
	cat, err := catalog.Open(context.Background(), filepath.Join(dir, "scour.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	st, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &project{t: t, dir: dir, cat: cat, store: st}
}

// add stores data as gather would (images/<class>/<sha>.<ext>) and records
// it in the catalog; fetched_at follows the order of the calls.
func (p *project) add(class string, data []byte) string {
	p.t.Helper()
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	format := imaging.Sniff(data)
	ext := imaging.Ext(format)
	if ext == "" {
		ext = ".jpg"
	}
	key := "images/" + class + "/" + sha + ext
	if err := p.store.Put(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		p.t.Fatal(err)
	}
	meta, _ := imaging.Inspect(data, imaging.Limits{})
	p.n++
	im := &catalog.Image{SHA256: sha, Class: class, Key: key, Format: format, Width: meta.Width, Height: meta.Height,
		Bytes: int64(len(data)), PHash: meta.PHash, FetchedAt: fmt.Sprintf("2025-01-01T%02d:%02d:%02dZ", p.n/3600, p.n/60%60, p.n%60)}
	if _, err := p.cat.Record(context.Background(), []catalog.Outcome{{URLID: sha[:32], Image: im}}); err != nil {
		p.t.Fatal(err)
	}
	return sha
}

func (p *project) image(sha string) catalog.Image {
	p.t.Helper()
	im, err := p.cat.GetImage(context.Background(), sha)
	if err != nil {
		p.t.Fatal(err)
	}
	return im
}

// exists reports whether the store holds key.
func (p *project) exists(key string) bool {
	_, err := p.store.Stat(context.Background(), key)
	return err == nil
}

// files lists every key in the store under images/ and quarantine/.
func (p *project) files() []string {
	p.t.Helper()
	var out []string
	for _, prefix := range []string{"images/", QuarantinePrefix} {
		err := p.store.List(context.Background(), prefix, func(i store.Info) error {
			out = append(out, i.Key)
			return nil
		})
		if err != nil {
			p.t.Fatal(err)
		}
	}
	sort.Strings(out)
	return out
}

// run runs clean with the given config and no labeler unless one is set.
func (p *project) run(o Options) (Summary, *progress.Recorder) {
	p.t.Helper()
	rec := &progress.Recorder{}
	o.Catalog, o.Store, o.Events = p.cat, p.store, rec
	if o.Config.MinSide == 0 {
		o.Config = Default()
	}
	sum, err := Run(context.Background(), o)
	if err != nil {
		p.t.Fatalf("Run: %v", err)
	}
	return sum, rec
}

// quarantined maps each quarantined image to its reason.
func (p *project) quarantined() map[string]string {
	p.t.Helper()
	out := map[string]string{}
	err := p.cat.ForEachImage(context.Background(), catalog.ImageFilter{Status: catalog.StatusQuarantined}, func(im catalog.Image) error {
		out[im.SHA256] = im.Reason
		return nil
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return out
}

// boat reads a real photo from the shared boats set.
func boat(t testing.TB, class, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(sharedtest.Path(t, "images", "boats", "train", class, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// boats returns n photos of a class, in name order.
func boats(t testing.TB, class string, n int) [][]byte {
	t.Helper()
	dir := sharedtest.Path(t, "images", "boats", "train", class)
	names, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil || len(names) < n {
		t.Fatalf("%s: %d photos, want %d (%v)", dir, len(names), n, err)
	}
	sort.Strings(names)
	var out [][]byte
	for _, name := range names[:n] {
		out = append(out, boat(t, class, path.Base(name)))
	}
	return out
}

func decode(t testing.TB, data []byte) image.Image {
	t.Helper()
	img, _, err := imaging.Decode(data, imaging.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// mapPixels returns a copy of img with f applied to every pixel.
func mapPixels(img image.Image, f func(x, y int, c color.RGBA) color.RGBA) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			out.SetRGBA(x, y, f(x, y, color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 255}))
		}
	}
	return out
}

// resized scales img to w x h with the PIL-compatible filter.
func resized(img image.Image, w, h int) *image.RGBA {
	rgb := imaging.ResizeRGB(img, w, h)
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range w * h {
		copy(out.Pix[4*i:], rgb[3*i:3*i+3])
		out.Pix[4*i+3] = 255
	}
	return out
}

// noise is an image of random colours: sharp, colourful, full of information.
func noise(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 3))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(r.IntN(256))
		if i%4 == 3 {
			m.Pix[i] = 255
		}
	}
	return m
}

func uniform(w, h int, c color.RGBA) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(m.Pix); i += 4 {
		m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = c.R, c.G, c.B, 255
	}
	return m
}

// pngHeaderOnly is a well-formed PNG that claims w x h pixels and has none:
// a decompression bomb's header.
func pngHeaderOnly(w, h uint32) []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&buf, binary.BigEndian, uint32(len(data)))
		buf.WriteString(typ)
		buf.Write(data)
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		binary.Write(&buf, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	chunk("IHDR", ihdr)
	chunk("IEND", nil)
	return buf.Bytes()
}

func readAll(t testing.TB, s store.Store, key string) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
