package export

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/scour-dev/scour/internal/atomicfile"
	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/classname"
)

// ImageFolderSummary says what WriteImageFolder wrote.
type ImageFolderSummary struct {
	Dir        string         `json:"dir"`
	Images     int            `json:"images"`     // kept images written
	Splits     map[string]int `json:"splits"`     // images per set folder: train, validation, test
	Unsplit    int            `json:"unsplit"`    // kept images the recorded split does not place, left out
	Duplicates int            `json:"duplicates"` // kept rows whose bytes were already written
	Bytes      int64          `json:"bytes"`      // image bytes written
	// Renamed lists the classes whose folder is not their name as written
	// ("name" -> folder), where the system or the name does not allow it.
	Renamed []string `json:"renamed_classes,omitempty"`
}

// imageFolderSets maps the recorded split's sets to the folder names
// Hugging Face's imagefolder builder takes as split names.
var imageFolderSets = map[string]string{"train": "train", "val": "validation", "test": "test"}

// imageFolderOrder is the set folders in the order they are listed.
var imageFolderOrder = []string{"train", "validation", "test"}

// imageFolderMarker marks a folder as written by WriteImageFolder, so that
// a new export may replace its set folders. Hidden, so loaders skip it.
const imageFolderMarker = ".scour-imagefolder"

// FolderMeta is one line of a set folder's metadata.jsonl: the image's
// path relative to that folder, its class name and its provenance. Every
// line has every key (null where clean did not judge), so a loader infers
// the same columns from any line. There is no label column: the class
// folder is the label.
type FolderMeta struct {
	FileName          string   `json:"file_name"`
	Class             string   `json:"class"`
	SHA256            string   `json:"sha256"`
	URL               string   `json:"url"`
	PageURL           string   `json:"page_url"`
	Title             string   `json:"title"`
	License           string   `json:"license"`
	Author            string   `json:"author"`
	Engine            string   `json:"engine"`
	Query             string   `json:"query"`
	Width             int      `json:"width"`
	Height            int      `json:"height"`
	OffTopic          *float64 `json:"offtopic_score"`
	OffTopicThreshold *float64 `json:"offtopic_threshold"`
	OffTopicMethod    string   `json:"offtopic_method"`
	Misfiled          *float64 `json:"misfiled_score"`
	MisfiledThreshold *float64 `json:"misfiled_threshold"`
	SuggestedClass    string   `json:"suggested_class"`
}

