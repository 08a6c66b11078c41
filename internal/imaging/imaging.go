// Package imaging holds pure functions on image bytes and pixels: content
// sniffing, guarded decoding (decompression bombs, truncation), perceptual
// hashing and the PIL-compatible resize that model preprocessing relies on.
// It knows nothing about projects, catalogs or stores.
package imaging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/png"
	"io"
	"strings"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/imaging/internal/ljpeg"
)

// Causes attached (errkind.WithCause) to every error from Inspect and Decode;
// all such errors are errkind.Permanent: the same bytes will always fail.
const (
	CauseEmpty         = "empty"           // zero bytes
	CauseHTML          = "html"            // HTML/XML/SVG text served where an image was expected
	CauseNotAnImage    = "not-an-image"    // unknown magic bytes
	CauseTruncated     = "truncated"       // data ends before the image does
	CauseCorrupt       = "corrupt"         // any other decode failure
	CauseTooManyPixels = "too-many-pixels" // header dimensions exceed Limits.MaxPixels
	CauseTooSmall      = "too-small"       // smaller than Limits.MinWidth/MinHeight
)

// DefaultMaxPixels is the bomb guard used when Limits.MaxPixels is 0: 64
// megapixels is larger than any camera photo a search returns, and decoding
// it as RGBA costs 256 MB, which is as much as one worker should ever hold.
const DefaultMaxPixels = 64_000_000

// Limits bounds what Inspect and Decode accept.
type Limits struct {
	MaxPixels           int64 // reject when header width*height exceeds it, before decoding; 0 = DefaultMaxPixels
	MinWidth, MinHeight int   // reject smaller images with cause "too-small"; 0 = no minimum
}

// Meta describes a decoded image.
type Meta struct {
	Format        string // "jpeg", "png", "gif", "webp", "bmp", "tiff"
	Width, Height int
	PHash         uint64 // 64-bit DCT perceptual hash of the decoded image
	Frames        int    // >1 for animated GIFs (the first frame is what we use)
}

// Sniff names the format of data from its first bytes: one of the formats
// Decode supports, "html" for markup (HTML, XML, SVG), or "" when unknown.
// Servers mislabel Content-Type and URLs lie about extensions, so the bytes
// are the only thing we trust.
func Sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return "jpeg"
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return "gif"
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return "webp"
	case isBMP(head):
		return "bmp"
	case bytes.HasPrefix(head, []byte("II*\x00")), bytes.HasPrefix(head, []byte("MM\x00*")):
		return "tiff"
	}
	if isMarkup(head) {
		return "html"
	}
	return ""
}

// isBMP checks the DIB header size after "BM", because two letters alone
// also start plenty of text.
func isBMP(head []byte) bool {
	if len(head) < 18 || head[0] != 'B' || head[1] != 'M' {
		return false
	}
	switch binary.LittleEndian.Uint32(head[14:18]) {
	case 12, 40, 52, 56, 64, 108, 124:
		return true
	}
	return false
}

