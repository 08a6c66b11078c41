package search

import (
	"os"
	"path/filepath"
	"testing"
)

func TestURLListHasClasses(t *testing.T) {
	for _, tc := range []struct {
		name, list string
		want       bool
	}{
		{"plain list", "http://a.test/1.jpg\nhttp://a.test/2.jpg\n", false},
		{"csv without class", "url,title\nhttp://a.test/1.jpg,one\n", false},
		{"csv with class", "url,class\nhttp://a.test/1.jpg,ship\n", true},
		{"class first, tabs, comments and a BOM", "\ufeff# made by hand\n\nClass\tURL\nship\thttp://a.test/1.jpg\n", true},
		{"semicolons", "url;class;license\n", true},
		{"empty", "", false},
		{"only comments", "# nothing yet\n", false},
	} {
		p := filepath.Join(t.TempDir(), "urls.txt")
		if err := os.WriteFile(p, []byte(tc.list), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := URLListHasClasses(p)
		if err != nil || got != tc.want {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := URLListHasClasses(filepath.Join(t.TempDir(), "missing.txt")); err == nil {
		t.Error("a missing list gave no error")
	}
}
