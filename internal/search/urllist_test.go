package search

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/errkind"
)

// readAll walks a pager to the end and returns its pages.
func readAll(t *testing.T, p Pager) [][]Result {
	t.Helper()
	var pages [][]Result
	for page := 0; ; page++ {
		res, err := p.Page(context.Background(), page)
		if errors.Is(err, ErrNoMore) {
			return pages
		}
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		pages = append(pages, res)
	}
}

func urls(pages [][]Result) []string {
	var out []string
	for _, p := range pages {
		for _, r := range p {
			out = append(out, r.MediaURL)
		}
	}
	return out
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestURLList(t *testing.T) {
	long := "https://example.org/" + strings.Repeat("a", maxLineLen+10)
	tests := []struct {
		name     string
		content  string
		want     []Result
		wantSkip []Skipped
	}{
		{
			name: "plain list",
			content: "\ufeff# boats to fetch\n" +
				"https://example.org/a.jpg\n" +
				"\n" +
				"   http://example.org/b.png  \r\n" +
				"ftp://example.org/c.jpg\n" +
				"not a url at all\n" +
				"https://\n" +
				"http://[::1\n" +
				"# the end\n" +
				"HTTPS://Example.org/d.jpg", // no final newline
			want: []Result{
				{MediaURL: "https://example.org/a.jpg"},
				{MediaURL: "http://example.org/b.png"},
				{MediaURL: "HTTPS://Example.org/d.jpg"},
			},
			wantSkip: []Skipped{
				{Line: 5, Text: "ftp://example.org/c.jpg", Reason: "not an http or https URL"},
				{Line: 6, Text: "not a url at all", Reason: "not an http or https URL"},
				{Line: 7, Text: "https://", Reason: "URL has no host"},
				{Line: 8, Text: "http://[::1", Reason: `unparsable URL: parse "http://[::1": missing ']' in host`},
			},
		},
		{
			name:    "line too long",
			content: "https://example.org/a.jpg\n" + long + "\nhttps://example.org/b.jpg\n",
			want:    []Result{{MediaURL: "https://example.org/a.jpg"}, {MediaURL: "https://example.org/b.jpg"}},
			wantSkip: []Skipped{
				{Line: 2, Text: long[:80], Reason: fmt.Sprintf("line longer than %d bytes", maxLineLen)},
			},
		},
		{
			name: "csv",
			content: "# exported from a spreadsheet\n" +
				"Title,URL,Class,license,author\n" +
				"\"Zumwalt, at sea\",https://example.org/z.jpg,Destroyers,CC BY 4.0,US Navy\n" +
				"\n" +
				"# a comment row\n" +
				"\"two\nlines\",https://example.org/t.jpg,Tugs,,\n" +
				"no url,,Tugs\n" +
				"short,https://example.org/s.jpg\n" +
				"bad,javascript:alert(1),Tugs\n",
			want: []Result{
				{MediaURL: "https://example.org/z.jpg", Title: "Zumwalt, at sea", Class: "Destroyers", License: "CC BY 4.0", Author: "US Navy"},
				{MediaURL: "https://example.org/t.jpg", Title: "two\nlines", Class: "Tugs"},
				{MediaURL: "https://example.org/s.jpg", Title: "short"},
			},
			wantSkip: []Skipped{
				{Line: 8, Text: "no url,,Tugs", Reason: "empty URL"},
				{Line: 10, Text: "bad,javascript:alert(1),Tugs", Reason: "not an http or https URL"},
			},
		},
		{
			name:    "tab separated",
			content: "url\tclass\nhttps://example.org/k.jpg\tKayaks\n",
			want:    []Result{{MediaURL: "https://example.org/k.jpg", Class: "Kayaks"}},
		},
		{
			name:    "csv with a broken quote",
			content: "url,title\nhttps://example.org/a.jpg,\"fine\"\nhttps://example.org/b.jpg,bro\"ken\nhttps://example.org/c.jpg,ok\n",
			want:    []Result{{MediaURL: "https://example.org/a.jpg", Title: "fine"}, {MediaURL: "https://example.org/c.jpg", Title: "ok"}},
			wantSkip: []Skipped{
				{Line: 3, Reason: `bad CSV: bare " in non-quoted-field`},
			},
		},
		{
			name:    "only comments",
			content: "# nothing yet\n\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var skipped []Skipped
			eng, err := NewURLList(Options{Path: writeTemp(t, "list.txt", tt.content), OnSkip: func(s Skipped) { skipped = append(skipped, s) }})
			if err != nil {
				t.Fatal(err)
			}
			pager, err := eng.Search(context.Background(), Query{})
			if err != nil {
				t.Fatal(err)
			}
			var got []Result
			for _, p := range readAll(t, pager) {
				got = append(got, p...)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("results\n got %+v\nwant %+v", got, tt.want)
			}
			if !reflect.DeepEqual(skipped, tt.wantSkip) {
				t.Errorf("skipped\n got %+v\nwant %+v", skipped, tt.wantSkip)
			}
		})
	}
}

