package search

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/html"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/useragent"
)

const (
	commonsBase = "https://commons.wikimedia.org"
	// commonsPageSize keeps each reply small: extmetadata is bulky, and the
	// API splits an oversized batch into continuations anyway.
	commonsPageSize = 50
	// commonsLagWait is the wait asked for on a maxlag error when the
	// response has no Retry-After.
	commonsLagWait = 5 * time.Second
)

// NewCommons returns an engine for Wikimedia Commons files, through the
// MediaWiki action API (generator=search in the File: namespace, with
// imageinfo). It reads BaseURL (the wiki's origin; the API is at
// /w/api.php below it), Client, UserAgent, Contact and PageSize from opts.
// Its User-Agent follows Wikimedia's policy: scour's name and version, its
// home page, the operator's contact, and the word bot.
//
// Results carry the file's license (LicenseShortName) and author (Artist,
// as plain text). Files that are not raster images scour can decode (PDF,
// DjVu, SVG, video, audio) are left out.
func NewCommons(opts Options) Engine {
	base := strings.TrimRight(opts.BaseURL, "/")
	if base == "" {
		base = commonsBase
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = useragent.String(opts.Contact)
	}
	size := opts.PageSize
	if size <= 0 || size > 500 {
		size = commonsPageSize
	}
	return &commons{base: base, client: clientOr(opts.Client), ua: ua, size: size}
}

type commons struct {
	base   string
	client *http.Client
	ua     string
	size   int
}

func (c *commons) Name() string { return "commons" }

func (c *commons) Search(ctx context.Context, q Query) (Pager, error) {
	if strings.TrimSpace(q.Text) == "" {
		return nil, errkind.Permanent(errors.New("commons: empty query"))
	}
	return &commonsPager{engine: c, q: q, seq: sequence{engine: "commons"}, seen: map[string]bool{}}, nil
}

type commonsPager struct {
	engine *commons
	q      Query
	seq    sequence
	seen   map[string]bool
	// cont is the API's continue block from the last response, sent back
	// verbatim as the MediaWiki continuation protocol requires.
	cont url.Values
}

// commonsResponse is the part of an action=query reply that is read.
type commonsResponse struct {
	Error *struct {
		Code string `json:"code"`
		Info string `json:"info"`
	} `json:"error"`
	Continue map[string]json.RawMessage `json:"continue"`
	Query    *struct {
		// Pages is a list with formatversion=2 and an object keyed by page
		// id with the older format; both are accepted.
		Pages json.RawMessage `json:"pages"`
	} `json:"query"`
}

type commonsPage struct {
	Title string `json:"title"`
	// Index is the page's rank in the search: pages come back sorted by
	// id, not by relevance.
	Index     int           `json:"index"`
	ImageInfo []commonsInfo `json:"imageinfo"`
	// VideoInfo replaces imageinfo for audio and video files on wikis with
	// TimedMediaHandler; it is read so that its MIME type, not its absence,
	// decides.
	VideoInfo []commonsInfo `json:"videoinfo"`
}

type commonsInfo struct {
	URL            string                     `json:"url"`
	ThumbURL       string                     `json:"thumburl"`
	DescriptionURL string                     `json:"descriptionurl"`
	Width          int                        `json:"width"`
	Height         int                        `json:"height"`
	Mime           string                     `json:"mime"`
	ExtMetadata    map[string]json.RawMessage `json:"extmetadata"`
}

func (p *commonsPager) Page(ctx context.Context, page int) ([]Result, error) {
	if err := p.seq.check(page); err != nil {
		return nil, err
	}
	body, header, err := get(ctx, p.engine.client, "commons", p.url(), http.Header{
		"User-Agent": {p.engine.ua},
		"Accept":     {"application/json"},
	})
	if err != nil {
		return nil, err
	}
	var resp commonsResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, errkind.WithCause(errkind.Permanent(fmt.Errorf("commons: response is not the expected JSON: %w", err)), "markup-changed")
	}
	if resp.Error != nil {
		return nil, commonsError(resp.Error.Code, resp.Error.Info, header)
	}
	var pages []commonsPage
	if resp.Query != nil {
		if pages, err = decodePages(resp.Query.Pages); err != nil {
			return nil, errkind.WithCause(errkind.Permanent(fmt.Errorf("commons: %w", err)), "markup-changed")
		}
	}
	var out []Result
	for _, pg := range pages {
		if r, ok := commonsResult(pg); ok && !p.seen[r.MediaURL] {
			p.seen[r.MediaURL] = true
			out = append(out, r)
		}
	}
	if len(resp.Continue) == 0 {
		p.seq.finish()
		if len(out) == 0 {
			return nil, ErrNoMore
		}
		return out, nil
	}
	if p.cont, err = continueValues(resp.Continue); err != nil {
		return nil, errkind.WithCause(errkind.Permanent(fmt.Errorf("commons: %w", err)), "markup-changed")
	}
	// A batch can hold only files that are filtered out (videos, PDFs);
	// that is an empty page, not the end.
	p.seq.advance()
	return out, nil
}

