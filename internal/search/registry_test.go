package search

import (
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/errkind"
)

func TestNew(t *testing.T) {
	dir := t.TempDir()
	list := writeTemp(t, "list.txt", "https://example.org/a.jpg\n")
	opts := map[string]Options{"urls": {Path: list}, "folder": {Path: dir}}
	for _, name := range Names() {
		eng, err := New(" "+strings.ToUpper(name)+" ", opts[name])
		if err != nil {
			t.Errorf("New(%q): %v", name, err)
			continue
		}
		if eng.Name() != name {
			t.Errorf("New(%q).Name() = %q", name, eng.Name())
		}
	}
	want := []string{"bing", "commons", "duckduckgo", "folder", "urls"}
	if got := Names(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Names() = %v, want %v", got, want)
	}
}

func TestNewUnknown(t *testing.T) {
	tests := []struct {
		name, suggest string
	}{
		{"bign", `did you mean "bing"?`},
		{"duckduckgoo", `did you mean "duckduckgo"?`},
		{"url", `did you mean "urls"?`},
		{"google", ""},
	}
	for _, tt := range tests {
		_, err := New(tt.name, Options{})
		if err == nil {
			t.Fatalf("New(%q) succeeded", tt.name)
		}
		msg := err.Error()
		if !errkind.IsFatal(err) || !strings.Contains(msg, "valid: bing, commons, duckduckgo, folder, urls") {
			t.Errorf("New(%q): %v", tt.name, err)
		}
		if tt.suggest != "" && !strings.Contains(msg, tt.suggest) {
			t.Errorf("New(%q): %q lacks %q", tt.name, msg, tt.suggest)
		}
		if tt.suggest == "" && strings.Contains(msg, "did you mean") {
			t.Errorf("New(%q): %q suggests a far name", tt.name, msg)
		}
	}
}
