package export

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scour-dev/scour/internal/atomicfile"
	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/imaging"
)

// SampleMeta is the {key}.json member of a WebDataset sample: the image's
// set, label and provenance.
type SampleMeta struct {
	Split   string `json:"split"` // train, val or test, as the recorded split says
	Class   string `json:"class"`
	SHA256  string `json:"sha256"`
	URL     string `json:"url"`
	PageURL string `json:"page_url"`
	Title   string `json:"title"`
	License string `json:"license"`
	Author  string `json:"author"`
	Width   int    `json:"width"`
	Height  int    `json:"height"`
	Format  string `json:"format"`
	// Clean's doubt about the image, absent where that view was not judged.
	OffTopic          *float64 `json:"offtopic_score,omitempty"`
	OffTopicThreshold *float64 `json:"offtopic_threshold,omitempty"`
	OffTopicMethod    string   `json:"offtopic_method,omitempty"`
	Misfiled          *float64 `json:"misfiled_score,omitempty"`
	MisfiledThreshold *float64 `json:"misfiled_threshold,omitempty"`
	SuggestedClass    string   `json:"suggested_class,omitempty"`
}

// WebDatasetSummary says what WriteWebDataset wrote.
type WebDatasetSummary struct {
	Shards     []string       `json:"shards"`     // paths: train's, then val's, then test's, each in order
	Samples    int            `json:"samples"`    // kept images written
	Splits     map[string]int `json:"splits"`     // samples per set
	Unsplit    int            `json:"unsplit"`    // kept images the recorded split does not place, left out
	Duplicates int            `json:"duplicates"` // kept rows whose bytes were already written
	Bytes      int64          `json:"bytes"`      // image bytes written
}

// SplitOf returns the set (train, val, test) the recorded split put the
// image with this sha256 in, or "" when it placed it nowhere.
type SplitOf func(sha256 string) string

// splitOrder is the order sets are listed in.
var splitOrder = []string{"train", "val", "test"}

// shardPrefixes are the names shards have had: one series per set, and
// "shard" before exports were split, so that a new export removes those too.
var shardPrefixes = append([]string{"shard"}, splitOrder...)

// shardName is the file name of shard i of a set, the pattern WebDataset
// loaders are given as "train-{000000..000041}.tar".
func shardName(set string, i int) string { return fmt.Sprintf("%s-%06d.tar", set, i) }

// WriteWebDataset writes the kept images among rows as WebDataset shards, one
// series per set of the recorded split: dir/train-000000.tar,
// train-000001.tar, ..., val-000000.tar, ..., test-000000.tar, ..., perShard
// samples each (the last of a set may hold fewer). A sample is three adjacent
// members named by the image's sha256, which has no dot, so WebDataset's key
// (the member name up to its first dot) is the sha256: {sha256}.{ext} with the
// stored bytes (ext from the sniffed format: jpg, png, webp, ...),
// {sha256}.json (SampleMeta, with the set and the class name) and
// {sha256}.cls, the class index as decimal text. The index is the class's
// position in classes: pass the project's class names in scour.yaml order, as
// train numbers them.
//
// Rows that are not kept (quarantined, duplicate, failed, pending) are left
// out, and so is a second kept row with the same bytes, since WebDataset keys
// must be unique. A kept image that splitOf places nowhere (added after the
// split was made) is left out and counted in Unsplit. Each image is checked
// against its sha256 as it is read.
//
// An export replaces an earlier one in dir: its shards and any leftover
// temporary files are removed first, so that old and new samples never mix.
// Each shard is written to a temporary file and renamed when complete, so an
// interrupted export leaves only whole shards.
func WriteWebDataset(ctx context.Context, rows Rows, open Opener, splitOf SplitOf, dir string, perShard int, classes []string) (WebDatasetSummary, error) {
	sum := WebDatasetSummary{Splits: map[string]int{}}
	if perShard < 1 {
		return sum, fmt.Errorf("webdataset: %d samples per shard: want at least 1", perShard)
	}
	classIndex := make(map[string]int, len(classes))
	for i, c := range classes {
		classIndex[c] = i
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sum, fmt.Errorf("webdataset: %w", err)
	}
	if err := removeMatching(dir, isShardFile); err != nil {
		return sum, err
	}

	writers := map[string]*shardWriter{}
	defer func() {
		for _, w := range writers {
			w.abort()
		}
	}()
	var img bytes.Buffer
	err := eachSplitSample(ctx, rows, splitOf, &sum.Duplicates, &sum.Unsplit, func(r catalog.ExportRow, sha [sha256.Size]byte, key, set string) error {
		if !isSetName(set) {
			return fmt.Errorf("image %s is in set %q, not one of %q", key, set, splitOrder)
		}
		ci, ok := classIndex[r.Class]
		if !ok {
			return fmt.Errorf("image %s has class %q, which is not one of %q", r.SHA256, r.Class, classes)
		}
		ext, err := imageExt(r)
		if err != nil {
			return err
		}
		if err := readVerified(&img, open, r.Key, sha); err != nil {
			return err
		}
		meta, err := marshalMeta(r, set)
		if err != nil {
			return err
		}
		mtime := sampleTime(r.FetchedAt)
		members := []struct {
			name string
			data []byte
		}{
			{key + ext, img.Bytes()},
			{key + ".json", meta},
			{key + ".cls", []byte(strconv.Itoa(ci))},
		}
		w := writers[set]
		if w == nil {
			w = &shardWriter{dir: dir, set: set}
			writers[set] = w
		}
		for _, m := range members {
			if err := w.write(m.name, m.data, mtime); err != nil {
				return err
			}
		}
		w.count++
		sum.Samples++
		sum.Splits[set]++
		sum.Bytes += int64(img.Len())
		if w.count == perShard {
			return w.finish()
		}
		return nil
	})
	for _, set := range splitOrder {
		if w := writers[set]; err == nil && w != nil {
			err = w.finish()
		}
	}
	if err != nil {
		return sum, fmt.Errorf("webdataset: %w", err)
	}
	for _, set := range splitOrder {
		if w := writers[set]; w != nil {
			sum.Shards = append(sum.Shards, w.done...)
		}
	}
	return sum, nil
}

