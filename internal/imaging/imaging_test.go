package imaging

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/sharedtest"
)

// boat reads one real photo from the shared boats set.
func boat(t testing.TB, class, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(sharedtest.Path(t, "images", "boats", "train", class, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func encode(t testing.TB, enc func(*bytes.Buffer, image.Image) error, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := enc(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pngEnc(b *bytes.Buffer, m image.Image) error  { return png.Encode(b, m) }
func bmpEnc(b *bytes.Buffer, m image.Image) error  { return bmp.Encode(b, m) }
func tiffEnc(b *bytes.Buffer, m image.Image) error { return tiff.Encode(b, m, nil) }
func jpegEnc(q int) func(*bytes.Buffer, image.Image) error {
	return func(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, &jpeg.Options{Quality: q}) }
}

func gradient(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, color.NRGBA{uint8(x * 255 / max(1, w-1)), uint8(y * 255 / max(1, h-1)), 128, 255})
		}
	}
	return m
}

func animatedGIF(t testing.TB, frames int) []byte {
	t.Helper()
	g := &gif.GIF{}
	for i := range frames {
		p := image.NewPaletted(image.Rect(0, 0, 20, 10), palette.Plan9)
		for j := range p.Pix {
			p.Pix[j] = uint8(i*40 + j%7)
		}
		g.Image = append(g.Image, p)
		g.Delay = append(g.Delay, 10)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngHeaderOnly is a well-formed PNG signature, IHDR and IEND claiming w x h
// RGB pixels, with no pixel data at all.
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
	ihdr[8], ihdr[9] = 8, 2 // 8-bit truecolour
	chunk("IHDR", ihdr)
	chunk("IEND", nil)
	return buf.Bytes()
}

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		name string
		head string
		want string
	}{
		{"jpeg", "\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"},
		{"png", "\x89PNG\r\n\x1a\n\x00\x00", "png"},
		{"gif87", "GIF87a\x01\x00", "gif"},
		{"gif89", "GIF89a\x01\x00", "gif"},
		{"webp", "RIFF\x10\x00\x00\x00WEBPVP8 ", "webp"},
		{"riff but wave", "RIFF\x10\x00\x00\x00WAVEfmt ", ""},
		{"bmp", "BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00", "bmp"},
		{"text starting BM", "BMW cars and bikes for sale", ""},
		{"tiff le", "II*\x00\x08\x00\x00\x00", "tiff"},
		{"tiff be", "MM\x00*\x00\x00\x00\x08", "tiff"},
		{"html doctype", "<!DOCTYPE html><html>", "html"},
		{"html after bom and space", "\xef\xbb\xbf\r\n  <html lang=en>", "html"},
		{"xml", "<?xml version=\"1.0\"?><svg>", "html"},
		{"svg", "<svg xmlns=\"http://www.w3.org/2000/svg\">", "html"},
		{"json", "{\"error\": \"forbidden\"}", ""},
		{"less-than then digit", "<3 boats", ""},
		{"empty", "", ""},
		{"short jpeg prefix", "\xff\xd8", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Sniff([]byte(tc.head)); got != tc.want {
				t.Errorf("Sniff(%q) = %q, want %q", tc.head, got, tc.want)
			}
		})
	}
}

