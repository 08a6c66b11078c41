package fetch

import (
	"bytes"
	"net/http"
	"strings"

	"golang.org/x/net/html"

	"github.com/scour-dev/scour/internal/useragent"
)

// Sites that refuse to feed AI training say so per response, with the
// `noai` and `noimageai` directives: in an X-Robots-Tag header, or in a
// <meta name="robots"> tag of the HTML page served in place of an image.
// Directives addressed to another crawler ("otherbot: noai") are not ours.

// optOutHeader reports whether h carries an X-Robots-Tag that opts out of
// scour: a generic directive or one addressed to scour.
func optOutHeader(h http.Header) bool {
	for _, v := range h.Values("X-Robots-Tag") {
		if optOutDirectives(v) {
			return true
		}
	}
	return false
}

// valuedDirectives are X-Robots-Tag directives written "name: value", which
// must not be mistaken for a crawler's name.
var valuedDirectives = map[string]bool{
	"unavailable_after": true, "max-snippet": true, "max-image-preview": true, "max-video-preview": true,
}

// optOutDirectives reads one X-Robots-Tag value, such as "noai, noimageai",
// "scour: noai" or "otherbot: noindex, nofollow". A crawler's name applies
// to the directives after it, up to the next name.
func optOutDirectives(v string) bool {
	target := ""
	for _, item := range strings.Split(v, ",") {
		item = strings.ToLower(strings.TrimSpace(item))
		if name, rest, ok := strings.Cut(item, ":"); ok && !valuedDirectives[strings.TrimSpace(name)] {
			target, item = strings.TrimSpace(name), strings.TrimSpace(rest)
		}
		if target != "" && target != useragent.Token && target != "*" {
			continue
		}
		if item == "noai" || item == "noimageai" {
			return true
		}
	}
	return false
}

// optOutMeta reports whether an HTML page carries <meta name="robots"> (or
// name="scour") whose content includes noai or noimageai.
func optOutMeta(page []byte) bool {
	if low := bytes.ToLower(page); !bytes.Contains(low, []byte("noai")) && !bytes.Contains(low, []byte("noimageai")) {
		return false // the common case, without tokenising the page
	}
	z := html.NewTokenizer(bytes.NewReader(page))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return false
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			if string(name) != "meta" || !hasAttr {
				continue
			}
			var who, content string
			for {
				k, v, more := z.TagAttr()
				switch string(k) {
				case "name":
					who = strings.ToLower(strings.TrimSpace(string(v)))
				case "content":
					content = strings.ToLower(string(v))
				}
				if !more {
					break
				}
			}
			if who != "robots" && who != useragent.Token {
				continue
			}
			for _, d := range strings.FieldsFunc(content, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
				if d == "noai" || d == "noimageai" {
					return true
				}
			}
		}
	}
}
