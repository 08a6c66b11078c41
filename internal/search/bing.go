package search

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/scour-dev/scour/internal/errkind"
)

const (
	bingBase = "https://www.bing.com"
	// bingPageSize is what Bing's own infinite scroll asks for (count=35).
	bingPageSize = 35
	// bingUA is a current desktop Chrome: Bing serves its full result markup
	// (with a.iusc anchors) to browsers and a stripped page to unknown agents.
	bingUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36"
)

// NewBing returns an engine that scrapes Bing Images. It reads BaseURL,
// Client and UserAgent from opts.
//
// Page 0 is the normal result page; later pages follow the page's own
// infinite-scroll continuation (images/async). Results are deduplicated on
// the full-size URL within a search, and a page that brings no new URL ends
// the search with ErrNoMore: Bing serves its last page again forever.
func NewBing(opts Options) Engine {
	base := strings.TrimRight(opts.BaseURL, "/")
	if base == "" {
		base = bingBase
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = bingUA
	}
	return &bing{base: base, client: clientOr(opts.Client), ua: ua}
}

type bing struct {
	base   string
	client *http.Client
	ua     string
}

func (b *bing) Name() string { return "bing" }

func (b *bing) Search(ctx context.Context, q Query) (Pager, error) {
	if strings.TrimSpace(q.Text) == "" {
		return nil, errkind.Permanent(fmt.Errorf("bing: empty query"))
	}
	return &bingPager{engine: b, q: q, seq: sequence{engine: "bing"}, seen: map[string]bool{}}, nil
}

// header mimics the browser Bing expects. Accept-Encoding is left to
// net/http, which asks for gzip and decompresses it; naming br or zstd here
// would turn that off and hand us bytes we cannot decode.
func (b *bing) header() http.Header {
	return http.Header{
		"User-Agent":         {b.ua},
		"Accept":             {"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"},
		"Accept-Language":    {"en-US,en;q=0.9"},
		"Sec-Ch-Ua":          {`"Not(A:Brand";v="99", "Google Chrome";v="133", "Chromium";v="133"`},
		"Sec-Ch-Ua-Mobile":   {"?0"},
		"Sec-Ch-Ua-Platform": {`"Windows"`},
	}
}

func adlt(safe bool) string {
	if safe {
		return "strict"
	}
	return "off"
}

type bingPager struct {
	engine *bing
	q      Query
	seq    sequence
	seen   map[string]bool
	// next is the continuation Bing gave on the last page, relative to
	// base; first is the offset to ask for when it gave none.
	next  string
	first int
}

func (p *bingPager) Page(ctx context.Context, page int) ([]Result, error) {
	if err := p.seq.check(page); err != nil {
		return nil, err
	}
	pageURL, err := p.url(page)
	if err != nil {
		return nil, err
	}
	body, _, err := get(ctx, p.engine.client, "bing", pageURL, p.engine.header())
	if err != nil {
		return nil, err
	}
	parsed, err := parseBing(body)
	if err != nil {
		return nil, errkind.Permanent(fmt.Errorf("bing: parse page %d: %w", page, err))
	}
	if parsed.anchors == 0 || len(parsed.results) == 0 {
		switch {
		case parsed.noResults,
			// An async fragment past the end comes back empty.
			page > 0 && len(bytes.TrimSpace(body)) == 0:
			p.seq.finish()
			return nil, ErrNoMore
		}
		return nil, errMarkup("bing: 0 results parsed from a 200 page: markup changed?")
	}
	var out []Result
	for _, r := range parsed.results {
		if !p.seen[r.MediaURL] {
			p.seen[r.MediaURL] = true
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		p.seq.finish()
		return nil, ErrNoMore
	}
	p.next = parsed.nextURL
	if page == 0 {
		p.first = 1
	}
	p.first += bingPageSize
	p.seq.advance()
	return out, nil
}

// url returns the address of page. Page 0 is the search page; later pages
// use the continuation the previous page carried, or the documented async
// shape with the next offset.
func (p *bingPager) url(page int) (string, error) {
	base, err := url.Parse(p.engine.base + "/")
	if err != nil {
		return "", errkind.Fatal(fmt.Errorf("bing: bad base URL %q: %w", p.engine.base, err))
	}
	if page == 0 {
		u := base.JoinPath("images", "search")
		// Parameter order as a browser sends it; url.Values would sort.
		u.RawQuery = "q=" + url.QueryEscape(p.q.Text) + "&form=QBIDMH&first=1&adlt=" + adlt(p.q.SafeSearch)
		return u.String(), nil
	}
	var u *url.URL
	if p.next != "" {
		// The continuation is a path from the site root ("/images/async?..");
		// keep any path prefix of a configured base.
		ref, err := url.Parse(p.next)
		if err != nil {
			return "", errkind.WithCause(errkind.Permanent(fmt.Errorf("bing: bad continuation URL %q: %w", p.next, err)), "markup-changed")
		}
		u = base.JoinPath(ref.Path)
		u.RawQuery = ref.RawQuery
	} else {
		u = base.JoinPath("images", "async")
		u.RawQuery = "q=" + url.QueryEscape(p.q.Text) + "&first=" + strconv.Itoa(p.first) +
			"&count=" + strconv.Itoa(bingPageSize) + "&mmasync=1"
	}
	// The continuation does not repeat the safe-search choice; say it on
	// every request so a later page cannot fall back to the default.
	switch q := u.Query(); {
	case !q.Has("adlt") && u.RawQuery != "":
		u.RawQuery += "&adlt=" + adlt(p.q.SafeSearch)
	case !q.Has("adlt") || q.Get("adlt") != adlt(p.q.SafeSearch):
		q.Set("adlt", adlt(p.q.SafeSearch))
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}