func isSetName(set string) bool { return slices.Contains(splitOrder, set) }

// isShardFile matches the names WriteWebDataset writes: shards and their
// temporary files.
func isShardFile(name string) bool {
	base, temp := strings.CutPrefix(name, ".")
	prefix, n, ok := strings.Cut(base, "-")
	if !ok || !slices.Contains(shardPrefixes, prefix) {
		return false
	}
	num, rest, _ := strings.Cut(n, ".")
	if _, err := strconv.Atoi(num); err != nil {
		return false
	}
	if temp {
		return strings.HasPrefix(rest, "tar.tmp-")
	}
	return rest == "tar"
}

// imageExt is the image member's extension, with its dot: from the format
// sniffed at download, else from the store key.
func imageExt(r catalog.ExportRow) (string, error) {
	ext := imaging.Ext(r.Format)
	if ext == "" {
		ext = strings.ToLower(path.Ext(r.Key))
	}
	if len(ext) < 2 {
		return "", fmt.Errorf("image %s: no file extension for format %q, key %q", r.SHA256, r.Format, r.Key)
	}
	return ext, nil
}

// readVerified reads the image stored under key into buf and checks it
// against sha, so a damaged or swapped object in the store never becomes a
// training sample.
func readVerified(buf *bytes.Buffer, open Opener, key string, sha [sha256.Size]byte) error {
	buf.Reset()
	rc, err := open(key)
	if err != nil {
		return fmt.Errorf("opening image %s: %w", key, err)
	}
	_, err = buf.ReadFrom(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("reading image %s: %w", key, err)
	}
	if got := sha256.Sum256(buf.Bytes()); got != sha {
		return fmt.Errorf("image %s holds bytes with sha256 %x, the catalog says %x: the store and the catalog disagree", key, got, sha)
	}
	return nil
}

func marshalMeta(r catalog.ExportRow, set string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// Titles and URLs stay as written rather than as \u003c escapes.
	enc.SetEscapeHTML(false)
	err := enc.Encode(SampleMeta{
		Split: set, Class: r.Class, SHA256: r.SHA256, URL: r.URL, PageURL: r.PageURL, Title: r.Title,
		License: r.License, Author: r.Author, Width: r.Width, Height: r.Height, Format: r.Format,
		OffTopic: r.OffTopic, OffTopicThreshold: r.OffTopicThreshold, OffTopicMethod: r.OffTopicMethod,
		Misfiled: r.Misfiled, MisfiledThreshold: r.MisfiledThreshold, SuggestedClass: r.SuggestedClass,
	})
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), err
}

// sampleTime dates a sample's members by when the image was fetched, so the
// same catalog always exports to the same bytes.
func sampleTime(fetchedAt string) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, fetchedAt); err == nil {
		return t
	}
	return time.Unix(0, 0)
}

// shardWriter writes one set's numbered tar shards, each to a temporary
// file renamed into place by finish.
type shardWriter struct {
	dir   string
	set   string
	done  []string         // finished shard paths
	f     *atomicfile.File // the open shard's temporary file, nil between shards
	tw    *tar.Writer
	count int // samples in the open shard
}

func (w *shardWriter) write(name string, data []byte, mtime time.Time) error {
	if w.f == nil {
		f, err := atomicfile.Create(filepath.Join(w.dir, shardName(w.set, len(w.done))))
		if err != nil {
			return err
		}
		w.f, w.tw, w.count = f, tar.NewWriter(f), 0
	}
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Mode:     0o644,
		Size:     int64(len(data)),
		// With Format unset the writer rounds ModTime to seconds and picks
		// plain USTAR, which every tar reader takes.
		ModTime: mtime,
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	_, err := w.tw.Write(data)
	return err
}

// finish closes and names the open shard, if any.
func (w *shardWriter) finish() error {
	if w.f == nil {
		return nil
	}
	final := filepath.Join(w.dir, shardName(w.set, len(w.done)))
	err := w.tw.Close()
	if err == nil {
		err = w.f.Commit(0o644)
	}
	if err != nil {
		w.abort()
		return fmt.Errorf("%s: %w", final, err)
	}
	w.f, w.tw = nil, nil
	w.done = append(w.done, final)
	return nil
}

// abort drops the open shard's temporary file.
func (w *shardWriter) abort() {
	if w.f == nil {
		return
	}
	w.f.Abort()
	w.f, w.tw = nil, nil
}

// removeMatching removes the files in dir whose names match.
func removeMatching(dir string, match func(name string) bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("webdataset: %w", err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() && match(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("webdataset: %w", err)
			}
		}
	}
	return nil
}
