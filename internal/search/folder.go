package search

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/scour-dev/scour/internal/classname"
	"github.com/scour-dev/scour/internal/errkind"
)

const folderPageSize = 500

// imageExts are the file endings the folder engine imports (compared in
// lower case).
var imageExts = map[string]bool{
	".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".webp": true,
	".bmp": true, ".tif": true, ".tiff": true,
}

// NewFolder returns an engine that imports images already on disk, laid out
// as Options.Path/<class>/**/<image>: the class is the name of the first
// folder below the root, as written ("Cruise Ships") or in its folder form
// ("Cruise_Ships") when Options.Classes lists the class. Options.Class restricts the import to one class;
// PageSize sets the page size (default 500). The query text is ignored.
//
// The walk is depth first in name order, so the same tree always gives the
// same pages, and it follows symbolic links to folders while remembering
// where it has been, so a link loop is walked once. Image files directly in
// the root, broken links and unreadable folders are reported to
// Options.OnSkip; hidden files and folders (".name") and files that are not
// images are passed over silently.
func NewFolder(opts Options) (Engine, error) {
	if opts.Path == "" {
		return nil, errkind.WithCause(errkind.Fatal(errors.New("folder: no root folder given")), "bad-config")
	}
	root, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, errkind.WithCause(errkind.Fatal(fmt.Errorf("folder: %w", err)), "bad-config")
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, errkind.WithCause(errkind.Fatal(fmt.Errorf("folder: %w", err)), "bad-config")
	}
	if !fi.IsDir() {
		return nil, errkind.WithCause(errkind.Fatal(fmt.Errorf("folder: %s is not a folder", root)), "bad-config")
	}
	f := &folder{root: root, class: opts.Class, classOf: folderClasses(append([]string{opts.Class}, opts.Classes...)), size: opts.PageSize, onSkip: opts.OnSkip}
	if f.size <= 0 {
		f.size = folderPageSize
	}
	if opts.Class != "" && !f.hasClassFolder() {
		want := fmt.Sprintf("%q", opts.Class)
		if sf := classname.Folder(opts.Class); sf != opts.Class {
			want += fmt.Sprintf(" (or %q)", sf)
		}
		return nil, errkind.WithCause(errkind.Fatal(fmt.Errorf("folder: no class folder %s in %s (found: %s)", want, root, classList(root))), "bad-config")
	}
	return f, nil
}

// folderClasses maps the subfolder names that stand for each class to the
// class: the name as written, its NFC form (macOS writes names decomposed)
// and its folder form, the one scour itself writes where a name cannot be
// a folder as is. A name written exactly wins over another class's folder
// form; config refuses classes whose folder forms collide.
func folderClasses(classes []string) map[string]string {
	m := make(map[string]string, 3*len(classes))
	for _, c := range classes {
		if c != "" {
			m[classname.Folder(c)] = c
		}
	}
	for _, c := range classes {
		if c != "" {
			m[norm.NFC.String(c)] = c
			m[c] = c
		}
	}
	return m
}

// classOfDir is the class a subfolder of the root holds.
func (f *folder) classOfDir(name string) string {
	if c, ok := f.classOf[name]; ok {
		return c
	}
	if c, ok := f.classOf[norm.NFC.String(name)]; ok {
		return c
	}
	return name
}

// hasClassFolder reports whether the root holds a folder for f.class.
func (f *folder) hasClassFolder() bool {
	entries, _ := os.ReadDir(f.root)
	for _, e := range entries {
		if isDir(filepath.Join(f.root, e.Name()), e) && !hidden(e.Name()) && f.classOfDir(e.Name()) == f.class {
			return true
		}
	}
	return false
}

// classList names the class folders in root, for error messages.
func classList(root string) string {
	entries, _ := os.ReadDir(root)
	var names []string
	for _, e := range entries {
		if isDir(filepath.Join(root, e.Name()), e) && !hidden(e.Name()) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

type folder struct {
	root    string
	class   string
	classOf map[string]string // subfolder name -> class, see folderClasses
	size    int
	onSkip  func(Skipped)
}

func (f *folder) Name() string { return "folder" }

// Search starts a walk of the tree; q is ignored.
func (f *folder) Search(ctx context.Context, q Query) (Pager, error) {
	return &folderPager{f: f, seq: sequence{engine: "folder"}, visited: map[string]bool{}}, nil
}

// folderPager walks the tree with an explicit stack, so a page can stop
// anywhere and the next one resume there, holding only the listings of the
// folders on the current path.
type folderPager struct {
	f       *folder
	seq     sequence
	started bool
	stack   []*frame
	visited map[string]bool // real paths of folders already entered
	buf     []Result        // found but not yet returned (a page cut short by ctx)
}

type frame struct {
	dir     string
	class   string // "" for the root
	entries []os.DirEntry
	i       int
}

func (p *folderPager) Page(ctx context.Context, page int) ([]Result, error) {
	if err := p.seq.check(page); err != nil {
		return nil, err
	}
	if !p.started {
		if err := p.push(p.f.root, ""); err != nil {
			return nil, errkind.Permanent(fmt.Errorf("folder: %w", err))
		}
		p.started = true
	}
	for steps := 0; len(p.buf) < p.f.size && len(p.stack) > 0; steps++ {
		if steps%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		p.step()
	}
	out := p.buf
	p.buf = nil
	if len(p.stack) == 0 {
		p.seq.finish()
		if len(out) == 0 {
			return nil, ErrNoMore
		}
		return out, nil
	}
	p.seq.advance()
	return out, nil
}

// step looks at one directory entry.
func (p *folderPager) step() {
	top := p.stack[len(p.stack)-1]
	if top.i >= len(top.entries) {
		p.stack = p.stack[:len(p.stack)-1]
		return
	}
	e := top.entries[top.i]
	top.i++
	name := e.Name()
	if hidden(name) {
		return
	}
	path := filepath.Join(top.dir, name)
	isRoot := top.class == ""
	if e.Type()&fs.ModeSymlink != 0 {
		if _, err := os.Stat(path); err != nil {
			p.skip(path, "broken symbolic link")
			return
		}
	}
	if isDir(path, e) {
		class := top.class
		if isRoot {
			class = p.f.classOfDir(name)
			if p.f.class != "" && class != p.f.class {
				return
			}
		}
		if err := p.push(path, class); err != nil {
			p.skip(path, err.Error())
		}
		return
	}
	if !imageExts[strings.ToLower(filepath.Ext(name))] {
		return
	}
	if isRoot {
		if p.f.class == "" {
			p.skip(path, "not inside a class folder")
		}
		return
	}
	rel, err := filepath.Rel(p.f.root, path)
	if err != nil {
		rel = name
	}
	p.buf = append(p.buf, Result{
		MediaURL: (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String(),
		Title:    filepath.ToSlash(rel),
		Class:    top.class,
	})
}

// push enters a folder unless its real path was entered before (a link
// loop, or two links to one folder).
func (p *folderPager) push(dir, class string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	if p.visited[real] {
		return fmt.Errorf("already imported through another path (%s)", real)
	}
	p.visited[real] = true
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	p.stack = append(p.stack, &frame{dir: dir, class: class, entries: entries})
	return nil
}

func (p *folderPager) skip(path, reason string) {
	if p.f.onSkip != nil {
		p.f.onSkip(Skipped{Text: path, Reason: reason})
	}
}

// isDir reports whether the entry is a folder, following a symbolic link.
func isDir(path string, e os.DirEntry) bool {
	if e.Type()&fs.ModeSymlink == 0 {
		return e.IsDir()
	}
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") }
