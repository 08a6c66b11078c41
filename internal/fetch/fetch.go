// Package fetch downloads one image URL at a time, politely and defensively:
// per-host concurrency and rate limits, Retry-After, jittered exponential
// backoff for retryable failures only, connect/read/total timeouts, a byte
// limit, a redirect limit, and a full decode check of whatever came back.
// It honours the hosts' consent (robots.txt, the noai and noimageai
// opt-outs) and stops calling a host that keeps refusing connections.
// It knows nothing of catalogs or stores: the gather stage decides what to
// do with the bytes.
package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/useragent"
)

// Options tunes a Fetcher. Zero values get the defaults in New.
type Options struct {
	PerHost        int           // concurrent requests per host (default 4)
	Rate           float64       // requests per second per host; 0 = unlimited
	Timeout        time.Duration // whole attempt, body included (default 60s)
	ConnectTimeout time.Duration // TCP+TLS connect (default 10s)
	ReadTimeout    time.Duration // longest silence while reading headers or body (default 20s)
	MaxBytes       int64         // larger bodies are refused (default 25 MiB)
	MaxRedirects   int           // default 5
	Retries        int           // extra attempts for retryable failures (default 3)
	BackoffBase    time.Duration // first backoff (default 500ms)
	BackoffMax     time.Duration // longest single wait, Retry-After included (default 60s)
	// UserAgent replaces the User-Agent built from Contact.
	UserAgent string
	// Contact (an email address or a URL) goes into the User-Agent, so a
	// site operator can reach whoever runs scour.
	Contact string
	// IgnoreRobots skips robots.txt, for one's own servers only.
	IgnoreRobots bool
	// HostFailures is how many connection failures in a row pause a host
	// (default 5; negative: never). After the pause one request probes it;
	// if that fails too, the host's other URLs fail at once with the
	// retryable cause host-down, so a later run tries them again.
	HostFailures int
	HostCooldown time.Duration // the pause (default 30s)
	Limits       imaging.Limits
	// Transport overrides the HTTP transport (tests inject faults with it).
	Transport http.RoundTripper
	// AllowFiles lets file:// URLs through (the folder source). Off by
	// default so that a URL list cannot read the local disk.
	AllowFiles bool
}

// Result is a downloaded, decoded and hashed image.
type Result struct {
	Data       []byte
	Meta       imaging.Meta
	SHA256     string
	HTTPStatus int
	Attempts   int
}

// Fetcher downloads images. It is safe for concurrent use.
type Fetcher struct {
	o      Options
	client *http.Client
	hosts  *hostTable
	robots *robotsCache
}

// New returns a Fetcher with o's settings.
func New(o Options) *Fetcher {
	if o.PerHost <= 0 {
		o.PerHost = 4
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 20 * time.Second
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 25 << 20
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = 5
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 500 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 60 * time.Second
	}
	if o.UserAgent == "" {
		o.UserAgent = useragent.String(o.Contact)
	}
	if o.HostFailures == 0 {
		o.HostFailures = 5
	}
	if o.HostCooldown <= 0 {
		o.HostCooldown = 30 * time.Second
	}
	tr := o.Transport
	if tr == nil {
		tr = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   o.ConnectTimeout,
			ResponseHeaderTimeout: o.ReadTimeout,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   o.PerHost,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		}
	}
	f := &Fetcher{o: o, hosts: newHostTable(o.PerHost, o.Rate), robots: newRobotsCache(robotsCacheHosts, robotsCacheBytes)}
	f.client = &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > o.MaxRedirects {
				return errkind.WithCause(errkind.Permanent(fmt.Errorf("more than %d redirects (last to %s)", o.MaxRedirects, req.URL.Redacted())), "too-many-redirects")
			}
			for _, v := range via {
				if v.URL.String() == req.URL.String() {
					return errkind.WithCause(errkind.Permanent(fmt.Errorf("redirect loop back to %s", req.URL.Redacted())), "redirect-loop")
				}
			}
			// Where a redirect lands has its own robots.txt, which counts.
			if !o.IgnoreRobots && req.Context().Value(robotsFetchKey{}) == nil && (req.URL.Scheme == "http" || req.URL.Scheme == "https") {
				if err := f.robotsAllow(req.Context(), req.URL); err != nil {
					return &hopErr{err}
				}
			}
			return nil
		},
	}
	return f
}

