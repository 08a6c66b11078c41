package useragent

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	ua := String("ada@example.org")
	// Wikimedia's policy: the tool's name and version first, then, in
	// parentheses, where to learn about it and how to reach its operator.
	if !strings.HasPrefix(ua, Token+"/"+Version()+" (") || !strings.Contains(ua, "+"+Home) || !strings.Contains(ua, "; ada@example.org)") || !strings.Contains(ua, "bot") {
		t.Errorf("String = %q", ua)
	}
	if ua := String(""); strings.Contains(ua, ";;") || strings.Contains(ua, "; )") || !strings.Contains(ua, Home) {
		t.Errorf("String(\"\") = %q", ua)
	}
}

func TestCheckContact(t *testing.T) {
	for c, ok := range map[string]bool{
		"":                               true,
		"ada@example.org":                true,
		"https://lab.example.org/scour":  true,
		"http://example.org":             true,
		"User:Ada":                       false,
		"ada at example dot org":         false,
		"Ada <ada@example.org>":          false,
		"https://":                       false,
		"ada@example.org\r\nX-Evil: yes": false,
		"https://example.org/(parens)":   false,
		"mailto:ada@example.org":         false,
	} {
		if err := CheckContact(c); (err == nil) != ok {
			t.Errorf("CheckContact(%q) = %v, want ok=%v", c, err, ok)
		}
	}
}
