package search

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// bingPage is what one Bing Images page (full page or async fragment) holds.
type bingPage struct {
	results   []Result // in page order, not yet deduplicated
	anchors   int      // result anchors seen, parsable or not
	nextURL   string   // the infinite-scroll continuation (data-nextUrl), relative
	noResults bool     // the page says the query matched nothing
}

// bingMeta is the JSON in an anchor's m (and, in 2017 markup, mad)
// attribute. Bing adds keys freely; only these are read.
type bingMeta struct {
	MURL string `json:"murl"` // the full-size image
	TURL string `json:"turl"` // Bing's thumbnail
	PURL string `json:"purl"` // the page the image is on
	T    string `json:"t"`    // title
	Desc string `json:"desc"`
}

// parseBing reads result anchors in every markup shape seen so far:
//   - 2020s: <a class="iusc" m="{json}">, size in the div.img_info span
//     ("1000×750") or in the href's expw/exph;
//   - 2019: <div class="imgpt"><a m='{json}'> with <div class="img_info"><span>W x H - fmt</span>;
//   - 2018: the same without img_info;
//   - 2017: m holds purl/murl and a separate mad attribute holds turl.
func parseBing(body []byte) (bingPage, error) {
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		return bingPage{}, err
	}
	var p bingPage
	var walk func(n *html.Node, imgpt *html.Node)
	walk = func(n *html.Node, imgpt *html.Node) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Script, atom.Style, atom.Noscript, atom.Template:
				return
			}
			if hasClass(n, "b_no") {
				p.noResults = true
			}
			if p.nextURL == "" {
				if v := attr(n, "data-nexturl"); v != "" {
					p.nextURL = v
				}
			}
			if n.DataAtom == atom.Div && hasClass(n, "imgpt") {
				imgpt = n
			}
			if n.DataAtom == atom.A && hasAttr(n, "m") && (hasClass(n, "iusc") || imgpt != nil) {
				p.anchors++
				if r, ok := bingResult(n, imgpt); ok {
					p.results = append(p.results, r)
				}
			}
		}
		if n.Type == html.TextNode && saysNoResults(n.Data) {
			p.noResults = true
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, imgpt)
		}
	}
	walk(doc, nil)
	return p, nil
}

// bingResult turns one result anchor into a Result; ok is false when its
// metadata has no usable image URL.
func bingResult(a, imgpt *html.Node) (Result, bool) {
	var m bingMeta
	if json.Unmarshal([]byte(attr(a, "m")), &m) != nil || m.MURL == "" {
		return Result{}, false
	}
	if m.TURL == "" {
		var mad bingMeta
		if json.Unmarshal([]byte(attr(a, "mad")), &mad) == nil {
			m.TURL = mad.TURL
		}
	}
	if m.TURL == "" {
		// Items in the "related searches" clusters carry empty turl and
		// purl; their thumbnail is the anchor's own image.
		m.TURL = imgSrc(a)
	}
	r := Result{MediaURL: m.MURL, ThumbURL: m.TURL, PageURL: m.PURL, Title: m.T}
	if r.Title == "" {
		r.Title = m.Desc
	}
	if r.Title == "" {
		r.Title = imgAlt(a)
	}
	r.Title = strings.TrimSpace(hitMarks.Replace(r.Title))
	if imgpt != nil {
		r.Width, r.Height = infoSize(imgpt)
	}
	if r.Width == 0 {
		r.Width, r.Height = hrefSize(attr(a, "href"))
	}
	return r, true
}

// hitMarks removes the private-use characters Bing wraps around the
// query's words in titles (U+E000 … U+E001) for highlighting.
var hitMarks = strings.NewReplacer("\ue000", "", "\ue001", "")

// sizeText matches "1000×750", "1 x 1 - jpeg" and "2000 x 1500 · jpeg".
var sizeText = regexp.MustCompile(`^\s*(\d+)\s*[x×]\s*(\d+)`)

// infoSize reads the width and height from the first span of the
// div.img_info inside a result's container.
func infoSize(imgpt *html.Node) (int, int) {
	info := find(imgpt, func(n *html.Node) bool { return n.DataAtom == atom.Div && hasClass(n, "img_info") })
	if info == nil {
		return 0, 0
	}
	span := find(info, func(n *html.Node) bool { return n.DataAtom == atom.Span })
	if span == nil {
		return 0, 0
	}
	m := sizeText.FindStringSubmatch(text(span))
	if m == nil {
		return 0, 0
	}
	w, _ := strconv.Atoi(m[1])
	h, _ := strconv.Atoi(m[2])
	return w, h
}

// hrefSize reads expw/exph from a result's detail-view link.
func hrefSize(href string) (int, int) {
	u, err := url.Parse(href)
	if err != nil {
		return 0, 0
	}
	q := u.Query()
	w, errW := strconv.Atoi(q.Get("expw"))
	h, errH := strconv.Atoi(q.Get("exph"))
	if errW != nil || errH != nil {
		return 0, 0
	}
	return w, h
}

// imgSrc returns the http(s) address of the image inside a, from src or
// from the lazy-loading attributes Bing uses instead.
func imgSrc(a *html.Node) string {
	img := find(a, func(n *html.Node) bool { return n.DataAtom == atom.Img })
	if img == nil {
		return ""
	}
	for _, k := range []string{"src", "data-src", "src2"} {
		if v := attr(img, k); strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://") {
			return v
		}
	}
	return ""
}

func imgAlt(a *html.Node) string {
	if img := find(a, func(n *html.Node) bool { return n.DataAtom == atom.Img }); img != nil {
		return strings.TrimSpace(attr(img, "alt"))
	}
	return ""
}

// noResultPhrases are what Bing has shown on pages for queries that match
// nothing. They are checked in visible text only: the same words sit in
// every page's scripts and styles.
var noResultPhrases = []string{
	"there are no results for",
	"no results found for",
	"we didn't find any results",
	"we did not find any results",
}

func saysNoResults(s string) bool {
	if len(s) < 20 {
		return false
	}
	s = strings.ToLower(s)
	for _, p := range noResultPhrases {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return true
		}
	}
	return false
}

func hasClass(n *html.Node, class string) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		if c == class {
			return true
		}
	}
	return false
}

// find returns the first element below n (depth first) that matches.
func find(n *html.Node, match func(*html.Node) bool) *html.Node {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && match(c) {
			return c
		}
		if f := find(c, match); f != nil {
			return f
		}
	}
	return nil
}

// text is the concatenated text below n.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}
