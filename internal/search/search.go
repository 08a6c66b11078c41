// Package search turns a query into candidate image URLs. Engines only
// search: the caller downloads what they return and records it, so nothing
// here imports fetch or catalog.
//
// New builds an engine by the name users write in config: "bing" and
// "duckduckgo" (scraped image search), "commons" (Wikimedia Commons API),
// "urls" (a list of URLs, plain or CSV) and "folder" (images already on
// disk, one subfolder per class). Each makes one attempt per Page call and
// marks its errors with errkind; rate limiting and retries belong to the
// caller.
package search

import (
	"context"
	"errors"
	"fmt"

	"github.com/scour-dev/scour/internal/errkind"
)

// ErrNoMore is returned by Pager.Page when the engine has nothing past the
// results it already returned. It is the one clear "end of results" signal;
// a page that parses to zero results for any other reason is an error.
var ErrNoMore = errors.New("no more results")

// Result is one candidate image.
type Result struct {
	MediaURL string // the full-size image (http, https or file URL)
	ThumbURL string // a thumbnail, when the engine gives one
	PageURL  string // the page the image was found on
	Title    string
	Width    int // 0 when unknown
	Height   int
	License  string // e.g. "CC BY-SA 4.0", when the source gives one
	Author   string
	Class    string // set only by engines that know the class themselves (folder; urls from a CSV class column)
}

// Query is what to search for.
type Query struct {
	Text       string
	SafeSearch bool // engines that support it filter adult content; default on in the CLI
}

// Engine searches one source.
//
// Page returns the results of page number page (0-based) for q. Pages are
// what the engine natively serves; their size varies. The caller keeps asking
// for the next page until it has enough URLs, Page returns ErrNoMore, or a
// page brings no URL it has not seen before (some engines repeat their last
// page forever). Errors are marked with errkind: retryable (429, 5xx,
// timeouts, with the server's Retry-After) or permanent (bad query, markup
// changed). A page that is served fine but parses to no results when more
// were expected must be reported as an error that says so (for example
// "bing: 0 results parsed from a 200 page: markup changed?").
//
// Engines keep per-search state (tokens, continuation URLs) inside the value
// returned by Search, so one Engine serves many queries concurrently.
type Engine interface {
	Name() string
	Search(ctx context.Context, q Query) (Pager, error)
}

// Pager walks the pages of one search.
//
// Page numbers start at 0 and must be asked for in order, because the engines
// learn where page n+1 starts from page n (continuation tokens, offsets, a
// file position). A page that failed may be asked for again with the same
// number: a Pager only moves on after a page succeeds. Asking for any other
// number is a permanent error. Once Page has returned ErrNoMore it keeps
// returning it. A Pager is used by one goroutine at a time.
type Pager interface {
	Page(ctx context.Context, page int) ([]Result, error)
}

// sequence enforces the Pager ordering contract for every engine.
type sequence struct {
	engine string
	next   int
	done   bool
}

// check reports whether page may be fetched now.
func (s *sequence) check(page int) error {
	if s.done {
		return ErrNoMore
	}
	if page != s.next {
		return errkind.Permanent(fmt.Errorf("%s: pages must be asked for in order: got page %d, want %d", s.engine, page, s.next))
	}
	return nil
}

// advance records that the current page succeeded.
func (s *sequence) advance() { s.next++ }

// finish records that nothing follows.
func (s *sequence) finish() { s.done = true }
