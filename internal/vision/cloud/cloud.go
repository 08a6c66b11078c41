// Package cloud holds labelers backed by paid image-recognition APIs: AWS
// Rekognition's DetectLabels and Google Cloud Vision's LABEL_DETECTION.
// Both implement vision.Labeler and vision.BytesLabeler; they give labels
// and no embeddings, so the clean stage judges off-topic images with the
// "labels" method when it uses them.
//
// Each image costs money: EstimateCost says how much before a run.
package cloud

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/imaging"
)

// Pricer is implemented by labelers that cost money per image.
type Pricer interface {
	// EstimateCost is the list price in US dollars of labelling n images,
	// without free tiers or volume discounts.
	EstimateCost(n int) float64
}

var errClosed = errkind.Fatal(errors.New("cloud: labeler is closed"))

// upload returns data in a form an API accepts: unchanged when its format
// is one of accept and it is at most maxBytes long, otherwise decoded and
// re-encoded as JPEG (quality 90), shrunk until it fits. Bytes that do not
// decode give a Permanent error: no API will make sense of them either.
func upload(data []byte, accept []string, maxBytes int) ([]byte, error) {
	format := imaging.Sniff(data)
	for _, f := range accept {
		if f == format && len(data) <= maxBytes {
			return data, nil
		}
	}
	img, _, err := imaging.Decode(data, imaging.Limits{})
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	return encodeUnder(img, maxBytes)
}

// encodeUnder encodes img as JPEG, scaling it down until the file is at
// most maxBytes.
func encodeUnder(img image.Image, maxBytes int) ([]byte, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	for {
		var buf bytes.Buffer
		var src image.Image = img
		if w != b.Dx() || h != b.Dy() {
			src = imaging.ResizeRGBA(img, w, h)
		}
		if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90}); err != nil {
			return nil, errkind.Permanent(fmt.Errorf("cloud: encoding JPEG: %w", err))
		}
		if buf.Len() <= maxBytes {
			return buf.Bytes(), nil
		}
		if w <= 16 || h <= 16 {
			return nil, errkind.Permanent(fmt.Errorf("cloud: cannot fit a %dx%d image in %d bytes", b.Dx(), b.Dy(), maxBytes))
		}
		// JPEG size grows about with the pixel count: aim 10% under.
		f := math.Sqrt(0.9 * float64(maxBytes) / float64(buf.Len()))
		w, h = max(1, int(float64(w)*f)), max(1, int(float64(h)*f))
	}
}

// encodeImages turns decoded images into JPEG files for a bytes API; an
// image that cannot be encoded gets its error in errs.
func encodeImages(imgs []image.Image, maxBytes int) (data [][]byte, errs []error) {
	data, errs = make([][]byte, len(imgs)), make([]error, len(imgs))
	for i, img := range imgs {
		if img == nil || img.Bounds().Empty() {
			errs[i] = errkind.Permanent(fmt.Errorf("cloud: image %d is empty", i))
			continue
		}
		data[i], errs[i] = encodeUnder(img, maxBytes)
	}
	return data, errs
}
