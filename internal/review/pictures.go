package review

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/store"
)

// Picture sizes, the longest side in pixels: twice what the page shows, for
// high-density screens.
const (
	thumbSide = 400
	largeSide = 1600
)

// maxPictureBytes bounds what is read to draw one picture; gather's own
// limit is far below it.
const maxPictureBytes = 256 << 20

// reference is one reference image the page may show.
type reference struct {
	Name string // as scour.yaml gives it, for the page
	rel  string // under the project directory; "" when refused
	Why  string // why it is not shown
}

// resolveReferences turns each class's reference paths into paths relative
// to the project directory. Those that lead outside it are kept, with the
// reason, so the page can say why they are missing; the symbolic-link check
// happens on every read, through the os.Root.
func (s *Server) resolveReferences(dir string) map[string][]reference {
	out := map[string][]reference{}
	for _, c := range s.o.Classes {
		for _, p := range c.References {
			r := reference{Name: p}
			rel, err := p, error(nil)
			if filepath.IsAbs(p) {
				rel, err = filepath.Rel(dir, p)
			}
			if err == nil && filepath.IsLocal(rel) {
				r.rel = filepath.Clean(rel)
			} else {
				r.Why = "outside the project directory"
				progress.Warn(s.events, stage, fmt.Sprintf("class %q: reference image %s is outside the project directory %s; the review page does not show it", c.Name, p, dir))
			}
			out[c.Name] = append(out[c.Name], r)
		}
	}
	return out
}

// readReference reads a reference image through the project's os.Root,
// which refuses ".." and symbolic links that lead out of it.
func (s *Server) readReference(r reference) ([]byte, error) {
	if r.rel == "" {
		return nil, fmt.Errorf("reference image %s: %s", r.Name, r.Why)
	}
	f, err := s.root.Open(r.rel)
	if err != nil {
		return nil, fmt.Errorf("reference image %s: %w", r.Name, err)
	}
	defer f.Close()
	return readLimited(f, r.Name)
}

// readImage reads an image's bytes from the store. The key comes from the
// catalog, never from the request, and is checked all the same.
func (s *Server) readImage(ctx context.Context, key string) ([]byte, error) {
	if err := store.ValidKey(key); err != nil {
		return nil, err
	}
	return store.ReadAll(ctx, s.o.Store, key, maxPictureBytes)
}

func readLimited(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxPictureBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > maxPictureBytes {
		return nil, fmt.Errorf("%s is over %d MB", name, maxPictureBytes>>20)
	}
	return data, nil
}

// render decodes data under the same guards as downloads and re-encodes it
// as a JPEG whose longest side is at most side. Sending only pixels scour
// drew itself means that no file, whatever its bytes, reaches the browser
// as anything but a JPEG.
func (s *Server) render(ctx context.Context, data []byte, side int) ([]byte, error) {
	select {
	case s.thumbs <- struct{}{}:
		defer func() { <-s.thumbs }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	img, _, err := imaging.Decode(data, imaging.Limits{})
	if err != nil {
		return nil, err
	}
	return imaging.Thumbnail(img, side)
}
