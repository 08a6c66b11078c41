package split

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/scour-dev/scour/internal/atomicfile"
	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/classname"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/store"
)

// Summary counts images per class and set.
type Summary struct {
	Seed   int64                     `json:"seed"`
	Counts map[string]map[string]int `json:"counts"` // class -> set -> images
	Groups int                       `json:"near_duplicate_groups"`
}

// Run splits every kept image of the catalog and records the result,
// replacing any earlier split. groupOf returns an image's near-duplicate
// group ("" when alone); nil means no groups are known.
func Run(ctx context.Context, cat *catalog.Catalog, f Fractions, seed int64, groupOf func(sha string) string) (Summary, error) {
	var items []Item
	groups := map[string]bool{}
	err := cat.ForEachImage(ctx, catalog.ImageFilter{Status: catalog.StatusKept}, func(im catalog.Image) error {
		it := Item{SHA256: im.SHA256, Class: im.Class}
		if groupOf != nil {
			it.Group = groupOf(im.SHA256)
			if it.Group != "" {
				groups[it.Group] = true
			}
		}
		items = append(items, it)
		return nil
	})
	if err != nil {
		return Summary{}, err
	}
	if len(items) == 0 {
		return Summary{}, fmt.Errorf("no kept images to split: run gather (and clean) first")
	}
	assign, err := Assign(items, f, seed)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{Seed: seed, Counts: map[string]map[string]int{}, Groups: len(groups)}
	as := make([]catalog.Assignment, 0, len(items))
	for _, it := range items {
		s := assign[it.SHA256]
		as = append(as, catalog.Assignment{SHA256: it.SHA256, Split: s})
		if sum.Counts[it.Class] == nil {
			sum.Counts[it.Class] = map[string]int{}
		}
		sum.Counts[it.Class][s]++
	}
	if err := cat.ReplaceSplit(ctx, seed, as); err != nil {
		return Summary{}, err
	}
	return sum, nil
}

// Member is one image of a set.
type Member = catalog.SplitMember

// Members lists the kept images of one set ("" = all sets), in class then
// hash order. It fails with a message that says what to run when the
// catalog has no split yet.
func Members(ctx context.Context, cat *catalog.Catalog, set string) ([]Member, error) {
	out, err := cat.SplitMembers(ctx, set)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 && set == "" {
		return nil, fmt.Errorf("the catalog has no split: run `scour split` first")
	}
	return out, nil
}

// Export writes the split as the folder layout Keras and PyTorch loaders
// expect: dir/<set>/<class>/<sha256>.<ext>. The class folder is the class
// name as written where the system allows it (Linux, a name without '/'),
// so loaders show the classes as written, and its folder form
// (classname.Folder) elsewhere, which events are told. Files already there
// with the right size are left alone, so an export can be resumed.
func Export(ctx context.Context, cat *catalog.Catalog, st store.Store, dir string, events progress.Sink) (int, error) {
	ms, err := Members(ctx, cat, "")
	if err != nil {
		return 0, err
	}
	progress.Start(events, "export", int64(len(ms)))
	defer progress.Finish(events, "export")
	folders := classname.NewExporter()
	defer func() {
		if r := folders.Renamed(); len(r) > 0 {
			progress.Info(events, "export", "class folders that cannot carry the name as written here use its safe form: "+strings.Join(r, ", "))
		}
	}()
	n := 0
	for _, m := range ms {
		folder, err := folders.Folder(m.Class)
		if err != nil {
			return n, errkind.Fatal(err)
		}
		dst := filepath.Join(dir, m.Split, folder, path.Base(m.Key))
		info, err := st.Stat(ctx, m.Key)
		if err != nil {
			return n, fmt.Errorf("image %s of class %s: %w", m.SHA256[:12], m.Class, err)
		}
		if fi, err := os.Stat(dst); err == nil && fi.Size() == info.Size {
			progress.Step(events, "export", 1)
			continue
		}
		if err := copyOut(ctx, st, m.Key, dst); err != nil {
			return n, err
		}
		n++
		progress.Step(events, "export", 1)
	}
	return n, nil
}

func copyOut(ctx context.Context, st store.Store, key, dst string) error {
	r, err := st.Get(ctx, key)
	if err != nil {
		return err
	}
	defer r.Close()
	err = atomicfile.Write(dst, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
	if err != nil {
		return errkind.Fatal(fmt.Errorf("writing %s: %w", dst, err))
	}
	return nil
}
