package export

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
)

// testImage encodes a w x h gradient, different for each seed, as png or jpeg.
func testImage(t *testing.T, format string, w, h, seed int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8(seed * 37), 255})
		}
	}
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, img)
	case "jpeg":
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
	default:
		t.Fatalf("testImage: format %q", format)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// blobs is an in-memory store: key -> bytes.
type blobs map[string][]byte

func (b blobs) open(key string) (io.ReadCloser, error) {
	data, ok := b[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, os.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// fixture is a set of rows and the store their images are in.
type fixture struct {
	rows  []catalog.ExportRow
	store blobs
}

// keptRow adds a kept image of the given class and format and returns its row.
func (f *fixture) keptRow(t *testing.T, class, format string, seed int) catalog.ExportRow {
	t.Helper()
	w, h := 40+seed, 30+2*seed
	data := testImage(t, format, w, h, seed)
	sha := sha256Hex(data)
	ext := map[string]string{"png": ".png", "jpeg": ".jpg"}[format]
	r := catalog.ExportRow{
		Status: catalog.StatusKept, SHA256: sha, Class: class, Engine: "bing", Query: class + " photo",
		Rank: seed, URL: fmt.Sprintf("https://img.example/%d%s", seed, ext), PageURL: fmt.Sprintf("https://page.example/%d?a=1&b=<2>", seed),
		Title: fmt.Sprintf("Photo %d of a %s", seed, class), License: "CC BY-SA 4.0", Author: "Ann Author",
		HTTPStatus: 200, Key: "images/" + class + "/" + sha + ext, Format: format, Width: w, Height: h,
		Bytes: int64(len(data)), PHash: fmt.Sprintf("%016x", uint64(seed)*0x9e3779b97f4a7c15),
		FetchedAt: fmt.Sprintf("2026-03-0%dT10:11:12.123456789Z", 1+seed%9),
	}
	if f.store == nil {
		f.store = blobs{}
	}
	f.store[r.Key] = data
	f.rows = append(f.rows, r)
	return r
}

func (f *fixture) add(r catalog.ExportRow) { f.rows = append(f.rows, r) }

func (f *fixture) iter() Rows { return sliceRows(f.rows) }

func sliceRows(rows []catalog.ExportRow) Rows {
	return func(yield func(catalog.ExportRow) error) error {
		for _, r := range rows {
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	}
}

// member is one file read back from a tar shard.
type member struct {
	name string
	data []byte
}

// readTar reads a shard with archive/tar alone, independently of the writer.
func readTar(t *testing.T, path string) []member {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ms []member
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return ms
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h.Typeflag != tar.TypeReg {
			t.Fatalf("%s: member %s is not a regular file (type %c)", path, h.Name, h.Typeflag)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("%s: %s: %v", path, h.Name, err)
		}
		ms = append(ms, member{h.Name, data})
	}
}
