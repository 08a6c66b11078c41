package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/scour-dev/scour/internal/errkind"
)

// tmpPrefix starts the names of Put's temporary files. They live beside their
// final name so the closing rename never crosses a file system.
const tmpPrefix = ".tmp-"

// Local stores each object as a plain file under a root directory: key
// "a/b.jpg" is root/a/b.jpg, so the tree can be browsed and handed to other
// tools (see Path).
//
// Two limits come from using a file tree for a flat namespace: a key cannot
// be both an object and the parent of others ("a" and "a/b"), and keys whose
// last segment starts with ".tmp-" are rejected as invalid because Put's
// temporary files use such names.
//
// Keys are checked lexically, so none reaches outside root; symbolic links
// that the user placed inside root are followed on purpose (for example an
// images folder moved to a bigger disk).
type Local struct {
	root string
}

// NewLocal returns a store rooted at root, creating the directory if needed.
func NewLocal(root string) (*Local, error) {
	if root == "" {
		return nil, errkind.Fatal(errors.New("store: local store needs a directory, got an empty path"))
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, errkind.Fatal(fmt.Errorf("store: local root %q: %w", root, err))
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		// Whatever the cause, the project cannot be used until someone
		// fixes the path.
		return nil, errkind.Fatal(fmt.Errorf("store: cannot create the project directory %s: %w", abs, err))
	}
	return &Local{root: abs}, nil
}

func (l *Local) String() string { return "local:" + l.root }

// Path returns the file that holds key's object; see LocalPather.
func (l *Local) Path(key string) (string, error) {
	name, err := l.file(key)
	if err != nil {
		return "", err
	}
	if _, err := l.statFile(name); err != nil {
		return "", l.missing("path", key, err)
	}
	return name, nil
}

func (l *Local) file(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	if strings.HasPrefix(path.Base(key), tmpPrefix) {
		return "", fmt.Errorf("%w: %q: names starting with %q are reserved for temporary files", ErrInvalidKey, key, tmpPrefix)
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// statFile stats name and treats a directory as absent: directories are
// implied by keys, they are not objects.
func (l *Local) statFile(name string) (fs.FileInfo, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory: %w", name, fs.ErrNotExist)
	}
	return fi, nil
}

// Put writes r to a temporary file beside the final name, syncs it to disk
// and renames it into place, so a crash or error never exposes a partial
// object.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	name, err := l.file(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: put %q: %w", key, err)
	}
	f, err := l.createTemp(filepath.Dir(name))
	if err != nil {
		l.prune(filepath.Dir(name))
		return l.fail("put", key, err)
	}
	tmp, closed := f.Name(), false
	defer func() {
		if err != nil {
			if !closed {
				f.Close()
			}
			os.Remove(tmp)
			l.prune(filepath.Dir(name)) // directories made for this Put
		}
	}()
	if _, err := io.Copy(f, &bodyReader{ctx: ctx, r: r, size: size}); err != nil {
		return l.fail("put", key, err)
	}
	if err := f.Sync(); err != nil {
		return l.fail("put", key, err)
	}
	closed = true
	if err := f.Close(); err != nil {
		return l.fail("put", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: put %q: %w", key, err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return l.fail("put", key, err)
	}
	return nil
}

// createTemp creates a fresh temporary file in dir, creating dir first. It
// tries again when dir vanishes in between, because a concurrent Delete
// prunes directories it has just emptied.
func (l *Local) createTemp(dir string) (*os.File, error) {
	var err error
	for range 20 {
		if err = os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		var f *os.File
		name := filepath.Join(dir, fmt.Sprintf("%s%016x", tmpPrefix, rand.Uint64()))
		// 0o666 rather than CreateTemp's 0o600 so that the umask decides, as
		// for any other file the user creates.
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	return nil, err
}

func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	name, err := l.file(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: get %q: %w", key, err)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, l.missing("get", key, err)
	}
	fi, err := f.Stat()
	if err == nil && fi.IsDir() {
		err = fmt.Errorf("%s is a directory: %w", name, fs.ErrNotExist)
	}
	if err != nil {
		f.Close()
		return nil, l.missing("get", key, err)
	}
	return f, nil
}

func (l *Local) Stat(ctx context.Context, key string) (Info, error) {
	name, err := l.file(key)
	if err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, fmt.Errorf("store: stat %q: %w", key, err)
	}
	fi, err := l.statFile(name)
	if err != nil {
		return Info{}, l.missing("stat", key, err)
	}
	return Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// List walks the tree depth first, sorting each directory so that the keys
// come out in lexical order overall: a directory sorts as its name plus "/",
// because that is how every key inside it begins ("a.b" < "a/b" < "a0").
func (l *Local) List(ctx context.Context, prefix string, fn func(Info) error) error {
	dir := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dir = prefix[:i]
		if ValidKey(dir) != nil {
			return nil // no valid key lies below an invalid directory name
		}
	}
	return l.walk(ctx, dir, prefix, fn)
}

