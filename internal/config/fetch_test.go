package config

import (
	"strings"
	"testing"
	"time"
)

func TestFetchConsentSettings(t *testing.T) {
	c, err := Parse("scour.yaml", []byte("classes: [{name: a}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := c.Fetch
	if f.Robots != nil && !*f.Robots || f.Contact != "" || f.HostFailures != 5 || f.HostCooldown.D() != 30*time.Second {
		t.Fatalf("defaults: robots %v, contact %q, host_failures %d, host_cooldown %v", f.Robots, f.Contact, f.HostFailures, f.HostCooldown.D())
	}
	c, err = Parse("scour.yaml", []byte("classes: [{name: a}]\nfetch:\n  robots: false\n  contact: https://lab.example.org/datasets\n  host_failures: 2\n  host_cooldown: 1m\n"))
	if err != nil {
		t.Fatal(err)
	}
	f = c.Fetch
	if f.Robots == nil || *f.Robots || f.Contact != "https://lab.example.org/datasets" || f.HostFailures != 2 || f.HostCooldown.D() != time.Minute {
		t.Fatalf("set: robots %v, contact %q, host_failures %d, host_cooldown %v", f.Robots, f.Contact, f.HostFailures, f.HostCooldown.D())
	}
	if _, err := Parse("scour.yaml", []byte("classes: [{name: a}]\nfetch:\n  contact: ada@example.org\n")); err != nil {
		t.Fatalf("an email contact: %v", err)
	}
	for _, c := range []struct{ yaml, want string }{
		{"fetch:\n  contact: call me maybe\n", "fetch.contact"},
		{"fetch:\n  contact: ftp://example.org\n", "email address"},
		{"fetch:\n  contact: \"ada@example.org (Ada)\"\n", "parentheses"},
		{"fetch:\n  host_failures: 0\n", "host_failures"},
		{"fetch:\n  host_cooldown: -1s\n", "host_cooldown"},
		{"fetch:\n  robot: false\n", `did you mean "robots"`},
	} {
		_, err := Parse("scour.yaml", []byte("classes: [{name: a}]\n"+c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one mentioning %q", c.yaml, err, c.want)
		}
	}
}
