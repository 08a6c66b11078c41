package suggest

import "testing"

func TestClosest(t *testing.T) {
	names := []string{"bing", "duckduckgo", "commons", "urls", "folder"}
	for in, want := range map[string]string{"bign": "bing", "Bing": "bing", "comons": "commons", "url": "urls", "xyz": "", "foldr": "folder"} {
		if got := Closest(in, names); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Closest("ab", []string{"ac", "ad"}); got != "" {
		t.Errorf("a tie suggested %q", got)
	}
}

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"ab", "ba", 1}, {"queris", "queries", 1}} {
		if got := Distance(c.a, c.b); got != c.d {
			t.Errorf("Distance(%q,%q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}
