package search

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/scour-dev/scour/internal/errkind"
)

// maxBody caps what one search page may weigh. A real Bing result page is
// under 1 MB; anything far larger is not a result page and would only eat
// memory.
const maxBody = 16 << 20

// defaultClient is used when Options.Client is nil. The timeout bounds one
// page request; the caller's context can cut it shorter.
var defaultClient = &http.Client{Timeout: 30 * time.Second}

// get performs one GET and returns the body and header of a 200 response. Every failure
// is classified: 429, 408 and 5xx are retryable (with the server's
// Retry-After), other statuses permanent, transport errors as errkind sees
// them, and a cancelled context is returned as is so the caller can tell.
func get(ctx context.Context, client *http.Client, engine, rawURL string, header http.Header) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, nil, errkind.Permanent(fmt.Errorf("%s: build request: %w", engine, err))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("%s: %w", engine, ctx.Err())
		}
		return nil, nil, transportError(engine, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, nil, statusError(engine, resp)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("%s: %w", engine, ctx.Err())
		}
		return nil, nil, errkind.Retryable(fmt.Errorf("%s: read body: %w", engine, err), 0)
	}
	if len(body) > maxBody {
		return nil, nil, errkind.WithCause(errkind.Permanent(fmt.Errorf("%s: response larger than %d bytes", engine, maxBody)), "too-large")
	}
	return body, resp.Header, nil
}

// transportError classifies a request that got no response. Network
// failures (refused, reset, timed out, DNS, a dropped connection) are worth
// another try; the rest (an unsupported scheme, a bad certificate) will
// fail the same way every time. The cause names the failure in fetch's
// words, so a summary can tell "no network" from "the engine is down".
func transportError(engine string, err error) error {
	wrapped := fmt.Errorf("%s: %w", engine, err)
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		// *url.Error itself satisfies net.Error; what it wraps decides.
		inner = ue.Err
	}
	var ne net.Error
	if errors.As(inner, &ne) || errors.Is(inner, io.EOF) || errors.Is(inner, io.ErrUnexpectedEOF) {
		return errkind.WithCause(errkind.Retryable(wrapped, 0), netCause(inner))
	}
	return errkind.Permanent(wrapped)
}

// netCause names a network failure.
func netCause(err error) string {
	var dnsErr *net.DNSError
	var ne net.Error
	switch {
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection-refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection-reset"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "network-unreachable"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "network"
}

// statusError classifies a non-200 response.
func statusError(engine string, resp *http.Response) error {
	err := fmt.Errorf("%s: HTTP %s from %s", engine, resp.Status, redact(resp.Request))
	cause := "http-" + strconv.Itoa(resp.StatusCode)
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests, code == http.StatusRequestTimeout, code >= 500:
		return errkind.WithCause(errkind.Retryable(err, retryAfter(resp.Header.Get("Retry-After"), time.Now())), cause)
	default:
		return errkind.WithCause(errkind.Permanent(err), cause)
	}
}

// redact names the endpoint without its query, which can hold session
// tokens (DuckDuckGo's vqd) that have no business in logs.
func redact(req *http.Request) string {
	if req == nil || req.URL == nil {
		return "?"
	}
	u := *req.URL
	u.RawQuery = ""
	return u.String()
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date.
// Anything unparsable, or a date in the past, gives 0 (the caller then picks
// its own backoff).
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	if d := t.Sub(now); d > 0 {
		return d.Round(time.Second)
	}
	return 0
}

// ErrMarkupChanged is wrapped by the "served fine, parsed to nothing"
// errors: the engine changed its page layout, and only a new scour helps.
var ErrMarkupChanged = errors.New("search: the engine's page layout changed")

// markupError keeps the engine's own message while wrapping ErrMarkupChanged.
type markupError struct{ msg string }

func (e *markupError) Error() string { return e.msg }
func (e *markupError) Unwrap() error { return ErrMarkupChanged }

// errMarkup builds the "served fine, parsed to nothing" error that means the
// engine changed its page layout. It is permanent: retrying will not help.
func errMarkup(msg string) error {
	return errkind.WithCause(errkind.Permanent(&markupError{msg}), "markup-changed")
}
