// Package store holds image bytes under string keys: a local directory or an
// S3 bucket behind one small interface, so every stage works the same on a
// laptop and on a cluster.
//
// Keys are slash-separated relative paths ("images/ships/ab12….jpg"). They
// never start with "/", never contain "..", "." or empty segments, and never
// end in "/"; ValidKey checks this and every Store rejects other keys with an
// error wrapping ErrInvalidKey.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ErrNotExist is returned (wrapped) by Get, Stat, Move and Delete when the key
// is absent. Test with errors.Is.
var ErrNotExist = errors.New("object does not exist")

// ErrInvalidKey is returned (wrapped) for keys that ValidKey rejects.
var ErrInvalidKey = errors.New("invalid object key")

// Info describes one stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Store is a flat namespace of immutable-once-written blobs.
//
// Contract, checked by storetest.Run for every implementation:
//   - Put is atomic: readers see either the old object or the whole new one,
//     never a prefix. If Put returns an error (including a cancelled context
//     or a reader that fails mid-stream), no object under key becomes visible
//     and any previous object under key is unchanged.
//   - Put overwrites an existing key. size may be -1 when unknown.
//   - Get, Stat, Move and Delete report a missing key with an error wrapping
//     ErrNotExist. Delete of a missing key returns such an error too, so
//     callers that want idempotence test for it.
//   - List calls fn for every key that starts with prefix, in lexical key
//     order, and stops at the first error fn returns (which List returns).
//     Objects put or deleted during a List may or may not be reported.
//   - Move renames src to dst, overwriting dst. After success src is gone.
//     It is atomic on the local store; on S3 it is copy-then-delete, so a
//     crash in between leaves both, never neither.
//   - All methods are safe for concurrent use. Errors that a retry may cure
//     (timeouts, 5xx, throttling) are marked with errkind.Retryable by the
//     implementation so that the Retry wrapper can act on them.
type Store interface {
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	Stat(ctx context.Context, key string) (Info, error)
	List(ctx context.Context, prefix string, fn func(Info) error) error
	Move(ctx context.Context, src, dst string) error
	Delete(ctx context.Context, key string) error
	// String names the store for messages, e.g. "local:/data/proj" or "s3://bucket/prefix".
	String() string
}

// LocalPather is an optional capability of stores whose objects are plain
// files, for callers that hand objects to tools wanting a path. Path returns
// the file holding key's object, or an error wrapping ErrNotExist when there
// is none. The file must be treated as read-only: writing through the path
// bypasses Put's atomicity. Test for it with a type assertion; the wrappers
// in this package keep it when their inner store has it.
type LocalPather interface {
	Path(key string) (string, error)
}

// ValidKey reports whether key is an acceptable object key.
func ValidKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") || strings.Contains(key, "\\") || strings.ContainsRune(key, 0) {
		return fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q", ErrInvalidKey, key)
		}
	}
	return nil
}
