package report

import (
	"bytes"
	"encoding/base64"
	"errors"
	"html/template"
	"image"

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
	b, err := imaging.Thumbnail(img, ThumbSize)
	if err != nil {
		return "", err
	}
	return encodeURI("image/jpeg", b), nil
}

// encodeURI builds the data: URI. The bytes are base64 of data this package
// checked to be an image, so marking the result safe for src is sound.
func encodeURI(mime string, data []byte) template.URL {
	return template.URL("data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(data))
}