// WriteImageFolder writes the kept images among rows in the layout of
// Hugging Face's imagefolder builder: dir/train/<class>/<sha256>.<ext>,
// dir/validation/..., dir/test/..., by the recorded split (splitOf), with
// one metadata.jsonl per set folder whose file_name is relative to it
// ("<class>/<sha256>.<ext>"). Class folders are the class names as written
// where the system allows it (classname.ExportFolder), else their folder
// form; the class column always holds the name as written.
// Kept images splitOf places nowhere are left out and counted in Unsplit; a
// second kept row with the same bytes is left out too.
//
// Everything is written under a hidden staging folder in dir first, each
// file through atomicfile, and each set folder then replaces the earlier
// export's whole, so a failed or interrupted export leaves the earlier one
// in place. dir must be new, empty, or an earlier export (it then holds a
// hidden marker): scour never deletes folders it did not write.
func WriteImageFolder(ctx context.Context, rows Rows, open Opener, splitOf SplitOf, dir string) (ImageFolderSummary, error) {
	sum := ImageFolderSummary{Dir: dir, Splits: map[string]int{}}
	if err := claimFolder(dir); err != nil {
		return sum, err
	}
	stage, err := os.MkdirTemp(dir, ".staging-")
	if err != nil {
		return sum, fmt.Errorf("imagefolder: %w", err)
	}
	defer os.RemoveAll(stage)

	metas := map[string]*metaFile{}
	defer func() {
		for _, m := range metas {
			m.f.Abort()
		}
	}()
	var img bytes.Buffer
	classFolders := classname.NewExporter()
	err = eachSplitSample(ctx, rows, splitOf, &sum.Duplicates, &sum.Unsplit, func(r catalog.ExportRow, sha [sha256.Size]byte, key, set string) error {
		folder, ok := imageFolderSets[set]
		if !ok {
			return fmt.Errorf("image %s is in set %q, not one of train, val, test", key, set)
		}
		classFolder, err := classFolders.Folder(r.Class)
		if err != nil {
			return err
		}
		ext, err := imageExt(r)
		if err != nil {
			return err
		}
		if err := readVerified(&img, open, r.Key, sha); err != nil {
			return err
		}
		name := classFolder + "/" + key + ext
		if err := atomicfile.WriteFile(filepath.Join(stage, folder, filepath.FromSlash(name)), img.Bytes()); err != nil {
			return err
		}
		m := metas[folder]
		if m == nil {
			f, err := atomicfile.Create(filepath.Join(stage, folder, "metadata.jsonl"))
			if err != nil {
				return err
			}
			m = &metaFile{f: f, w: bufio.NewWriter(f)}
			m.enc = json.NewEncoder(m.w)
			m.enc.SetEscapeHTML(false)
			metas[folder] = m
		}
		if err := m.enc.Encode(FolderMeta{
			FileName: name, Class: r.Class, SHA256: key, URL: r.URL, PageURL: r.PageURL, Title: r.Title,
			License: r.License, Author: r.Author, Engine: r.Engine, Query: r.Query, Width: r.Width, Height: r.Height,
			OffTopic: r.OffTopic, OffTopicThreshold: r.OffTopicThreshold, OffTopicMethod: r.OffTopicMethod,
			Misfiled: r.Misfiled, MisfiledThreshold: r.MisfiledThreshold, SuggestedClass: r.SuggestedClass,
		}); err != nil {
			return err
		}
		sum.Images++
		sum.Splits[folder]++
		sum.Bytes += int64(img.Len())
		return nil
	})
	for _, folder := range imageFolderOrder {
		if m := metas[folder]; err == nil && m != nil {
			if err = m.w.Flush(); err == nil {
				err = m.f.Commit(0o644)
			}
		}
	}
	if err == nil {
		err = swapSets(dir, stage)
	}
	sum.Renamed = classFolders.Renamed()
	if err != nil {
		return sum, fmt.Errorf("imagefolder: %w", err)
	}
	return sum, nil
}

type metaFile struct {
	f   *atomicfile.File
	w   *bufio.Writer
	enc *json.Encoder
}

// claimFolder makes dir an export folder: it creates it, marks an empty one,
// and refuses one that holds anything else, since an export replaces the
// set folders in it.
func claimFolder(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("imagefolder: %w", err)
	}
	marker := filepath.Join(dir, imageFolderMarker)
	if _, err := os.Stat(marker); err == nil {
		// A killed export leaves its staging folder behind.
		old, _ := filepath.Glob(filepath.Join(dir, ".staging-*"))
		for _, o := range old {
			if err := os.RemoveAll(o); err != nil {
				return fmt.Errorf("imagefolder: %w", err)
			}
		}
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("imagefolder: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("imagefolder: %s is not empty and was not written by scour export (it has no %s): pass a new or empty folder", dir, imageFolderMarker)
	}
	if err := atomicfile.WriteFile(marker, []byte("written by scour export --format imagefolder; its set folders are replaced by the next export\n")); err != nil {
		return fmt.Errorf("imagefolder: %w", err)
	}
	return nil
}

// swapSets moves each set folder of the staging folder into dir, moving the
// earlier export's folder of that name aside (into stage, which is removed
// afterwards); a set with no images this time loses its old folder too.
func swapSets(dir, stage string) error {
	for _, folder := range imageFolderOrder {
		final := filepath.Join(dir, folder)
		if err := os.Rename(final, filepath.Join(stage, "old-"+folder)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.Rename(filepath.Join(stage, folder), final); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}
