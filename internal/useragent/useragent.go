// Package useragent builds the User-Agent scour sends to image hosts and to
// Wikimedia Commons. Wikimedia's User-Agent policy asks automated clients to
// name the tool and its version, to give a way to reach the person running
// it, and to say that it is a bot; site operators reading their logs need
// the same. The product token is also what robots.txt groups are matched
// against, so it never changes.
package useragent

import (
	"fmt"
	"net/mail"
	"net/url"
	"runtime/debug"
	"strings"
)

// Token is scour's product token: the first word of the User-Agent and the
// name a robots.txt `User-agent:` line uses to address scour.
const Token = "scour"

// Home is where a site operator learns what scour is.
const Home = "https://github.com/scour-dev/scour"

// Version is the module version scour was built as, or "devel" for a build
// from a working tree.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// String is the User-Agent for an operator reachable at contact (an email
// address or an http(s) URL; "" when none was configured, which leaves only
// scour's home page as a way to complain).
func String(contact string) string {
	if contact == "" {
		return fmt.Sprintf("%s/%s (bot; +%s)", Token, Version(), Home)
	}
	return fmt.Sprintf("%s/%s (bot; +%s; %s)", Token, Version(), Home, contact)
}

// CheckContact says what is wrong with contact as the fetch.contact setting:
// it must be an email address or an http(s) URL, and fit in a header.
func CheckContact(contact string) error {
	if contact == "" {
		return nil
	}
	if strings.ContainsAny(contact, " \t\r\n()") {
		return fmt.Errorf("contact %q: no spaces or parentheses (give an email address or an https:// URL)", contact)
	}
	if strings.HasPrefix(contact, "http://") || strings.HasPrefix(contact, "https://") {
		if u, err := url.Parse(contact); err != nil || u.Host == "" {
			return fmt.Errorf("contact %q is not a valid URL (give an email address or an https:// URL)", contact)
		}
		return nil
	}
	if a, err := mail.ParseAddress(contact); err != nil || a.Address != contact {
		return fmt.Errorf("contact %q is neither an email address nor an http(s) URL", contact)
	}
	return nil
}
