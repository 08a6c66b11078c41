// Package s3test runs a real S3-compatible server, versitygw, for tests of
// code that talks S3. Install the server with .ci/versitygw.sh; without it
// tests skip, except under CI (env CI set), where they fail so that a
// missing server cannot pass unnoticed.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/scour-dev/scour/internal/store"
)

// Bucket is the bucket every Server creates.
const Bucket = "scour-test"

// Start runs a server for the rest of the test and returns options that
// reach its bucket (no prefix, 5 MiB parts so multipart is cheap to test).
func Start(t testing.TB) store.S3Options {
	t.Helper()
	return StartServer(t).Options()
}

// Server is a running versitygw with a posix backend in a temporary
// directory. Objects survive Stop and Restart; the address does too.
type Server struct {
	t              testing.TB
	bin, dir, addr string
	access, secret string

	mu     sync.Mutex // guards cmd and exited
	cmd    *exec.Cmd
	exited chan struct{}

	// logMu is separate from mu because the child's output keeps arriving
	// while Stop holds mu waiting for the child to exit.
	logMu sync.Mutex
	log   bytes.Buffer
}

// StartServer is Start for tests that also stop and restart the server.
func StartServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: binary(t), dir: t.TempDir(), access: randomKey(), secret: randomKey()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("s3test: finding a free port: %v", err)
	}
	s.addr = l.Addr().String()
	l.Close()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("s3test: versitygw output:\n%s", s.output())
		}
	})
	if err := s.start(); err != nil {
		t.Fatalf("s3test: %v\n%s", err, s.output())
	}
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(s.Endpoint()),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.access, s.secret, ""),
	})
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(Bucket)}); err != nil {
		t.Fatalf("s3test: creating bucket: %v\n%s", err, s.output())
	}
	return s
}

// Options returns store options that reach the server's bucket.
func (s *Server) Options() store.S3Options {
	return store.S3Options{
		Bucket:    Bucket,
		Endpoint:  s.Endpoint(),
		Region:    "us-east-1",
		PathStyle: true,
		AccessKey: s.access,
		SecretKey: s.secret,
		PartSize:  5 << 20,
	}
}

// Endpoint is the server's base URL.
func (s *Server) Endpoint() string { return "http://" + s.addr }

// Stop ends the server and waits for it to exit; stopping a stopped server
// does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Restart starts the server again on the same address and data after Stop
// (or stops it first). It returns an error rather than failing the test so
// that it may be called from any goroutine.
func (s *Server) Restart() error {
	s.Stop()
	if err := s.start(); err != nil {
		return fmt.Errorf("s3test: restarting: %w\n%s", err, s.output())
	}
	return nil
}

func (s *Server) output() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

// lockedWriter lets the child's output land in s.log while output reads it.
type lockedWriter struct{ s *Server }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.logMu.Lock()
	defer w.s.logMu.Unlock()
	return w.s.log.Write(p)
}

func (s *Server) start() error {
	s.mu.Lock()
	cmd := exec.Command(s.bin, "--port", s.addr, "--quiet", "posix", s.dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.access, "ROOT_SECRET_KEY="+s.secret)
	cmd.Stdout, cmd.Stderr = lockedWriter{s}, lockedWriter{s}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	// Any HTTP answer, even "access denied", means it is serving.
	deadline := time.Now().Add(15 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, s.Endpoint()+"/", nil)
		c := http.Client{Timeout: time.Second}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			s.mu.Lock()
			s.cmd = nil
			s.mu.Unlock()
			return fmt.Errorf("versitygw exited at start-up (%v)", cmd.ProcessState)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("versitygw not answering on %s after 15 s: %w", s.addr, err)
		}
	}
}

// binary finds versitygw: $SCOUR_VERSITYGW, then where .ci/versitygw.sh
// installs it, then PATH.
func binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SCOUR_VERSITYGW"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("s3test: SCOUR_VERSITYGW=%s: %v", p, err)
		}
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "scour", "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("versitygw")
	if err == nil {
		return p
	}
	msg := "s3test: versitygw not found (SCOUR_VERSITYGW, ~/.cache/scour/bin, PATH): run .ci/versitygw.sh to install it"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set, so S3 tests must run)")
	}
	t.Skip(msg)
	return ""
}

func randomKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
