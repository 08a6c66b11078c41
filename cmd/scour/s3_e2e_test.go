package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scour-dev/scour/internal/gather/gatherbench"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/sharedtest"
	"github.com/scour-dev/scour/internal/store"
	"github.com/scour-dev/scour/internal/store/s3test"
)

// TestStagesWithImagesInS3 runs the stages on a project whose images live
// in a real S3-compatible server while the catalog stays local: nothing may
// land on the local disk but the catalog, runs and report.
func TestStagesWithImagesInS3(t *testing.T) {
	boats := sharedtest.Path(t, "images", "boats", "train")
	o := s3test.Start(t)
	t.Setenv("SCOUR_S3_ENDPOINT", o.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", o.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", o.SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")

	dir := t.TempDir()
	for _, class := range []string{"Destroyers", "Carriers"} {
		dst := filepath.Join(dir, "photos", class)
		os.MkdirAll(dst, 0o755)
		ents, _ := os.ReadDir(filepath.Join(boats, class))
		for _, e := range ents[:16] {
			b, _ := os.ReadFile(filepath.Join(boats, class, e.Name()))
			os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644)
		}
	}
	// A 48x48 picture passes gather's minimum (32) but not clean's (64).
	small := image.NewRGBA(image.Rect(0, 0, 48, 48))
	for i := range small.Pix {
		small.Pix[i] = uint8(i * 7)
	}
	var sb bytes.Buffer
	png.Encode(&sb, small)
	os.WriteFile(filepath.Join(dir, "photos", "Carriers", "small.png"), sb.Bytes(), 0o644)
	cfg := fmt.Sprintf(`store: s3://%s/proj
classes:
  - name: Destroyers
  - name: Carriers
sources:
  - engine: folder
    path: photos
train:
  input_size: 32
  epochs: 2
  model: 8-16/d1
`, o.Bucket)
	os.WriteFile(filepath.Join(dir, "scour.yaml"), []byte(cfg), 0o644)

	scour := func(args ...string) {
		t.Helper()
		if code := run(append([]string{"-C", dir, "-q"}, args...)); code != 0 {
			t.Fatalf("scour %s: exit %d", strings.Join(args, " "), code)
		}
	}
	ctx := context.Background()
	s3, err := bucket(o, "proj")
	if err != nil {
		t.Fatal(err)
	}
	list := func(prefix string) map[string]bool {
		out := map[string]bool{}
		s3.List(ctx, prefix, func(i store.Info) error { out[i.Key] = true; return nil })
		return out
	}
	scour("gather")
	scour("clean", "--labeler", "none")
	if q := list("quarantine/too-small/"); len(q) != 1 {
		t.Fatalf("after clean, quarantine/too-small/ holds %v", q)
	}
	scour("restore", "--all")
	if q := list("quarantine/"); len(q) != 0 {
		t.Fatalf("after restore, quarantine/ holds %v", q)
	}
	scour("clean", "--labeler", "none")
	for _, args := range [][]string{{"split"}, {"train"}, {"report"}} {
		scour(args...)
	}
	if _, err := os.Stat(filepath.Join(dir, "images")); !os.IsNotExist(err) {
		t.Fatalf("images were written locally: %v", err)
	}
	objects := list("images/")
	for k := range list("quarantine/") {
		objects[k] = true
	}
	cat, err := catalog.Open(ctx, filepath.Join(dir, "scour.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	kept := 0
	cat.ForEachImage(ctx, catalog.ImageFilter{}, func(im catalog.Image) error {
		kept++
		if !objects[im.Key] {
			t.Errorf("image %s not in the bucket", im.Key)
		}
		return nil
	})
	if kept < 30 || len(objects) != kept {
		t.Fatalf("%d images catalogued, %d objects in the bucket", kept, len(objects))
	}
	for _, f := range []string{"runs/8-16_d1/best.scour", "report/index.html"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
}

// TestGatherSurvivesS3Outage stops the S3 server in the middle of a gather
// and brings it back: the run stops with exit code 3 once the store's
// retries give up, loses nothing, and a second gather stores every image
// once.
func TestGatherSurvivesS3Outage(t *testing.T) {
	imgDir := sharedtest.Path(t, "images", "cifar10-subset")
	imgs, err := gatherbench.LoadImages(imgDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The image server says when it has served 100 images: the S3 server
	// is stopped then, in the middle of the run, every time.
	served, halfway := atomic.Int64{}, make(chan struct{})
	images := gatherbench.Handler(imgs, 20*time.Millisecond)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	web := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		images.ServeHTTP(w, r)
		if served.Add(1) == 100 {
			close(halfway)
		}
	})}
	go web.Serve(ln)
	defer web.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	srv := s3test.StartServer(t)
	o := srv.Options()
	t.Setenv("SCOUR_S3_ENDPOINT", o.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", o.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", o.SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	dir := t.TempDir()
	const n = 600
	var list strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&list, "http://127.0.0.1:%d/img/%d?n=%d\n", port, i%len(imgs), i)
	}
	os.WriteFile(filepath.Join(dir, "urls.txt"), []byte(list.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "scour.yaml"), []byte(fmt.Sprintf(
		"store: s3://%s/p\nclasses:\n  - name: c\nsources:\n  - engine: urls\n    path: urls.txt\n    classes: [c]\nfetch:\n  workers: 4\n  min_width: 8\n  min_height: 8\n", o.Bucket)), 0o644)

	// Stop the S3 server once part of the work is done; restart it after.
	go func() {
		select {
		case <-halfway:
			srv.Stop()
		case <-ctx.Done():
		}
	}()
	t0 := time.Now()
	if code := run([]string{"-C", dir, "-q", "gather"}); code != exitFatal {
		t.Fatalf("gather during the outage: exit %d, want %d (store unreachable)", code, exitFatal)
	}
	if el := time.Since(t0); el > 2*time.Minute {
		t.Fatalf("gather kept going for %v against a dead store", el)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"-C", dir, "-q", "gather"}); code != exitOK {
		t.Fatalf("gather after the outage: exit %d", code)
	}
	cat, err := catalog.Open(context.Background(), filepath.Join(dir, "scour.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	by, _, _ := cat.CountURLs(context.Background())
	if by[catalog.StateDone] != n {
		t.Fatalf("after the outage and a re-run: %v, want %d done", by, n)
	}
	st, _ := bucket(o, "p")
	objects := 0
	st.List(context.Background(), "images/", func(store.Info) error { objects++; return nil })
	if objects != n {
		t.Fatalf("%d objects for %d images", objects, n)
	}
}

// TestBucketWithoutWritePermission: a store that refuses writes stops the
// run at the first image with exit code 3, recording nothing as done.
func TestBucketWithoutWritePermission(t *testing.T) {
	boats := sharedtest.Path(t, "images", "boats", "train", "Tugs")
	o := s3test.Start(t)
	t.Setenv("SCOUR_S3_ENDPOINT", o.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", o.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
	t.Setenv("AWS_REGION", "us-east-1")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "scour.yaml"), []byte(fmt.Sprintf(
		"store: s3://%s/p\nclasses:\n  - name: Tugs\nsources:\n  - engine: folder\n    path: %s\n", o.Bucket, filepath.Dir(boats))), 0o644)
	t0 := time.Now()
	if code := run([]string{"-C", dir, "-q", "gather", "--class", "Tugs"}); code != exitFatal {
		t.Fatalf("exit %d, want %d", code, exitFatal)
	}
	if el := time.Since(t0); el > 30*time.Second {
		t.Fatalf("took %v to give up on a refused bucket", el)
	}
	cat, err := catalog.Open(context.Background(), filepath.Join(dir, "scour.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	by, _, _ := cat.CountURLs(context.Background())
	if by[catalog.StateDone] != 0 || by[catalog.StatePending] == 0 {
		t.Fatalf("states %v: nothing may be done, everything must stay pending", by)
	}
}

// bucket opens the test server's bucket under prefix, as a project with
// store: s3://bucket/prefix sees it.
func bucket(o store.S3Options, prefix string) (*store.S3, error) {
	o.Prefix = prefix
	return store.NewS3(context.Background(), o)
}