func TestURLListPages(t *testing.T) {
	var b strings.Builder
	for i := range 25 {
		fmt.Fprintf(&b, "https://example.org/%d.jpg\n", i)
		if i%5 == 0 {
			b.WriteString("garbage\n") // skipped lines do not count toward a page
		}
	}
	eng, err := NewURLList(Options{Path: writeTemp(t, "list.txt", b.String()), PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	pager, _ := eng.Search(context.Background(), Query{Text: "ignored"})
	pages := readAll(t, pager)
	if len(pages) != 3 || len(pages[0]) != 10 || len(pages[1]) != 10 || len(pages[2]) != 5 {
		t.Fatalf("page sizes %d", len(pages))
	}
	got := urls(pages)
	for i, u := range got {
		if u != fmt.Sprintf("https://example.org/%d.jpg", i) {
			t.Fatalf("result %d = %s", i, u)
		}
	}
	if _, err := pager.Page(context.Background(), 3); !errors.Is(err, ErrNoMore) {
		t.Errorf("after the end: %v", err)
	}
	// Two searches of one file each read it whole.
	again, _ := eng.Search(context.Background(), Query{})
	if n := len(urls(readAll(t, again))); n != 25 {
		t.Errorf("second search read %d URLs, want 25", n)
	}
}

// countingReader is an endless list that counts what was taken from it.
type countingReader struct {
	n    int64
	line int
	buf  []byte
}

func (c *countingReader) Read(p []byte) (int, error) {
	for len(c.buf) < len(p) {
		c.buf = fmt.Appendf(c.buf, "https://example.org/img/%08d.jpg\n", c.line)
		c.line++
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	c.n += int64(n)
	return n, nil
}

func TestURLListStreams(t *testing.T) {
	src := &countingReader{}
	eng, err := NewURLList(Options{Reader: src, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	pager, err := eng.Search(context.Background(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	for page := range 3 {
		res, err := pager.Page(context.Background(), page)
		if err != nil || len(res) != 100 {
			t.Fatalf("page %d: %d results, %v", page, len(res), err)
		}
		if want := fmt.Sprintf("https://example.org/img/%08d.jpg", page*100); res[0].MediaURL != want {
			t.Fatalf("page %d starts at %s, want %s", page, res[0].MediaURL, want)
		}
	}
	// 300 lines are 11 KB; the reader may be ahead by one buffer, no more.
	if src.n > 300*37+maxLineLen {
		t.Errorf("read %d bytes for 300 lines: the list is not streamed", src.n)
	}
	if _, err := eng.Search(context.Background(), Query{}); err == nil {
		t.Error("a second search of a one-shot stream was accepted")
	}
}

func TestURLListBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"nothing", Options{}},
		{"missing file", Options{Path: filepath.Join(t.TempDir(), "nope.txt")}},
		{"a directory", Options{Path: t.TempDir()}},
	}
	for _, tt := range tests {
		_, err := NewURLList(tt.opts)
		if !errkind.IsFatal(err) {
			t.Errorf("%s: err = %v, want a fatal configuration error", tt.name, err)
		}
	}
}

// failingReader gives some lines, then a read error.
type failingReader struct{ r io.Reader }

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errors.New("disk on fire")
	}
	return n, err
}

func TestURLListReadError(t *testing.T) {
	eng, _ := NewURLList(Options{Reader: &failingReader{strings.NewReader("https://example.org/a.jpg\n")}})
	pager, _ := eng.Search(context.Background(), Query{})
	_, err := pager.Page(context.Background(), 0)
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v, want the read error", err)
	}
	if _, err := pager.Page(context.Background(), 0); !errors.Is(err, ErrNoMore) {
		t.Errorf("after a read error: %v, want ErrNoMore", err)
	}
}
