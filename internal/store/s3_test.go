package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/scour-dev/scour/internal/errkind"

	"github.com/scour-dev/scour/internal/store"
	"github.com/scour-dev/scour/internal/store/s3test"
	"github.com/scour-dev/scour/internal/store/storetest"
)

// newS3Factory returns stores on one server, each under its own prefix so
// that every subtest starts empty, which also exercises the prefix mapping.
func newS3Factory(t *testing.T, o store.S3Options, wrap func(store.Store) store.Store) func(t *testing.T) store.Store {
	var n atomic.Int64
	return func(t *testing.T) store.Store {
		o := o
		o.Prefix = fmt.Sprintf("/runs/%d/", n.Add(1))
		s, err := store.NewS3(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		return wrap(s)
	}
}

func TestS3Conformance(t *testing.T) {
	o := s3test.Start(t)
	storetest.Run(t, newS3Factory(t, o, func(s store.Store) store.Store { return s }))
}

func TestS3WrappedConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the wrappers are covered on Local; -short skips the second S3 run")
	}
	o := s3test.Start(t)
	storetest.Run(t, newS3Factory(t, o, func(s store.Store) store.Store {
		return store.WithRetry(store.WithLimit(s, 8), store.RetryPolicy{Base: 10 * time.Millisecond})
	}))
}

// rawClient talks to the test server without the store, to see what the
// store leaves behind.
func rawClient(t *testing.T, o store.S3Options) *s3.Client {
	t.Helper()
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(o.Endpoint),
		Region:       o.Region,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, ""),
	})
}

