// Package atomicfile replaces files whole: a reader, a kill or a power cut
// sees the old file or the new one, never half of one. Reports, models,
// checkpoints, exports and shard catalogs are all written through it, so
// they share one durability rule: data fsynced before the rename, the
// directory fsynced after it.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// File is a new version of a file being written. Nothing at its final path
// changes until Commit; Abort (or an error from Commit) leaves no trace.
type File struct {
	*os.File
	final string
	done  bool
}

// Create starts a new version of path, creating path's directory if needed.
// The temporary file is hidden beside path, on the same file system, so the
// final rename is atomic.
func Create(path string) (*File, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &File{File: f, final: path}, nil
}

// Commit makes the written data durable and gives it the final name, with
// permissions perm.
func (f *File) Commit(perm os.FileMode) error {
	if f.done {
		return fmt.Errorf("atomicfile: %s: already finished", f.final)
	}
	f.done = true
	err := f.Chmod(perm)
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.File.Close())
	if err == nil {
		err = os.Rename(f.Name(), f.final)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	// The rename is only durable once the directory entry is.
	if d, derr := os.Open(filepath.Dir(f.final)); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Abort discards the new version; the file at the final path is untouched.
// It is a no-op after Commit, so it can be deferred.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	os.Remove(f.Name())
}

// Write replaces path with what fill writes, with permissions 0644.
func Write(path string, fill func(io.Writer) error) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := fill(f); err != nil {
		return err
	}
	return f.Commit(0o644)
}

// WriteFile replaces path with data, with permissions 0644.
func WriteFile(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
