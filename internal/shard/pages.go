package shard

// Incremental uploads. A shard's catalog goes to the store as a manifest
// and content-addressed segments of pages:
//
//	catalogs/shard-0003-of-0016.manifest        the page size, the page count, the segments in order
//	catalogs/shard-0003-of-0016.pages/<sha256>  a segment: some pages of one snapshot
//
// The first upload is one segment with every page; each later one holds
// only the pages whose bytes changed since the upload before (a shard of a
// million URLs changes a few thousand pages a minute, not its whole file),
// and the catalog is rebuilt by writing the segments' pages in order. When
// the segments add up to more than twice the catalog, the next upload is a
// whole one again and the old segments are deleted.
//
// A kill at any point leaves a consistent catalog in the store: a segment
// is written before the manifest that names it, the manifest is one atomic
// Put, and the local record of what was uploaded (<catalog>.uploaded) is
// updated only after the manifest. A segment orphaned by a kill is deleted
// by the next whole upload. If the local record and the store disagree
// (another pod uploaded, or the record is lost), the upload is a whole one.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/scour-dev/scour/internal/atomicfile"
	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/store"
)

type manifest struct {
	Format   int      `json:"format"`
	PageSize int      `json:"page_size"`
	Pages    int64    `json:"pages"`
	Segments []string `json:"segments"`      // sha256 of each, applied in order
	Bytes    int64    `json:"segment_bytes"` // their total size
}

const (
	manifestFormat = 1
	segmentMagic   = "SCOURSG1"
	stateMagic     = "SCOURUP1"
)

func manifestKey(name string) string { return prefix + name + ".manifest" }
func segmentDir(name string) string  { return prefix + name + ".pages/" }

// pageHash identifies a page's content; 128 bits of SHA-256 make a missed
// change (two different pages with one hash) practically impossible.
type pageHash [16]byte

// uploadState is what the last upload from this machine put in the store.
type uploadState struct {
	manifest string // sha256 of the manifest's bytes
	pageSize int
	hashes   []pageHash
}

// UploadStats says what one upload sent.
type UploadStats struct {
	Pages   int64 `json:"pages"`   // pages in the catalog
	Changed int64 `json:"changed"` // pages uploaded
	Bytes   int64 `json:"bytes"`   // bytes uploaded, manifest included
	Whole   bool  `json:"whole"`   // a whole upload rather than a delta
}

// Upload copies the shard's catalog into the store, sending only the pages
// that changed since the last upload from this machine. The catalog may be
// in use: the snapshot is one read transaction.
func Upload(ctx context.Context, st store.Store, s Spec, cat *catalog.Catalog) error {
	_, err := UploadPages(ctx, st, s, cat)
	return err
}