func TestInspectErrors(t *testing.T) {
	photo := boat(t, "Destroyers", "0.jpg")
	pngData := encode(t, pngEnc, gradient(64, 48))
	badCRC := bytes.Clone(pngData)
	badCRC[len(badCRC)-20] ^= 0xff // inside the IDAT data: zlib or CRC check fails
	gifData := animatedGIF(t, 1)
	bmpData := encode(t, bmpEnc, gradient(64, 48))
	tiffData := encode(t, tiffEnc, gradient(64, 48))
	webpData := testdata(t, "lossy.webp")

	for _, tc := range []struct {
		name    string
		data    []byte
		lim     Limits
		cause   string
		inMsg   string
		maxHeap uint64 // if set, the call must allocate less than this
	}{
		{name: "zero bytes", data: nil, cause: CauseEmpty, inMsg: "0 bytes"},
		{name: "html", data: []byte("<!doctype html><title>403 Forbidden</title>"), cause: CauseHTML, inMsg: "403 Forbidden"},
		{name: "unknown magic", data: []byte("%PDF-1.7\n"), cause: CauseNotAnImage, inMsg: "25 50 44 46"},
		{name: "truncated jpeg", data: photo[:len(photo)/2], cause: CauseTruncated, inMsg: "truncated jpeg"},
		{name: "jpeg cut inside header", data: photo[:40], cause: CauseTruncated, inMsg: "after 40 bytes"},
		{name: "truncated bmp", data: bmpData[:len(bmpData)-100], cause: CauseTruncated, inMsg: "truncated bmp"},
		{name: "truncated tiff", data: tiffData[:len(tiffData)/2], cause: CauseTruncated, inMsg: "truncated tiff"},
		{name: "truncated webp", data: webpData[:len(webpData)-20], cause: CauseTruncated, inMsg: "truncated webp"},
		{name: "truncated png", data: pngData[:len(pngData)-30], cause: CauseTruncated, inMsg: "truncated png"},
		{name: "truncated gif", data: gifData[:len(gifData)-12], cause: CauseTruncated, inMsg: "truncated gif"},
		{name: "corrupt png", data: badCRC, cause: CauseCorrupt, inMsg: "corrupt png"},
		{name: "png zero width", data: pngHeaderOnly(0, 10), cause: CauseCorrupt, inMsg: "png"},
		{
			name: "png bomb 30000x30000", data: pngHeaderOnly(30000, 30000), cause: CauseTooManyPixels,
			inMsg: "30000x30000", maxHeap: 1 << 20,
		},
		{
			name: "over a custom limit", data: pngData, lim: Limits{MaxPixels: 64*48 - 1}, cause: CauseTooManyPixels,
			inMsg: "64x48",
		},
		{name: "1x1 with MinWidth", data: encode(t, pngEnc, gradient(1, 1)), lim: Limits{MinWidth: 2}, cause: CauseTooSmall, inMsg: "1x1"},
		{name: "too short", data: pngData, lim: Limits{MinHeight: 49}, cause: CauseTooSmall, inMsg: "64x48"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Inspect(tc.data, tc.lim)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("Inspect accepted bad input")
			}
			if got := errkind.Cause(err); got != tc.cause {
				t.Errorf("cause = %q, want %q (err: %v)", got, tc.cause, err)
			}
			if k := errkind.KindOf(err); k != errkind.KindPermanent {
				t.Errorf("kind = %v, want permanent", k)
			}
			if !strings.Contains(err.Error(), tc.inMsg) {
				t.Errorf("message %q does not mention %q", err, tc.inMsg)
			}
			if tc.maxHeap > 0 && after.TotalAlloc-before.TotalAlloc > tc.maxHeap {
				t.Errorf("allocated %d bytes rejecting it, want < %d", after.TotalAlloc-before.TotalAlloc, tc.maxHeap)
			}
			// Decode must agree with Inspect on every failure.
			if _, _, derr := Decode(tc.data, tc.lim); errkind.Cause(derr) != tc.cause {
				t.Errorf("Decode cause = %q, want %q", errkind.Cause(derr), tc.cause)
			}
		})
	}
}

