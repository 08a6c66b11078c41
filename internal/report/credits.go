package report

import (
	"bytes"
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"
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

// creditsMarkdown writes the credits, one list per class, each line in the
// order Creative Commons recommends (title, author, source, license).
func creditsMarkdown(title string, cs []Credit) []byte {
	cs = slices.Clone(cs)
	slices.SortStableFunc(cs, func(a, b Credit) int {
		return cmp.Or(strings.Compare(a.Class, b.Class), strings.Compare(a.File, b.File))
	})
	var b bytes.Buffer
	b.WriteString("# Image credits\n\n")
	fmt.Fprintf(&b, "%d images of the dataset in \"%s\" are under licenses that ask for attribution (CC BY and its variants).\n", len(cs), mdText(title))
	b.WriteString("Credit them as below wherever the images, or a dataset holding them, are shared.\n")
	class := "\x00"
	for _, c := range cs {
		if c.Class != class {
			class = c.Class
			fmt.Fprintf(&b, "\n## %s\n\n", mdText(class))
		}
		t := c.Title
		if t == "" {
			t = "untitled"
		}
		author := c.Author
		if author == "" {
			author = "unknown author (see the source)"
		}
		fmt.Fprintf(&b, "- `%s`: \"%s\" by %s, %s, licensed under %s\n", strings.ReplaceAll(c.File, "`", "'"), mdText(t), mdText(author), mdLink(c.Source), mdText(c.License))
	}
	return b.Bytes()
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
