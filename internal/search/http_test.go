package search

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/scour-dev/scour/internal/errkind"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 5 ", 5 * time.Second},
		{"0", 0},
		{"-3", 0},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"Sun, 01 Mar 2026 12:01:00 GMT", time.Minute},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.in, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestTransportErrors(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	dropper := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer dropper.Close()
	tests := []struct {
		name  string
		url   string
		want  errkind.Kind
		cause string
	}{
		{"connection refused", closed.URL + "/x", errkind.KindRetryable, "connection-refused"},
		{"connection dropped", dropper.URL + "/x", errkind.KindRetryable, "connection-reset"},
		{"no such host", "http://no-such-host.invalid/x", errkind.KindRetryable, "dns"},
		{"unsupported scheme", "gopher://127.0.0.1/x", errkind.KindPermanent, "error"},
	}
	for _, tt := range tests {
		_, _, err := get(context.Background(), http.DefaultClient, "test", tt.url, nil)
		if err == nil || errkind.KindOf(err) != tt.want || errkind.Cause(err) != tt.cause {
			t.Errorf("%s: err = %v, kind %v, cause %q, want %v, %q", tt.name, err, errkind.KindOf(err), errkind.Cause(err), tt.want, tt.cause)
		}
	}
}