// Get downloads rawurl, retrying what may succeed later, and checks that the
// bytes are a whole image of an accepted size. Errors are classified with
// errkind and carry a cause; StatusOf returns the HTTP status, if any.
func (f *Fetcher) Get(ctx context.Context, rawurl string) (Result, error) {
	u, err := url.Parse(rawurl)
	if err != nil || u.Host == "" && u.Scheme != "file" {
		return Result{}, errkind.WithCause(errkind.Permanent(fmt.Errorf("not a URL: %q", rawurl)), "bad-url")
	}
	switch u.Scheme {
	case "http", "https":
	case "file":
		if !f.o.AllowFiles {
			return Result{}, errkind.WithCause(errkind.Permanent(fmt.Errorf("file URLs are only read from folder sources: %s", rawurl)), "bad-url")
		}
		return f.readFile(u.Path)
	default:
		return Result{}, errkind.WithCause(errkind.Permanent(fmt.Errorf("unsupported URL scheme %q in %s", u.Scheme, rawurl)), "bad-url")
	}
	var lastErr error
	for attempt := 1; attempt <= f.o.Retries+1; attempt++ {
		res, err := f.attempt(ctx, u)
		res.Attempts = attempt
		if err == nil {
			return res, nil
		}
		lastErr = err
		if !errkind.IsRetryable(err) || attempt > f.o.Retries || ctx.Err() != nil {
			break
		}
		if c := errkind.Cause(err); c == "host-down" || c == "robots-unreachable" {
			break // the same answer until a later run
		}
		wait := errkind.RetryAfter(err)
		if wait <= 0 {
			wait = backoff(f.o.BackoffBase, f.o.BackoffMax, attempt)
		}
		if wait > f.o.BackoffMax {
			// The server wants more patience than a run should spend on one
			// image: give up now, recorded as retryable, so a later run retries.
			break
		}
		if err := sleep(ctx, wait); err != nil {
			break
		}
	}
	if ctx.Err() != nil && !errkind.IsFatal(lastErr) {
		return Result{}, errkind.WithCause(errkind.Retryable(fmt.Errorf("interrupted: %w", ctx.Err()), 0), "interrupted")
	}
	return Result{}, lastErr
}

// backoff is full-jitter exponential backoff: uniform in [d/2, d] where d
// doubles each attempt, so many workers hitting one failing host spread out.
func backoff(base, max time.Duration, attempt int) time.Duration {
	d := base << (attempt - 1)
	if d > max || d <= 0 {
		d = max
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type statusErr struct {
	status int
	err    error
}

func (e *statusErr) Error() string { return e.err.Error() }
func (e *statusErr) Unwrap() error { return e.err }

// StatusOf returns the HTTP status code an error came with, or 0.
func StatusOf(err error) int {
	var s *statusErr
	if errors.As(err, &s) {
		return s.status
	}
	return 0
}

// hopErr is a failure decided while following a redirect (the target's
// robots.txt), which says nothing about the health of the first host.
type hopErr struct{ err error }

func (e *hopErr) Error() string { return e.err.Error() }
func (e *hopErr) Unwrap() error { return e.err }

func (f *Fetcher) attempt(ctx context.Context, u *url.URL) (Result, error) {
	if !f.o.IgnoreRobots {
		if err := f.robotsAllow(ctx, u); err != nil {
			return Result{}, err
		}
	}
	h := f.hosts.acquire(u.Host)
	probe, err := h.wait(ctx, true)
	if err != nil {
		f.hosts.release(h, false)
		return Result{}, err
	}
	outcome := outcomeNeutral
	defer func() {
		h.report(probe, outcome, f.o.HostFailures, f.o.HostCooldown)
		f.hosts.release(h, true)
	}()

	ctx, cancel := context.WithTimeout(ctx, f.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Result{}, errkind.WithCause(errkind.Permanent(err), "bad-url")
	}
	req.Header.Set("User-Agent", f.o.UserAgent)
	req.Header.Set("Accept", "image/avif,image/webp,image/png,image/jpeg,image/*;q=0.8,*/*;q=0.5")
	resp, err := f.client.Do(req)
	if err != nil {
		if isConnFailure(ctx, u, err) {
			outcome = outcomeFailed
		}
		return Result{}, classifyNetErr(ctx, err)
	}
	outcome = outcomeAnswered
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && optOutHeader(resp.Header) {
		// Decided on the headers: the body is not read.
		return Result{}, &statusErr{resp.StatusCode, errkind.WithCause(errkind.Permanent(fmt.Errorf("%s opts out of AI training (X-Robots-Tag: %s)", u.Redacted(), strings.Join(resp.Header.Values("X-Robots-Tag"), "; "))), "opted-out")}
	}
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused, but never much.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		err := httpStatusErr(resp)
		if ra := errkind.RetryAfter(err); ra > 0 {
			h.pause(ra)
		}
		return Result{}, &statusErr{resp.StatusCode, err}
	}
	if resp.ContentLength > f.o.MaxBytes {
		return Result{}, &statusErr{resp.StatusCode, errkind.WithCause(errkind.Permanent(fmt.Errorf("body of %d bytes exceeds the limit of %d (fetch.max_bytes)", resp.ContentLength, f.o.MaxBytes)), "too-large")}
	}
	data, err := readAll(ctx, resp.Body, f.o.MaxBytes, f.o.ReadTimeout, cancel)
	if err != nil {
		return Result{}, &statusErr{resp.StatusCode, err}
	}
	res, err := f.check(data)
	res.HTTPStatus = resp.StatusCode
	if err != nil {
		if (errkind.Cause(err) == "html" || strings.Contains(resp.Header.Get("Content-Type"), "html")) && optOutMeta(data) {
			err = errkind.WithCause(errkind.Permanent(fmt.Errorf("%s serves a page whose <meta name=\"robots\"> opts out of AI training", u.Redacted())), "opted-out")
		}
		return res, &statusErr{resp.StatusCode, err}
	}
	return res, nil
}

func (f *Fetcher) check(data []byte) (Result, error) {
	meta, err := imaging.Inspect(data, f.o.Limits)
	if err != nil {
		return Result{}, err
	}
	sum := sha256.Sum256(data)
	return Result{Data: data, Meta: meta, SHA256: hex.EncodeToString(sum[:])}, nil
}

func (f *Fetcher) readFile(path string) (Result, error) {
	fh, err := os.Open(path)
	if err != nil {
		return Result{}, errkind.WithCause(errkind.Permanent(err), "unreadable")
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, f.o.MaxBytes+1))
	if err != nil {
		return Result{}, errkind.WithCause(errkind.Permanent(err), "unreadable")
	}
	if int64(len(data)) > f.o.MaxBytes {
		return Result{}, errkind.WithCause(errkind.Permanent(fmt.Errorf("%s is larger than the limit of %d bytes (fetch.max_bytes)", path, f.o.MaxBytes)), "too-large")
	}
	res, err := f.check(data)
	res.Attempts = 1
	return res, err
}