// UploadPages is Upload, saying what it sent.
func UploadPages(ctx context.Context, st store.Store, s Spec, cat *catalog.Catalog) (UploadStats, error) {
	var us UploadStats
	snap := cat.Path() + ".upload"
	os.Remove(snap)
	if err := cat.PageSnapshot(ctx, snap); err != nil {
		return us, err
	}
	defer os.Remove(snap)
	f, err := os.Open(snap)
	if err != nil {
		return us, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return us, err
	}
	pageSize, err := readPageSize(f)
	if err != nil {
		return us, fmt.Errorf("snapshot of %s: %w", cat.Path(), err)
	}
	pages := fi.Size() / int64(pageSize)
	us.Pages = pages

	name := s.Name()
	statePath := cat.Path() + ".uploaded"
	prev, _ := readState(statePath) // missing or damaged: upload whole
	cur, curHash, err := getManifest(ctx, st, name)
	if err != nil && !errors.Is(err, store.ErrNotExist) {
		return us, err
	}
	delta := prev != nil && cur != nil && prev.manifest == curHash && prev.pageSize == pageSize &&
		cur.Bytes <= 2*fi.Size() // past that the deltas outweigh a fresh whole copy
	us.Whole = !delta

	segPath := cat.Path() + ".segment"
	seg, err := os.Create(segPath)
	if err != nil {
		return us, err
	}
	defer os.Remove(segPath)
	defer seg.Close()
	sum := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(seg, sum), 1<<20)
	w.WriteString(segmentMagic)
	binary.Write(w, binary.BigEndian, uint32(pageSize))
	hashes := make([]pageHash, pages)
	buf := make([]byte, pageSize)
	r := bufio.NewReaderSize(f, 1<<20)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return us, err
	}
	for p := range pages {
		if _, err := io.ReadFull(r, buf); err != nil {
			return us, fmt.Errorf("reading the snapshot of %s: %w", cat.Path(), err)
		}
		h := sha256.Sum256(buf)
		copy(hashes[p][:], h[:])
		if delta && p < int64(len(prev.hashes)) && prev.hashes[p] == hashes[p] {
			continue
		}
		binary.Write(w, binary.BigEndian, uint32(p+1))
		w.Write(buf)
		us.Changed++
	}
	if err := w.Flush(); err != nil {
		return us, err
	}
	if delta && us.Changed == 0 && pages == cur.Pages {
		return us, nil
	}
	next := manifest{Format: manifestFormat, PageSize: pageSize, Pages: pages}
	if delta {
		next.Segments, next.Bytes = cur.Segments, cur.Bytes
	}
	if us.Changed > 0 {
		size, err := seg.Seek(0, io.SeekCurrent)
		if err != nil {
			return us, err
		}
		if _, err := seg.Seek(0, io.SeekStart); err != nil {
			return us, err
		}
		id := hex.EncodeToString(sum.Sum(nil))
		if err := st.Put(ctx, segmentDir(name)+id, seg, size); err != nil {
			return us, fmt.Errorf("uploading a segment of %s: %w", name, err)
		}
		next.Segments = append(slices.Clip(next.Segments), id)
		next.Bytes += size
		us.Bytes += size
	}
	mb, _ := json.Marshal(next)
	if err := st.Put(ctx, manifestKey(name), bytes.NewReader(mb), int64(len(mb))); err != nil {
		return us, fmt.Errorf("uploading the manifest of %s: %w", name, err)
	}
	us.Bytes += int64(len(mb))
	mh := sha256.Sum256(mb)
	if err := writeState(statePath, uploadState{hex.EncodeToString(mh[:]), pageSize, hashes}); err != nil {
		return us, err
	}
	if !delta {
		// A catalog uploaded whole by an older scour, and the segments
		// the previous manifest (or a killed upload) left.
		if err := st.Delete(ctx, prefix+name+".db"); err != nil && !errors.Is(err, store.ErrNotExist) {
			return us, err
		}
		if err := dropSegments(ctx, st, name, next.Segments); err != nil {
			return us, err
		}
	}
	return us, nil
}

