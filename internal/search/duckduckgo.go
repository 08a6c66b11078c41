package search

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/scour-dev/scour/internal/errkind"
)

const ddgBase = "https://duckduckgo.com"

// NewDuckDuckGo returns an engine for DuckDuckGo's image search. It reads
// BaseURL, Client, UserAgent and Region from opts.
//
// DuckDuckGo serves images from a JSON endpoint (i.js) that wants a vqd
// token first found in its search page. Each search fetches its own token
// on page 0, and follows the response's next link; no next link ends the
// search.
func NewDuckDuckGo(opts Options) Engine {
	base := strings.TrimRight(opts.BaseURL, "/")
	if base == "" {
		base = ddgBase
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = bingUA
	}
	region := opts.Region
	if region == "" {
		region = "wt-wt"
	}
	return &ddg{base: base, client: clientOr(opts.Client), ua: ua, region: region}
}

type ddg struct {
	base   string
	client *http.Client
	ua     string
	region string
}

func (d *ddg) Name() string { return "duckduckgo" }

func (d *ddg) Search(ctx context.Context, q Query) (Pager, error) {
	if strings.TrimSpace(q.Text) == "" {
		return nil, errkind.Permanent(errors.New("duckduckgo: empty query"))
	}
	return &ddgPager{engine: d, q: q, seq: sequence{engine: "duckduckgo"}, seen: map[string]bool{}}, nil
}

type ddgPager struct {
	engine *ddg
	q      Query
	seq    sequence
	seen   map[string]bool
	vqd    string
	offset int
}

// ddgResponse is the i.js JSON. Only the fields read are listed.
type ddgResponse struct {
	// Results is a pointer so that a response without the key (a changed
	// API) is told apart from an empty list (no more images).
	Results *[]struct {
		Title     string  `json:"title"`
		Image     string  `json:"image"`
		Thumbnail string  `json:"thumbnail"`
		URL       string  `json:"url"`
		Width     flexInt `json:"width"`
		Height    flexInt `json:"height"`
	} `json:"results"`
	Next string `json:"next"`
}

func (p *ddgPager) Page(ctx context.Context, page int) ([]Result, error) {
	if err := p.seq.check(page); err != nil {
		return nil, err
	}
	if p.vqd == "" {
		if err := p.token(ctx); err != nil {
			return nil, err
		}
	}
	body, _, err := get(ctx, p.engine.client, "duckduckgo", p.url(), p.header())
	if err != nil {
		if errkind.Cause(err) == "http-403" {
			// i.js answers 403 when the token is stale or the client is
			// throttled; a later attempt with a fresh token usually works.
			p.vqd = ""
			return nil, errkind.WithCause(errkind.Retryable(err, 0), "http-403")
		}
		return nil, err
	}
	var resp ddgResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, errkind.WithCause(errkind.Permanent(fmt.Errorf("duckduckgo: i.js response is not the expected JSON: %w", err)), "markup-changed")
	}
	if resp.Results == nil {
		return nil, errMarkup("duckduckgo: i.js response has no results list: API changed?")
	}
	var out []Result
	for _, r := range *resp.Results {
		if r.Image == "" || p.seen[r.Image] {
			continue
		}
		p.seen[r.Image] = true
		out = append(out, Result{
			MediaURL: r.Image, ThumbURL: r.Thumbnail, PageURL: r.URL, Title: r.Title,
			Width: int(r.Width), Height: int(r.Height),
		})
	}
	if len(out) == 0 {
		p.seq.finish()
		return nil, ErrNoMore
	}
	if resp.Next == "" {
		p.seq.finish()
		return out, nil
	}
	next, err := nextOffset(resp.Next)
	if err != nil {
		return nil, errkind.WithCause(errkind.Permanent(fmt.Errorf("duckduckgo: %w", err)), "markup-changed")
	}
	p.offset = next
	p.seq.advance()
	return out, nil
}

// nextOffset reads s= from the next link ("i.js?q=..&s=100&..."). Only the
// offset is taken: the other parameters are ours already, and the link
// carries neither the token nor the safe-search choice.
func nextOffset(next string) (int, error) {
	u, err := url.Parse(next)
	if err != nil {
		return 0, fmt.Errorf("bad next link %q: %w", next, err)
	}
	s, err := strconv.Atoi(u.Query().Get("s"))
	if err != nil || s < 0 {
		return 0, fmt.Errorf("next link %q has no offset", next)
	}
	return s, nil
}

func (p *ddgPager) url() string {
	safe := "1"
	if !p.q.SafeSearch {
		safe = "-1"
	}
	// Parameter order as the site's own script sends it.
	return p.engine.base + "/i.js?l=" + url.QueryEscape(p.engine.region) + "&o=json&q=" + url.QueryEscape(p.q.Text) +
		"&vqd=" + url.QueryEscape(p.vqd) + "&f=,,,,,&p=" + safe + "&s=" + strconv.Itoa(p.offset)
}

func (p *ddgPager) header() http.Header {
	return http.Header{
		"User-Agent":       {p.engine.ua},
		"Accept":           {"application/json, text/javascript, */*; q=0.01"},
		"Accept-Language":  {"en-US,en;q=0.9"},
		"Referer":          {p.engine.base + "/"},
		"X-Requested-With": {"XMLHttpRequest"},
	}
}

// token fetches the search page and keeps its vqd.
func (p *ddgPager) token(ctx context.Context) error {
	h := http.Header{
		"User-Agent":      {p.engine.ua},
		"Accept":          {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		"Accept-Language": {"en-US,en;q=0.9"},
	}
	body, _, err := get(ctx, p.engine.client, "duckduckgo", p.engine.base+"/?q="+url.QueryEscape(p.q.Text), h)
	if err != nil {
		return err
	}
	vqd := extractVQD(body)
	if vqd == "" {
		return errkind.WithCause(errkind.Permanent(errors.New("duckduckgo: no vqd token in the search page (layout changed, or the request was blocked)")), "no-vqd")
	}
	p.vqd = vqd
	return nil
}

// extractVQD finds the token in the three spellings the page has used:
// vqd="…", vqd=…& and vqd='…'.
func extractVQD(body []byte) string {
	for _, delim := range [][2]string{{`vqd="`, `"`}, {`vqd=`, `&`}, {`vqd='`, `'`}} {
		i := bytes.Index(body, []byte(delim[0]))
		if i < 0 {
			continue
		}
		rest := body[i+len(delim[0]):]
		j := bytes.Index(rest, []byte(delim[1]))
		if j <= 0 || j > 200 {
			continue
		}
		tok := string(rest[:j])
		// A quote here means vqd=…& matched inside vqd="…" of another
		// spelling; a real token has no quotes or spaces.
		if !strings.ContainsAny(tok, `"' <>`) {
			return tok
		}
	}
	return ""
}

// flexInt reads a size given as a JSON number or a numeric string, and
// anything else as 0 (unknown), so one oddly typed size does not throw away
// a whole page of results.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	n, err := strconv.ParseFloat(strings.Trim(string(b), `"`), 64)
	if err != nil || n < 0 || n > 1<<30 {
		n = 0
	}
	*f = flexInt(n)
	return nil
}