func (p *commonsPager) url() string {
	v := url.Values{
		"action":              {"query"},
		"format":              {"json"},
		"formatversion":       {"2"},
		"generator":           {"search"},
		"gsrnamespace":        {"6"},
		"gsrsearch":           {"filetype:bitmap " + p.q.Text},
		"gsrlimit":            {strconv.Itoa(p.engine.size)},
		"prop":                {"imageinfo"},
		"iiprop":              {"url|size|mime|extmetadata"},
		"iiextmetadatafilter": {"LicenseShortName|Artist"},
		"iiurlwidth":          {"320"},
		// Back off when the database replicas lag, as Wikimedia asks
		// of automated clients.
		"maxlag": {"5"},
	}
	for k, vals := range p.cont {
		v[k] = vals
	}
	return p.engine.base + "/w/api.php?" + v.Encode()
}

// commonsError classifies an API error reply (served with status 200).
func commonsError(code, info string, header http.Header) error {
	err := fmt.Errorf("commons: API error %s: %s", code, info)
	switch code {
	case "maxlag", "ratelimited", "readonly":
		wait := retryAfter(header.Get("Retry-After"), time.Now())
		if wait == 0 && code == "maxlag" {
			wait = commonsLagWait
		}
		return errkind.WithCause(errkind.Retryable(err, wait), "api-"+code)
	}
	return errkind.WithCause(errkind.Permanent(err), "api-"+code)
}

// decodePages reads query.pages in either format, in search rank order.
func decodePages(raw json.RawMessage) ([]commonsPage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, nil
	}
	var pages []commonsPage
	if raw[0] == '{' {
		var byID map[string]commonsPage
		if err := json.Unmarshal(raw, &byID); err != nil {
			return nil, fmt.Errorf("query.pages: %w", err)
		}
		for _, p := range byID {
			pages = append(pages, p)
		}
	} else if err := json.Unmarshal(raw, &pages); err != nil {
		return nil, fmt.Errorf("query.pages: %w", err)
	}
	sort.SliceStable(pages, func(i, j int) bool {
		if pages[i].Index != pages[j].Index {
			return pages[i].Index < pages[j].Index
		}
		return pages[i].Title < pages[j].Title
	})
	return pages, nil
}

// continueValues turns the continue block into request parameters. Values
// are strings or numbers ("gsroffset": 20); both go back as written.
func continueValues(cont map[string]json.RawMessage) (url.Values, error) {
	v := url.Values{}
	for k, raw := range cont {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			v.Set(k, s)
			continue
		}
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, fmt.Errorf("continue.%s is neither a string nor a number: %s", k, raw)
		}
		v.Set(k, n.String())
	}
	return v, nil
}

// commonsResult turns one page into a Result; ok is false for pages with
// no file information (not a file, or missing) and for files that are not
// raster images.
func commonsResult(pg commonsPage) (Result, bool) {
	infos := pg.ImageInfo
	if len(infos) == 0 {
		infos = pg.VideoInfo
	}
	if len(infos) == 0 {
		return Result{}, false
	}
	ii := infos[0]
	if ii.URL == "" || !rasterMIME(ii.Mime) {
		return Result{}, false
	}
	license, author := commonsCredit(ii.ExtMetadata)
	return Result{
		MediaURL: ii.URL,
		ThumbURL: ii.ThumbURL,
		PageURL:  ii.DescriptionURL,
		Title:    strings.TrimPrefix(pg.Title, "File:"),
		Width:    ii.Width,
		Height:   ii.Height,
		License:  license,
		Author:   author,
	}, true
}

// rasterMIME reports whether a file is a bitmap scour can decode. SVG is an
// image/ type but has no pixels to train on; DjVu and TIFF files on Commons
// are mostly archival scans of documents, often hundreds of megabytes, so
// only the common photo formats pass.
func rasterMIME(mime string) bool {
	switch strings.ToLower(strings.TrimSpace(mime)) {
	case "image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/x-bmp":
		return true
	}
	return false
}

// commonsCredit reads the license short name and the author, with the
// author's HTML (usually a link to a user page) reduced to its text.
func commonsCredit(meta map[string]json.RawMessage) (license, author string) {
	return htmlText(extValue(meta, "LicenseShortName")), htmlText(extValue(meta, "Artist"))
}

// extValue returns extmetadata[key].value as a string; the API gives
// numbers for some keys.
func extValue(meta map[string]json.RawMessage, key string) string {
	raw, ok := meta[key]
	if !ok {
		return ""
	}
	var field struct {
		Value json.RawMessage `json:"value"`
	}
	if json.Unmarshal(raw, &field) != nil || len(field.Value) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(field.Value, &s) == nil {
		return s
	}
	return string(field.Value)
}

// htmlText returns the text of an HTML fragment with whitespace collapsed.
func htmlText(fragment string) string {
	if !strings.ContainsAny(fragment, "<&") {
		return strings.Join(strings.Fields(fragment), " ")
	}
	z := html.NewTokenizer(strings.NewReader(fragment))
	var b strings.Builder
	for {
		switch z.Next() {
		case html.ErrorToken:
			return strings.Join(strings.Fields(b.String()), " ")
		case html.TextToken:
			b.Write(z.Text())
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			// Block tags separate words ("<li>a</li><li>b</li>" is "a b");
			// inline ones do not ("<b>Der</b>Hexer").
			if name, _ := z.TagName(); blockTags[string(name)] {
				b.WriteByte(' ')
			}
		}
	}
}

var blockTags = map[string]bool{
	"br": true, "p": true, "div": true, "li": true, "ul": true, "ol": true,
	"tr": true, "td": true, "th": true, "table": true, "dd": true, "dt": true,
}
