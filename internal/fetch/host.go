package fetch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/scour-dev/scour/internal/errkind"
)

// hostTable holds per-host politeness state. Entries are dropped when idle
// and healthy, so memory follows the number of busy or failing hosts, not
// the number of URLs.
type hostTable struct {
	mu      sync.Mutex
	perHost int
	rate    float64
	m       map[string]*host
	ops     int
}

// breaker is a host's circuit breaker state.
type breaker int

const (
	breakerClosed  breaker = iota // requests go through
	breakerOpen                   // paused after too many connection failures
	breakerProbing                // one request is testing the host; others wait for it
	breakerDown                   // the probe failed too: no more requests this run
)

// outcome is what a request taught about its host's health.
type outcome int

const (
	outcomeNeutral  outcome = iota // nothing (interrupted, or failed for another reason)
	outcomeAnswered                // the host answered, with any status
	outcomeFailed                  // no connection could be made or kept
)

type host struct {
	name     string
	sem      chan struct{}
	mu       sync.Mutex
	next     time.Time // earliest start of the next request (rate limit)
	until    time.Time // paused by Retry-After until then
	interval time.Duration
	users    int // guarded by hostTable.mu
	// The circuit breaker, guarded by mu.
	state     breaker
	fails     int           // connection failures in a row
	openUntil time.Time     // end of the pause in breakerOpen
	probeDone chan struct{} // closed when the probe reports, in breakerProbing
}

func newHostTable(perHost int, rate float64) *hostTable {
	return &hostTable{perHost: perHost, rate: rate, m: map[string]*host{}}
}

func (t *hostTable) acquire(name string) *host {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.m[name]
	if h == nil {
		h = &host{name: name, sem: make(chan struct{}, t.perHost)}
		if t.rate > 0 {
			h.interval = time.Duration(float64(time.Second) / t.rate)
		}
		t.m[name] = h
	}
	h.users++
	return h
}

func (t *hostTable) release(h *host, held bool) {
	if held {
		<-h.sem
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	h.users--
	t.ops++
	if t.ops%1024 != 0 {
		return
	}
	now := time.Now()
	for k, x := range t.m {
		x.mu.Lock()
		// A failing host is kept: forgetting it would forget the failures.
		idle := x.users == 0 && now.After(x.next) && now.After(x.until) && x.state == breakerClosed && x.fails == 0
		x.mu.Unlock()
		if idle {
			delete(t.m, k)
		}
	}
}

// wait waits for the rate limit, any pause and the circuit breaker, having
// first taken a per-host slot when slot is set (a robots.txt request takes
// none: it comes once per host, and the image requests holding the slots
// may be waiting for it). On success, a caller with a slot holds it until
// release(h, true), and must report the request's outcome; probe says the
// request is the one testing a paused host. On error it holds nothing.
func (h *host) wait(ctx context.Context, slot bool) (probe bool, err error) {
	if slot {
		select {
		case h.sem <- struct{}{}:
		case <-ctx.Done():
			return false, interrupted(ctx.Err())
		}
	}
	fail := func(err error) (bool, error) {
		if slot {
			<-h.sem
		}
		return false, err
	}
	for {
		h.mu.Lock()
		now := time.Now()
		switch h.state {
		case breakerDown:
			h.mu.Unlock()
			return fail(errkind.WithCause(errkind.Retryable(fmt.Errorf("%s is down: %d connection failures in a row, and another after a pause; its other URLs wait for the next run", h.name, h.fails), 0), "host-down"))
		case breakerProbing:
			done := h.probeDone
			h.mu.Unlock()
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return fail(interrupted(ctx.Err()))
			}
		}
		start := now
		if h.next.After(start) {
			start = h.next
		}
		if h.until.After(start) {
			start = h.until
		}
		if h.state == breakerOpen && h.openUntil.After(start) {
			start = h.openUntil
		}
		if !start.After(now) {
			h.next = now.Add(h.interval)
			if h.state == breakerOpen {
				h.state, h.probeDone, probe = breakerProbing, make(chan struct{}), true
			}
			h.mu.Unlock()
			return probe, nil
		}
		h.mu.Unlock()
		if err := sleep(ctx, start.Sub(now)); err != nil {
			return fail(interrupted(err))
		}
	}
}

func interrupted(err error) error {
	return errkind.WithCause(errkind.Retryable(fmt.Errorf("interrupted: %w", err), 0), "interrupted")
}

// report feeds a request's outcome to the breaker: after failures
// connection failures in a row (0 or less: never) the host is paused for
// cooldown; a failed probe takes it down; any answer closes the breaker.
func (h *host) report(probe bool, o outcome, failures int, cooldown time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch o {
	case outcomeAnswered:
		h.fails, h.state = 0, breakerClosed
	case outcomeFailed:
		h.fails++
		switch {
		case probe:
			h.state = breakerDown
		case h.state == breakerClosed && failures > 0 && h.fails >= failures:
			h.state, h.openUntil = breakerOpen, time.Now().Add(cooldown)
		}
	case outcomeNeutral:
		if probe {
			// The probe learnt nothing: let the next request probe at once.
			h.state, h.openUntil = breakerOpen, time.Now()
		}
	}
	if probe {
		close(h.probeDone)
		h.probeDone = nil
	}
}

func (h *host) pause(d time.Duration) {
	h.mu.Lock()
	if u := time.Now().Add(d); u.After(h.until) {
		h.until = u
	}
	h.mu.Unlock()
}

// isConnFailure reports whether err, from a request to u that got no
// response, means that u's host could not be reached: refused, reset, no
// DNS answer, a failed TLS handshake, a connect timeout. A response that
// comes too slowly, a caller that gave up, a redirect refused by the
// target's robots.txt, or a failure at a redirect's other host say nothing
// about u's host.
func isConnFailure(ctx context.Context, u *url.URL, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var hop *hopErr
	if errors.As(err, &hop) {
		return false
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if at, perr := url.Parse(ue.URL); perr == nil && at.Host != "" && at.Host != u.Host {
			return false
		}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true // refused, unreachable, connect timeout
	}
	if strings.Contains(err.Error(), "TLS handshake timeout") {
		return true
	}
	switch errkind.Cause(classifyNetErr(ctx, err)) {
	case "connection-reset", "connection-refused", "tls":
		return true
	}
	return false
}
