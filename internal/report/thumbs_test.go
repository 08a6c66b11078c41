package report

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

func gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	return img
}

func encode(t *testing.T, format string, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, img)
	case "jpeg":
		err = jpeg.Encode(&buf, img, nil)
	case "gif":
		err = gif.Encode(&buf, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDataURI(t *testing.T) {
	smallJPEG := encode(t, "jpeg", gradient(64, 48))
	smallPNG := encode(t, "png", gradient(30, 30))
	tests := []struct {
		name     string
		pic      Picture
		mime     string
		w, h     int
		verbatim []byte // when set, the payload must be these bytes
		err      string
	}{
		{name: "small JPEG kept as is", pic: Picture{Encoded: smallJPEG}, mime: "image/jpeg", w: 64, h: 48, verbatim: smallJPEG},
		{name: "small PNG kept as is", pic: Picture{Encoded: smallPNG}, mime: "image/png", w: 30, h: 30, verbatim: smallPNG},
		{name: "large PNG scaled", pic: Picture{Encoded: encode(t, "png", gradient(600, 300))}, mime: "image/jpeg", w: 192, h: 96},
		{name: "GIF re-encoded", pic: Picture{Encoded: encode(t, "gif", gradient(50, 40))}, mime: "image/jpeg", w: 50, h: 40},
		{name: "tall image.Image scaled", pic: Picture{Image: gradient(100, 400)}, mime: "image/jpeg", w: 48, h: 192},
		{name: "bytes win over image", pic: Picture{Encoded: smallPNG, Image: gradient(500, 500)}, mime: "image/png", w: 30, h: 30},
		{name: "garbage", pic: Picture{Encoded: []byte("<html>not found</html>")}, err: "markup"},
		{name: "nothing", pic: Picture{}, err: "no image"},
		{name: "empty image", pic: Picture{Image: image.NewRGBA(image.Rect(0, 0, 0, 0))}, err: "empty image"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			uri, err := dataURI(tc.pic)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			prefix := "data:" + tc.mime + ";base64,"
			payload, ok := strings.CutPrefix(string(uri), prefix)
			if !ok {
				t.Fatalf("URI starts %.40q, want %q", uri, prefix)
			}
			data, err := base64.StdEncoding.DecodeString(payload)
			if err != nil {
				t.Fatal(err)
			}
			if tc.verbatim != nil && !bytes.Equal(data, tc.verbatim) {
				t.Error("small image was re-encoded")
			}
			cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Width != tc.w || cfg.Height != tc.h {
				t.Errorf("thumbnail %dx%d, want %dx%d", cfg.Width, cfg.Height, tc.w, tc.h)
			}
		})
	}
}