// Failed multipart uploads must be aborted, not left as hidden parts that
// the bucket's owner pays for.
func TestS3FailedUploadsLeaveNoParts(t *testing.T) {
	o := s3test.Start(t)
	s, err := store.NewS3(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	data := storetest.Data(7, 12<<20)
	tests := []struct {
		name string
		body func(cancel func()) io.Reader
	}{
		{"reader error", func(func()) io.Reader {
			return io.MultiReader(bytes.NewReader(data[:7<<20]), iotest.ErrReader(errors.New("disk went away")))
		}},
		{"cancelled context", func(cancel func()) io.Reader {
			// The first part is on its way when the body ends; Put returns
			// only after the uploader has waited for its part uploads, so
			// nothing needs to wait here for the cancellation to reach them.
			return io.MultiReader(bytes.NewReader(data[:11<<20]), readerFunc(func([]byte) (int, error) {
				cancel()
				return 0, io.EOF
			}))
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if err := s.Put(ctx, fmt.Sprintf("big-%d.bin", i), tt.body(cancel), -1); err == nil {
				t.Fatal("Put succeeded")
			}
			out, err := rawClient(t, o).ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(o.Bucket)})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Uploads) != 0 {
				t.Errorf("%d multipart uploads left open, want none", len(out.Uploads))
			}
		})
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestS3ErrorKinds checks how real SDK errors, parsed from real HTTP
// answers, are classified.
func TestS3ErrorKinds(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		code       string
		header     map[string]string
		notExist   bool
		kind       errkind.Kind
		retryAfter time.Duration
	}{
		{"no such key", 404, "NoSuchKey", nil, true, errkind.KindPermanent, 0},
		{"no such bucket", 404, "NoSuchBucket", nil, false, errkind.KindFatal, 0},
		{"access denied", 403, "AccessDenied", nil, false, errkind.KindFatal, 0},
		{"bad signature", 403, "SignatureDoesNotMatch", nil, false, errkind.KindFatal, 0},
		{"slow down", 503, "SlowDown", map[string]string{"Retry-After": "2"}, false, errkind.KindRetryable, 2 * time.Second},
		{"internal error", 500, "InternalError", nil, false, errkind.KindRetryable, 0},
		{"bad gateway without a body", 502, "", nil, false, errkind.KindRetryable, 0},
		{"too many requests", 429, "", nil, false, errkind.KindRetryable, 0},
		{"request timeout", 400, "RequestTimeout", nil, false, errkind.KindRetryable, 0},
		{"bad request", 400, "InvalidArgument", nil, false, errkind.KindPermanent, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(tt.status)
				if tt.code != "" && r.Method != http.MethodHead {
					fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>test</Message></Error>`, tt.code)
				}
			}))
			defer srv.Close()
			s, err := store.NewS3(t.Context(), store.S3Options{Bucket: "b", Endpoint: srv.URL, PathStyle: true, Region: "us-east-1", AccessKey: "a", SecretKey: "s"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Get(t.Context(), "k.jpg")
			if errors.Is(err, store.ErrNotExist) != tt.notExist {
				t.Errorf("ErrNotExist = %t, want %t (%v)", !tt.notExist, tt.notExist, err)
			}
			if k := errkind.KindOf(err); k != tt.kind {
				t.Errorf("kind = %v, want %v (%v)", k, tt.kind, err)
			}
			if d := errkind.RetryAfter(err); d != tt.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", d, tt.retryAfter)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close()
		s, err := store.NewS3(t.Context(), store.S3Options{Bucket: "b", Endpoint: "http://" + addr, PathStyle: true, AccessKey: "a", SecretKey: "s"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(t.Context(), "k.jpg"); !errkind.IsRetryable(err) {
			t.Errorf("Stat on a closed port = %v (%v), want retryable", err, errkind.KindOf(err))
		}
	})
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in, bucket, prefix string
		ok                 bool
	}{
		{"s3://bucket", "bucket", "", true},
		{"s3://bucket/", "bucket", "", true},
		{"s3://bucket/a/b", "bucket", "a/b", true},
		{"s3://bucket/a/b/", "bucket", "a/b", true},
		{"s3://my.bucket-1//images", "my.bucket-1", "images", true},
		{"s3://", "", "", false},
		{"s3:///prefix", "", "", false},
		{"s3://bucket/a//b", "", "", false},
		{"s3://bucket/../up", "", "", false},
		{"s3://bu cket/x", "", "", false},
		{"gs://bucket/x", "", "", false},
		{"bucket/x", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			b, p, err := store.ParseURL(tt.in)
			if (err == nil) != tt.ok || b != tt.bucket || p != tt.prefix {
				t.Fatalf("ParseURL = %q, %q, %v; want %q, %q, ok=%t", b, p, err, tt.bucket, tt.prefix, tt.ok)
			}
			if err != nil && !errkind.IsFatal(err) {
				t.Errorf("a bad address should be a fatal configuration error: %v", err)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	for _, spec := range []string{"", "local"} {
		s, err := store.Open(t.Context(), spec, dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.(store.LocalPather); !ok || s.String() != "local:"+dir {
			t.Errorf("Open(%q) = %s, want a local store in %s", spec, s, dir)
		}
	}
	for _, spec := range []string{"ftp://x", "s3://", "/some/path", "s3://b/../x"} {
		if _, err := store.Open(t.Context(), spec, dir); !errkind.IsFatal(err) {
			t.Errorf("Open(%q) = %v, want a fatal error", spec, err)
		}
	}
	t.Run("bad path style", func(t *testing.T) {
		t.Setenv("SCOUR_S3_PATH_STYLE", "sideways")
		if _, err := store.Open(t.Context(), "s3://b", dir); !errkind.IsFatal(err) || !strings.Contains(err.Error(), "SCOUR_S3_PATH_STYLE") {
			t.Errorf("Open with a bad SCOUR_S3_PATH_STYLE = %v", err)
		}
	})
	t.Run("s3 from the environment", func(t *testing.T) {
		o := s3test.Start(t)
		t.Setenv("SCOUR_S3_ENDPOINT", o.Endpoint)
		t.Setenv("AWS_REGION", o.Region)
		t.Setenv("AWS_ACCESS_KEY_ID", o.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", o.SecretKey)
		t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
		s, err := store.Open(t.Context(), "s3://"+o.Bucket+"/proj/", dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(t.Context(), "a b.jpg", strings.NewReader("hello"), 5); err != nil {
			t.Fatal(err)
		}
		// The object must sit under the prefix, as another tool sees it.
		out, err := rawClient(t, o).GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String("proj/a b.jpg")})
		if err != nil {
			t.Fatal(err)
		}
		defer out.Body.Close()
		if b, _ := io.ReadAll(out.Body); string(b) != "hello" {
			t.Errorf("object under the prefix holds %q", b)
		}
		if got := aws.ToString(out.ContentType); got != "image/jpeg" {
			t.Errorf("Content-Type = %q, want image/jpeg", got)
		}
		if s.String() != "s3://"+o.Bucket+"/proj" {
			t.Errorf("String = %q", s.String())
		}
	})
}

// BenchmarkS3Put writes thumbnail-sized objects to a local versitygw from 8
// goroutines through WithLimit, as a fetcher would.
func BenchmarkS3Put(b *testing.B) {
	s3s, err := store.NewS3(b.Context(), s3test.Start(b))
	if err != nil {
		b.Fatal(err)
	}
	s := store.WithLimit(s3s, 8)
	data := storetest.Data(1, 30_000)
	b.SetBytes(int64(len(data)))
	b.SetParallelism(4) // 4 x GOMAXPROCS goroutines
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Put(b.Context(), fmt.Sprintf("img/%06d.jpg", n.Add(1)), bytes.NewReader(data), int64(len(data))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