func (l *Local) walk(ctx context.Context, dir, prefix string, fn func(Info) error) error {
	entries, err := os.ReadDir(filepath.Join(l.root, filepath.FromSlash(dir)))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil // removed during the walk, or the prefix names an object
	}
	if err != nil {
		return l.fail("list", dir, err)
	}
	type item struct {
		key, order string
		isDir      bool
	}
	items := make([]item, 0, len(entries))
	for _, e := range entries {
		key := e.Name()
		if dir != "" {
			key = dir + "/" + key
		}
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			fi, err := os.Stat(filepath.Join(l.root, filepath.FromSlash(key)))
			if err != nil {
				continue // dangling link: nothing to read
			}
			isDir = fi.IsDir()
		}
		switch {
		case isDir:
			sub := key + "/"
			if strings.HasPrefix(sub, prefix) || strings.HasPrefix(prefix, sub) {
				items = append(items, item{key: key, order: sub, isDir: true})
			}
		case strings.HasPrefix(e.Name(), tmpPrefix), !strings.HasPrefix(key, prefix), ValidKey(key) != nil:
		default:
			items = append(items, item{key: key, order: key})
		}
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.order, b.order) })
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store: list %q: %w", prefix, err)
		}
		if it.isDir {
			if err := l.walk(ctx, it.key, prefix, fn); err != nil {
				return err
			}
			continue
		}
		fi, err := os.Stat(filepath.Join(l.root, filepath.FromSlash(it.key)))
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted since ReadDir, or not a plain file
		}
		if err := fn(Info{Key: it.key, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

// Move renames src over dst. Both are files under one root, so the rename is
// atomic unless the user has linked part of the tree to another file system.
func (l *Local) Move(ctx context.Context, src, dst string) error {
	from, err := l.file(src)
	if err != nil {
		return err
	}
	to, err := l.file(dst)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: move %q: %w", src, err)
	}
	if _, err := l.statFile(from); err != nil {
		return l.missing("move", src, err)
	}
	if from == to {
		return nil
	}
	for range 20 {
		if err = os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return l.fail("move", src, err)
		}
		err = os.Rename(from, to)
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
		// Either src went away or a concurrent Delete pruned dst's new
		// directory; only the second is worth another try.
		if _, serr := l.statFile(from); serr != nil {
			return l.missing("move", src, serr)
		}
	}
	if err != nil {
		return l.fail("move", src, err)
	}
	l.prune(filepath.Dir(from))
	return nil
}

// Delete removes key's file and then every directory above it that this
// left empty, so that deleting all objects leaves a clean tree.
func (l *Local) Delete(ctx context.Context, key string) error {
	name, err := l.file(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: delete %q: %w", key, err)
	}
	// Lstat, not statFile: removing a link removes the link, and os.Remove
	// would happily delete an empty directory that is no object.
	fi, err := os.Lstat(name)
	if err == nil && fi.IsDir() {
		err = fmt.Errorf("%s is a directory: %w", name, fs.ErrNotExist)
	}
	if err == nil {
		err = os.Remove(name)
	}
	if err != nil {
		return l.missing("delete", key, err)
	}
	l.prune(filepath.Dir(name))
	return nil
}

// prune removes dir and its parents up to (not including) root while they
// are empty. Failure just means a directory is still in use.
func (l *Local) prune(dir string) {
	for dir != l.root && strings.HasPrefix(dir, l.root+string(filepath.Separator)) {
		if syscall.Rmdir(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// missing is fail for operations on an existing object: an absent file
// becomes ErrNotExist.
func (l *Local) missing(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("store: %s %q in %s: %w (%w)", op, key, l, ErrNotExist, err)
	}
	return l.fail(op, key, err)
}

// fail wraps a file system error, turning the ones that will stop every
// later write too into fatal errors that say what to do about them.
func (l *Local) fail(op, key string, err error) error {
	var advice string
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		advice = "the disk (or quota) is full: free some space or move the project to a bigger disk"
	case errors.Is(err, syscall.EROFS):
		advice = "the file system is read-only: remount it read-write or choose another project directory"
	case errors.Is(err, fs.ErrPermission):
		advice = "permission denied: make " + l.root + " writable by this user"
	case errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("store: %s %q in %s: a parent of this key is itself an object (a local store cannot hold both x and x/y): %w",
			op, key, l, err)
	default:
		return fmt.Errorf("store: %s %q in %s: %w", op, key, l, err)
	}
	return errkind.Fatal(fmt.Errorf("store: %s %q in %s: %s: %w", op, key, l, advice, err))
}
