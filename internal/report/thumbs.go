package report

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"image"
	"image/jpeg"

	"github.com/scour-dev/scour/internal/imaging"
)

// ThumbSize is the longest side, in pixels, of a thumbnail in the page.
// Twice the 96 CSS pixels it is shown at, for high-density screens.
const ThumbSize = 192

// dataURI returns pic as a data: URI small enough to embed. JPEG and PNG
// bytes that already fit are embedded as they are (no second lossy pass);
// everything else is decoded with the same guards as downloads, scaled to
// fit ThumbSize and encoded as JPEG.
func dataURI(pic Picture) (template.URL, error) {
	img := pic.Image
	if pic.Encoded != nil {
		format := imaging.Sniff(pic.Encoded)
		if format == "jpeg" || format == "png" {
			if cfg, _, err := image.DecodeConfig(bytes.NewReader(pic.Encoded)); err == nil &&
				cfg.Width <= ThumbSize && cfg.Height <= ThumbSize {
				return encodeURI("image/"+format, pic.Encoded), nil
			}
		}
		var err error
		if img, _, err = imaging.Decode(pic.Encoded, imaging.Limits{}); err != nil {
			return "", err
		}
	}
	if img == nil {
		return "", errors.New("no image: set Picture.Encoded or Picture.Image")
	}
	b := img.Bounds()
	if b.Empty() {
		return "", fmt.Errorf("empty image %v", b)
	}
	w, h := b.Dx(), b.Dy()
	if w > ThumbSize || h > ThumbSize {
		if w >= h {
			w, h = ThumbSize, max(1, h*ThumbSize/w)
		} else {
			w, h = max(1, w*ThumbSize/h), ThumbSize
		}
	}
	rgb := imaging.ResizeRGB(img, w, h)
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range w * h {
		copy(out.Pix[4*i:4*i+3], rgb[3*i:3*i+3])
		out.Pix[4*i+3] = 0xFF
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, out, &jpeg.Options{Quality: 85}); err != nil {
		return "", err
	}
	return encodeURI("image/jpeg", buf.Bytes()), nil
}

// encodeURI builds the data: URI. The bytes are base64 of data this package
// checked to be an image, so marking the result safe for src is sound.
func encodeURI(mime string, data []byte) template.URL {
	return template.URL("data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(data))
}
