// Package review is `scour review`: a local web page where a person looks at
// the images clean quarantined, beside their class's reference images, and
// keeps or discards each one with a click or a key.
//
// A decision is written at once: "keep" puts the image back among the kept
// images (clean.Restore) and tells clean never to quarantine it again;
// "discard" leaves it in quarantine and tells clean to keep it there
// (clean.SetDecision); "move" files a misfiled image under the class clean
// suggests (clean.Reclass), and clean keeps it there. Undo takes the last
// decision back. Decisions live in the catalog, so they survive closing
// the page and restarting the server, and clean learns from them
// (catalog.ReviewExamples). Each card shows clean's off-topic and
// misfiled scores against their thresholds, the most doubtful first. The
// page never holds the whole quarantine: it reads counts first and then
// each list a page at a time as it scrolls to it (items.go), and draws only
// the cards on screen.
//
// The page is served on a loopback address only, to one person: the URL
// carries a random key that the first visit trades for a cookie, every
// request must name the server's own address in its Host header (so a
// DNS-rebinding page cannot reach it), and every request that changes
// anything must also come from the page's own origin and carry the key in a
// header. Images are named by content hash and reference images by their
// place in the class list, never by a path, and are always re-encoded
// before they are sent.
package review

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/store"
)

// stage names review's progress events.
const stage = "review"

// DefaultAddr lets the system pick a free port on the IPv4 loopback.
const DefaultAddr = "127.0.0.1:0"

// Class is one class as the page shows it.
type Class struct {
	Name string
	// References are the class's reference images as scour.yaml lists
	// them: paths relative to the project directory, or absolute paths
	// inside it. A path that leads outside the project directory, through
	// ".." or a symbolic link, is not shown.
	References []string
}

// Options configure Start.
type Options struct {
	Catalog    *catalog.Catalog
	Store      store.Store
	ProjectDir string
	Classes    []Class
	// Addr is the host:port to listen on; "" means DefaultAddr. The host
	// must be a loopback IP address or "localhost".
	Addr   string
	Events progress.Sink
}

// Server is a running review page.
type Server struct {
	o      Options
	events progress.Sink
	root   *os.Root // the project directory: reference images are read only through it
	refs   map[string][]reference
	http   *http.Server
	url    string
	secret string
	cookie string
	hosts  map[string]bool // Host headers that name this server
	origin string
	thumbs chan struct{} // bounds how many images are decoded at once
	counts *counts
	// decide serialises decisions: each is several steps across the store
	// and the catalog, and two at once on one image would interleave them.
	decide chan struct{}
	done   chan struct{}
	err    error // why serving stopped, read after done closes

	closeOnce sync.Once
	closeErr  error
}

// Start checks the options, repairs any decision a crash interrupted,
// listens and serves the page until ctx ends or Close is called. A
// non-loopback Addr is refused before anything is opened.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Catalog == nil || o.Store == nil || o.ProjectDir == "" {
		return nil, errkind.Fatal(errors.New("review: a catalog, a store and a project directory are needed"))
	}
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	bind, err := loopbackAddr(o.Addr)
	if err != nil {
		return nil, errkind.Permanent(err)
	}
	s := &Server{
		o:      o,
		events: o.Events,
		thumbs: make(chan struct{}, min(4, runtime.GOMAXPROCS(0))),
		counts: &counts{cat: o.Catalog},
		decide: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	if s.events == nil {
		s.events = progress.Discard
	}
	if err := s.recover(ctx); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(o.ProjectDir)
	if err != nil {
		return nil, errkind.Fatal(fmt.Errorf("review: project directory %s: %w", o.ProjectDir, err))
	}
	if s.root, err = os.OpenRoot(dir); err != nil {
		return nil, errkind.Fatal(fmt.Errorf("review: project directory: %w", err))
	}
	s.refs = s.resolveReferences(dir)
	s.secret = rand.Text()

	ln, err := net.Listen("tcp", bind)
	if err != nil {
		s.root.Close()
		return nil, errkind.Fatal(fmt.Errorf("review: listening on %s: %w", o.Addr, err))
	}
	addr := ln.Addr().(*net.TCPAddr)
	port := strconv.Itoa(addr.Port)
	host := net.JoinHostPort(addr.IP.String(), port)
	s.hosts = map[string]bool{host: true, "localhost:" + port: true}
	s.origin = "http://" + host
	s.cookie = "scour-review-" + port
	s.url = s.origin + "/?" + url.Values{keyParam: {s.secret}}.Encode()
	s.http = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	// The page's first request is for the counts: they are made while the
	// browser opens. An error here is met again by that request, which
	// reports it.
	go s.counts.groups(ctx)
	go func() {
		err := s.http.Serve(ln)
		if !errors.Is(err, http.ErrServerClosed) {
			s.err = fmt.Errorf("review: serving the page: %w", err)
		}
		close(s.done)
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.done:
		}
	}()
	return s, nil
}

// URL is the address to open, with the session key in it. Anyone who has
// it can decide about images, so show it only to the person reviewing.
func (s *Server) URL() string { return s.url }

// Wait blocks until the server stops and returns why, or nil when it was
// closed or its context ended.
func (s *Server) Wait() error {
	<-s.done
	return s.err
}

// Close stops the server, letting requests in flight (a decision half
// made) finish for a few seconds first. Calling it again does nothing.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := s.http.Shutdown(ctx)
		<-s.done
		if cerr := s.root.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			s.closeErr = fmt.Errorf("review: closing: %w", err)
		}
	})
	return s.closeErr
}

// loopbackAddr checks that addr names a loopback host and returns the
// address to bind. "localhost" is bound as 127.0.0.1 rather than resolved,
// since a hosts file could map it anywhere.
func loopbackAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("review: address %q: %w", addr, err)
	}
	if host == "localhost" {
		return net.JoinHostPort("127.0.0.1", port), nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("review: address %q is not a loopback address: the page lets whoever reaches it move images, so it is only served on 127.0.0.1, ::1 or localhost", addr)
	}
	return addr, nil
}
