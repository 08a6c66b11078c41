package report

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/scour-dev/scour/internal/atomicfile"
)

// CreditsFile is the attribution file Write puts beside index.html when
// the dataset holds images whose license asks for credit.
const CreditsFile = "credits.md"

// Shortfall is a class that ended short of its target, and why.
type Shortfall struct {
	Class        string
	Target, Kept int
	Why          string // the reason in words, with its figures
}

// Credit is one kept image whose license asks that its author be credited
// (CC BY and its variants), with what an attribution names: title,
// author, source and license.
type Credit struct {
	Class   string
	File    string // where the image is in the dataset (its store key)
	Title   string
	Author  string // "" when the source gave none
	License string // as the source wrote it: "CC BY-SA 4.0"
	Source  string // the page the image was found on, or its URL
}

// CreditSource calls yield for each credit, sorted by class, then file.
// It streams, so a dataset of millions of CC BY images is never held in
// memory at once.
type CreditSource func(yield func(Credit) error) error

// CreditsOf is a CreditSource over cs, sorted as CreditSource requires.
func CreditsOf(cs ...Credit) CreditSource {
	cs = slices.Clone(cs)
	slices.SortStableFunc(cs, func(a, b Credit) int {
		return cmp.Or(strings.Compare(a.Class, b.Class), strings.Compare(a.File, b.File))
	})
	return func(yield func(Credit) error) error {
		for _, c := range cs {
			if err := yield(c); err != nil {
				return err
			}
		}
		return nil
	}
}

// writeCredits writes the credits to path, one list per class, each line
// in the order Creative Commons recommends (title, author, source,
// license), and returns how many it wrote. With none, path is left alone.
// The count heads the file but is only known at the end, so the lines go
// to a temporary file first.
func writeCredits(path, title string, src CreditSource) (int, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	body, err := os.CreateTemp(filepath.Dir(path), ".credits-body-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(body.Name())
	defer body.Close()
	w := bufio.NewWriter(body)
	n, class := 0, "\x00"
	err = src(func(c Credit) error {
		n++
		if c.Class != class {
			class = c.Class
			fmt.Fprintf(w, "\n## %s\n\n", mdText(class))
		}
		t := c.Title
		if t == "" {
			t = "untitled"
		}
		author := c.Author
		if author == "" {
			author = "unknown author (see the source)"
		}
		_, err := fmt.Fprintf(w, "- `%s`: \"%s\" by %s, %s, licensed under %s\n", strings.ReplaceAll(c.File, "`", "'"), mdText(t), mdText(author), mdLink(c.Source), mdText(c.License))
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if err != nil || n == 0 {
		return 0, err
	}
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Abort()
	fw := bufio.NewWriter(f)
	fw.WriteString("# Image credits\n\n")
	fmt.Fprintf(fw, "%d images of the dataset in \"%s\" are under licenses that ask for attribution (CC BY and its variants).\n", n, mdText(title))
	fw.WriteString("Credit them as below wherever the images, or a dataset holding them, are shared.\n")
	if _, err := io.Copy(fw, body); err != nil {
		return 0, err
	}
	if err := fw.Flush(); err != nil {
		return 0, err
	}
	return n, f.Commit(0o644)
}

// mdLink writes a source URL as a Markdown autolink, which readers click
// and copy as it is (no escapes inside); anything else is text.
func mdLink(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return mdText(s)
	}
	return "<" + strings.NewReplacer("<", "%3C", ">", "%3E", " ", "%20").Replace(u.String()) + ">"
}

// mdText keeps a source's text from being read as Markdown: one line, its
// markup characters escaped.
func mdText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_{}[]<>#|!", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