// readAll reads at most max bytes, failing when the body is longer or when
// no byte arrives for idle (a slow-loris server), by cancelling the request.
func readAll(ctx context.Context, r io.Reader, max int64, idle time.Duration, cancel context.CancelFunc) ([]byte, error) {
	timer := time.AfterFunc(idle, cancel)
	defer timer.Stop()
	buf := make([]byte, 0, 64<<10)
	var stalled bool
	for {
		if int64(len(buf)) > max {
			return nil, errkind.WithCause(errkind.Permanent(fmt.Errorf("body exceeds the limit of %d bytes (fetch.max_bytes)", max)), "too-large")
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if n > 0 {
			stalled = !timer.Reset(idle)
		}
		if err == io.EOF {
			if int64(len(buf)) > max {
				continue
			}
			return buf, nil
		}
		if err != nil {
			if stalled || ctx.Err() != nil {
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return nil, errkind.WithCause(errkind.Retryable(fmt.Errorf("body not finished within the total timeout after %d bytes", len(buf)), 0), "timeout")
				}
				return nil, errkind.WithCause(errkind.Retryable(fmt.Errorf("server stalled for %s after %d bytes of the body", idle, len(buf)), 0), "stalled")
			}
			return nil, classifyNetErr(ctx, fmt.Errorf("reading body after %d bytes: %w", len(buf), err))
		}
	}
}

func classifyNetErr(ctx context.Context, err error) error {
	if errkind.Cause(err) != "error" {
		// Already classified, e.g. by CheckRedirect.
		var ue *url.Error
		if errors.As(err, &ue) && ue.Err != nil && errkind.Cause(ue.Err) != "error" {
			return ue.Err
		}
		return err
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errkind.Cause(err) == "timeout":
		return errkind.WithCause(errkind.Retryable(err, 0), "timeout")
	case errors.Is(ctx.Err(), context.Canceled):
		return errkind.WithCause(errkind.Retryable(err, 0), "stalled")
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsNotFound {
			return errkind.WithCause(errkind.Permanent(err), "dns")
		}
		return errkind.WithCause(errkind.Retryable(err, 0), "dns")
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "connection reset"), strings.Contains(msg, "broken pipe"), errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(msg, "EOF"):
		return errkind.WithCause(errkind.Retryable(err, 0), "connection-reset")
	case strings.Contains(msg, "connection refused"):
		return errkind.WithCause(errkind.Retryable(err, 0), "connection-refused")
	case strings.Contains(msg, "tls:") || strings.Contains(msg, "x509:"):
		return errkind.WithCause(errkind.Permanent(err), "tls")
	}
	return errkind.WithCause(errkind.Retryable(err, 0), "network")
}

func httpStatusErr(resp *http.Response) error {
	code := resp.StatusCode
	err := fmt.Errorf("HTTP %d %s", code, http.StatusText(code))
	cause := "http-" + strconv.Itoa(code)
	switch {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		return errkind.WithCause(errkind.Retryable(err, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())), cause)
	case code >= 500 || code == http.StatusRequestTimeout:
		return errkind.WithCause(errkind.Retryable(err, 0), cause)
	default:
		return errkind.WithCause(errkind.Permanent(err), cause)
	}
}

// parseRetryAfter reads delta-seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