func TestInspectFormats(t *testing.T) {
	grad := gradient(40, 30)
	for _, tc := range []struct {
		name   string
		data   []byte
		format string
		w, h   int
		frames int
	}{
		{"real jpeg photo", boat(t, "Sailboats", "2.jpg"), "jpeg", 0, 0, 1},
		{"png", encode(t, pngEnc, grad), "png", 40, 30, 1},
		{"jpeg", encode(t, jpegEnc(90), grad), "jpeg", 40, 30, 1},
		{"bmp", encode(t, bmpEnc, grad), "bmp", 40, 30, 1},
		{"tiff", encode(t, tiffEnc, grad), "tiff", 40, 30, 1},
		{"gif one frame", animatedGIF(t, 1), "gif", 20, 10, 1},
		{"animated gif", animatedGIF(t, 5), "gif", 20, 10, 5},
		{"cmyk jpeg", testdata(t, "cmyk.jpg"), "jpeg", 48, 32, 1},
		{"lossy webp", testdata(t, "lossy.webp"), "webp", 48, 32, 1},
		{"lossless webp", testdata(t, "lossless.webp"), "webp", 48, 32, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Inspect(tc.data, Limits{MinWidth: 1, MinHeight: 1})
			if err != nil {
				t.Fatal(err)
			}
			if m.Format != tc.format || m.Frames != tc.frames {
				t.Errorf("got format %q frames %d, want %q %d", m.Format, m.Frames, tc.format, tc.frames)
			}
			if tc.w > 0 && (m.Width != tc.w || m.Height != tc.h) {
				t.Errorf("got %dx%d, want %dx%d", m.Width, m.Height, tc.w, tc.h)
			}
			if m.Width == 0 || m.Height == 0 {
				t.Errorf("zero size: %+v", m)
			}
			if Ext(m.Format) == "" {
				t.Errorf("no extension for %q", m.Format)
			}
		})
	}
}

// The CMYK sample has four quadrants of known RGB colours (see
// testdata/generate.py); decoding must get them back, not inverted ink.
func TestCMYKColours(t *testing.T) {
	img, _, err := Decode(testdata(t, "cmyk.jpg"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.CMYK); !ok {
		t.Fatalf("decoded as %T, want *image.CMYK", img)
	}
	rgb := ResizeRGB(img, 48, 32)
	for _, tc := range []struct {
		x, y    int
		r, g, b int
	}{{6, 4, 220, 30, 30}, {40, 4, 30, 200, 40}, {6, 28, 30, 40, 210}, {40, 28, 240, 240, 240}} {
		p := rgb[(tc.y*48+tc.x)*3:]
		for c, want := range []int{tc.r, tc.g, tc.b} {
			if d := int(p[c]) - want; d < -25 || d > 25 {
				t.Errorf("pixel (%d,%d) = %v, want about %d,%d,%d", tc.x, tc.y, p[:3], tc.r, tc.g, tc.b)
				break
			}
		}
	}
}

func TestExt(t *testing.T) {
	for format, want := range map[string]string{"jpeg": ".jpg", "png": ".png", "gif": ".gif", "webp": ".webp",
		"bmp": ".bmp", "tiff": ".tif", "html": "", "": ""} {
		if got := Ext(format); got != want {
			t.Errorf("Ext(%q) = %q, want %q", format, got, want)
		}
	}
}

// FuzzInspect: whatever the bytes, Inspect returns either a sane Meta or an
// error with one of the documented causes, and never panics.
func FuzzInspect(f *testing.F) {
	f.Add(encode(f, pngEnc, gradient(9, 7)))
	f.Add(animatedGIF(f, 3))
	f.Add(testdata(f, "cmyk.jpg"))
	f.Add(testdata(f, "jpeg/420_progressive.jpg"))
	f.Add(testdata(f, "lossy.webp"))
	f.Add(encode(f, bmpEnc, gradient(5, 3)))
	f.Add(encode(f, tiffEnc, gradient(5, 3)))
	f.Add(pngHeaderOnly(70000, 70000))
	causes := map[string]bool{CauseEmpty: true, CauseHTML: true, CauseNotAnImage: true, CauseTruncated: true,
		CauseCorrupt: true, CauseTooManyPixels: true, CauseTooSmall: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Inspect(data, Limits{MaxPixels: 1 << 20})
		if err != nil {
			if !causes[errkind.Cause(err)] || errkind.KindOf(err) != errkind.KindPermanent {
				t.Fatalf("undocumented failure %q (%v): %v", errkind.Cause(err), errkind.KindOf(err), err)
			}
			return
		}
		if m.Width <= 0 || m.Height <= 0 || int64(m.Width)*int64(m.Height) > 1<<20 || m.Frames < 1 || Ext(m.Format) == "" {
			t.Fatalf("bad meta %+v", m)
		}
	})
}