// dropSegments deletes the shard's segments that keep does not name.
func dropSegments(ctx context.Context, st store.Store, name string, keep []string) error {
	var stale []string
	err := st.List(ctx, segmentDir(name), func(i store.Info) error {
		if !slices.Contains(keep, strings.TrimPrefix(i.Key, segmentDir(name))) {
			stale = append(stale, i.Key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range stale {
		if err := st.Delete(ctx, k); err != nil && !errors.Is(err, store.ErrNotExist) {
			return err
		}
	}
	return nil
}

// readPageSize reads the page size from a SQLite file's header.
func readPageSize(f *os.File) (int, error) {
	var hdr [18]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return 0, fmt.Errorf("not a SQLite file: %w", err)
	}
	if string(hdr[:15]) != "SQLite format 3" {
		return 0, errors.New("not a SQLite file")
	}
	ps := int(binary.BigEndian.Uint16(hdr[16:18]))
	if ps == 1 {
		ps = 65536
	}
	if ps < 512 || ps&(ps-1) != 0 {
		return 0, fmt.Errorf("page size %d in the header is damaged", ps)
	}
	return ps, nil
}

func getManifest(ctx context.Context, st store.Store, name string) (*manifest, string, error) {
	r, err := st.Get(ctx, manifestKey(name))
	if err != nil {
		return nil, "", err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, "", err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil || m.Format != manifestFormat || m.PageSize < 512 {
		return nil, "", fmt.Errorf("%s in %s is damaged or from a newer scour (%v): delete it and rerun the shard, which uploads its catalog whole", manifestKey(name), st, err)
	}
	h := sha256.Sum256(b)
	return &m, hex.EncodeToString(h[:]), nil
}

// restore rebuilds the shard catalog name from the store into local. It
// returns store.ErrNotExist (wrapped) when the store has none. With
// statePath set it also records what the store holds, so that the next
// upload from here is a delta.
func restore(ctx context.Context, st store.Store, name, local, statePath string) error {
	m, mh, err := getManifest(ctx, st, name)
	if errors.Is(err, store.ErrNotExist) {
		// A catalog uploaded whole by an older scour.
		r, gerr := st.Get(ctx, prefix+name+".db")
		if gerr != nil {
			return gerr
		}
		defer r.Close()
		return writeFile(local, r)
	}
	if err != nil {
		return err
	}
	tmp := local + ".restore"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	defer f.Close()
	if err := f.Truncate(m.Pages * int64(m.PageSize)); err != nil {
		return err
	}
	buf := make([]byte, m.PageSize)
	for _, id := range m.Segments {
		if err := applySegment(ctx, st, segmentDir(name)+id, m, f, buf); err != nil {
			return fmt.Errorf("rebuilding %s from the store: %w", name, err)
		}
	}
	if statePath != "" {
		s := uploadState{manifest: mh, pageSize: m.PageSize, hashes: make([]pageHash, m.Pages)}
		for p := range m.Pages {
			if _, err := f.ReadAt(buf, p*int64(m.PageSize)); err != nil {
				return err
			}
			h := sha256.Sum256(buf)
			copy(s.hashes[p][:], h[:])
		}
		if err := writeState(statePath, s); err != nil {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, local)
}

func applySegment(ctx context.Context, st store.Store, key string, m *manifest, f *os.File, buf []byte) error {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	r := bufio.NewReaderSize(rc, 1<<20)
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || string(hdr[:8]) != segmentMagic || int(binary.BigEndian.Uint32(hdr[8:])) != m.PageSize {
		return fmt.Errorf("segment %s is damaged", key)
	}
	var pg [4]byte
	for {
		if _, err := io.ReadFull(r, pg[:]); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("segment %s: %w", key, err)
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("segment %s is cut short: %w", key, err)
		}
		p := int64(binary.BigEndian.Uint32(pg[:])) - 1
		if p >= m.Pages {
			continue // the catalog has shrunk since this segment
		}
		if _, err := f.WriteAt(buf, p*int64(m.PageSize)); err != nil {
			return err
		}
	}
}

func readState(path string) (*uploadState, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 8+64+4 || string(b[:8]) != stateMagic || (len(b)-76)%16 != 0 {
		return nil, fmt.Errorf("%s is damaged", path)
	}
	s := &uploadState{manifest: string(b[8:72]), pageSize: int(binary.BigEndian.Uint32(b[72:76]))}
	s.hashes = make([]pageHash, (len(b)-76)/16)
	for i := range s.hashes {
		copy(s.hashes[i][:], b[76+16*i:])
	}
	return s, nil
}

func writeState(path string, s uploadState) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		bw.WriteString(stateMagic)
		bw.WriteString(s.manifest)
		binary.Write(bw, binary.BigEndian, uint32(s.pageSize))
		for _, h := range s.hashes {
			bw.Write(h[:])
		}
		return bw.Flush()
	})
}