// isMarkup reports whether head looks like an HTML, XML or SVG document: an
// optional byte-order mark and white space, then '<' and a letter, '!' or
// '?'. That is how error pages, login walls and SVG logos arrive.
func isMarkup(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF"))
	head = bytes.TrimLeft(head, " \t\r\n\f")
	if len(head) < 2 || head[0] != '<' {
		return false
	}
	c := head[1]
	return c == '!' || c == '?' || c == '/' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// Ext returns the usual file extension for a format name from Sniff, or ""
// for an unknown one.
func Ext(format string) string {
	switch format {
	case "jpeg":
		return ".jpg"
	case "png", "gif", "webp", "bmp":
		return "." + format
	case "tiff":
		return ".tif"
	}
	return ""
}

type codec struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

// codecs are called directly rather than through image.Decode so that the
// format we sniffed is the one that decodes, whatever other packages in the
// binary have registered.
var codecs = map[string]codec{
	"jpeg": {ljpeg.DecodeConfig, ljpeg.Decode}, // image/jpeg with libjpeg's IDCT: pixels as PIL decodes them
	"png":  {png.DecodeConfig, png.Decode},
	"gif":  {gif.DecodeConfig, gif.Decode}, // gif.Decode stops after the first frame
	"webp": {webp.DecodeConfig, webp.Decode},
	"bmp":  {bmp.DecodeConfig, bmp.Decode},
	"tiff": {tiff.DecodeConfig, tiff.Decode},
}

// Inspect decodes data fully (which is the only way to find truncation) under
// lim and describes it. Errors are errkind.Permanent with one of the Cause*
// codes.
func Inspect(data []byte, lim Limits) (Meta, error) {
	img, format, err := Decode(data, lim)
	if err != nil {
		return Meta{}, err
	}
	b := img.Bounds()
	m := Meta{Format: format, Width: b.Dx(), Height: b.Dy(), PHash: PHash(img), Frames: 1}
	if format == "gif" {
		m.Frames = gifFrames(data)
	}
	return m, nil
}

// Decode checks data's magic bytes, rejects header dimensions beyond
// lim.MaxPixels before any pixel is allocated, decodes the whole image (the
// first frame of an animation) and applies the minimum size. It returns the
// image as the codec produced it (YCbCr, CMYK, paletted, ...) and the format
// name. Errors are errkind.Permanent with one of the Cause* codes.
func Decode(data []byte, lim Limits) (image.Image, string, error) {
	if len(data) == 0 {
		return nil, "", fail(CauseEmpty, errors.New("empty body: 0 bytes"))
	}
	format := Sniff(data)
	switch format {
	case "":
		return nil, "", fail(CauseNotAnImage, fmt.Errorf("not an image: unknown magic bytes % x", head(data, 8)))
	case "html":
		return nil, "", fail(CauseHTML, fmt.Errorf("got markup instead of an image: %q", head(data, 40)))
	}
	c := codecs[format]
	cfg, err := guard(func() (image.Config, error) { return c.config(bytes.NewReader(data)) })
	if err != nil {
		return nil, "", decodeError(format, "header", data, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, "", fail(CauseCorrupt, fmt.Errorf("corrupt %s: header says %dx%d", format, cfg.Width, cfg.Height))
	}
	limit := lim.MaxPixels
	if limit <= 0 {
		limit = DefaultMaxPixels
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > limit {
		return nil, "", fail(CauseTooManyPixels, fmt.Errorf("%s header says %dx%d = %d pixels, over the limit of %d",
			format, cfg.Width, cfg.Height, px, limit))
	}
	img, err := guard(func() (image.Image, error) { return c.decode(bytes.NewReader(data)) })
	if err != nil {
		return nil, "", decodeError(format, "data", data, err)
	}
	b := img.Bounds()
	if b.Dx() < lim.MinWidth || b.Dy() < lim.MinHeight {
		return nil, "", fail(CauseTooSmall, fmt.Errorf("%s is %dx%d, smaller than the minimum %dx%d",
			format, b.Dx(), b.Dy(), lim.MinWidth, lim.MinHeight))
	}
	return img, format, nil
}

// guard turns a codec's panic into an error: the bytes come from strangers,
// and one hostile file must cost that file only, not the whole run.
func guard[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panicked: %v", r)
		}
	}()
	return f()
}

func fail(cause string, err error) error {
	return errkind.WithCause(errkind.Permanent(err), cause)
}

// decodeError tells truncation from other corruption. The codecs report
// running out of data in their own words, and some wrap the io error with %v
// rather than %w, so the text is checked too.
func decodeError(format, part string, data []byte, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || endsEarly(err.Error()) {
		return fail(CauseTruncated, fmt.Errorf("truncated %s: data ends after %d bytes (%w)", format, len(data), err))
	}
	return fail(CauseCorrupt, fmt.Errorf("corrupt %s %s: %w", format, part, err))
}

// truncationMessages are what the codecs say when the data stops before the
// image does: image/jpeg, image/png, image/gif, x/image/riff (WebP).
var truncationMessages = []string{"EOF", "short Huffman data", "not enough pixel data", "not enough image data", "short chunk"}

func endsEarly(msg string) bool {
	for _, m := range truncationMessages {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

func head(data []byte, n int) []byte {
	if len(data) > n {
		return data[:n]
	}
	return data
}

// gifFrames counts the image descriptors in a GIF by walking its blocks
// without decompressing them: gif.DecodeAll would allocate every frame, which
// for a long animation is a decompression bomb of its own. A stream that ends
// early counts the frames seen so far; the first one has already decoded.
func gifFrames(data []byte) int {
	const header = 13 // "GIF89a", logical screen width, height, flags, background, aspect
	if len(data) < header {
		return 1
	}
	p := header
	if flags := data[10]; flags&0x80 != 0 {
		p += 3 << (flags&7 + 1)
	}
	frames := 0
	// skipSubBlocks returns the position after a chain of length-prefixed
	// sub-blocks ended by a zero length, or -1 if data ends first.
	skipSubBlocks := func(p int) int {
		for p < len(data) {
			n := int(data[p])
			p++
			if n == 0 {
				return p
			}
			p += n
		}
		return -1
	}
	for p >= 0 && p < len(data) {
		switch data[p] {
		case 0x21: // extension: label, then sub-blocks
			p = skipSubBlocks(p + 2)
		case 0x2C: // image descriptor
			if p+10 > len(data) {
				return max(frames, 1)
			}
			frames++
			flags := data[p+9]
			p += 10
			if flags&0x80 != 0 {
				p += 3 << (flags&7 + 1)
			}
			p = skipSubBlocks(p + 1) // +1: LZW minimum code size
		default: // 0x3B trailer, or garbage after the last frame
			return max(frames, 1)
		}
	}
	return max(frames, 1)
}
