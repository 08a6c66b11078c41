package searchtest

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// Server serves recorded pages on loopback for an engine under test, and
// gives the suite its hooks: it counts requests, and can fail or hold the
// next one.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	requests int
	fail     int
	hold     chan struct{} // closed when the held request arrives
	closing  chan struct{} // releases held requests so Close can return
}

// NewServer serves h until the test ends.
func NewServer(t *testing.T, h http.Handler) *Server {
	s := &Server{closing: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		fail := s.fail > 0
		if fail {
			s.fail--
		}
		hold := s.hold
		s.hold = nil
		s.mu.Unlock()
		switch {
		case hold != nil:
			close(hold)
			select {
			case <-r.Context().Done():
			case <-s.closing:
			}
		case fail:
			w.Header().Set("Retry-After", strconv.Itoa(1))
			http.Error(w, "recorded server told to be busy", http.StatusServiceUnavailable)
		default:
			h.ServeHTTP(w, r)
		}
	}))
	// Cleanups run last first: release held requests, then close.
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(s.closing) })
	return s
}

// Requests returns how many requests arrived so far.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// FailNext answers the next request 503 with Retry-After: 1.
func (s *Server) FailNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail++
}

// HoldNext keeps the next request waiting until its client gives up; the
// channel is closed when it arrives.
func (s *Server) HoldNext() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = make(chan struct{})
	return s.hold
}

// Hook fills tg's request hooks from s.
func (s *Server) Hook(tg Target) Target {
	tg.Requests, tg.FailNext, tg.HoldNext = s.Requests, s.FailNext, s.HoldNext
	return tg
}
