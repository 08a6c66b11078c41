package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/gather/gatherbench"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/sharedtest"
	"github.com/scour-dev/scour/internal/store"
	"github.com/scour-dev/scour/internal/store/s3test"
)

// scourCmd runs this test binary as the scour command (see TestMain).
func scourCmd(args ...string) *exec.Cmd {
	c := exec.Command(os.Args[0], args...)
	c.Env = append(os.Environ(), "SCOUR_TEST_AS_MAIN=1")
	return c
}

// TestShardedGatherEqualsSingleRun runs gather as 4 shard processes at once
// against a real S3 server and a loopback web of a few thousand URLs
// (failures and duplicates included), kills one shard mid-run and runs it
// again, merges, and compares with one process doing the same work.
func TestShardedGatherEqualsSingleRun(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: several processes and a few thousand downloads")
	}
	imgDir := sharedtest.Path(t, "images", "cifar10-subset")
	imgs, err := gatherbench.LoadImages(imgDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	port, err := gatherbench.Serve(ctx, imgs, 3*time.Millisecond, 1)
	if err != nil {
		t.Fatal(err)
	}
	var served atomic.Int64
	// A second listener for failures: 404s and HTML served as JPEG.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bad := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if strings.HasPrefix(r.URL.Path, "/html/") {
			w.Header().Set("Content-Type", "image/jpeg")
			fmt.Fprint(w, "<html>blocked</html>")
			return
		}
		http.NotFound(w, r)
	})}
	go bad.Serve(ln)
	defer bad.Close()

	var lines []string
	const n = 2400
	for i := 0; i < n; i++ {
		// Every 10th URL repeats an earlier one's bytes (same ?n=), under another URL.
		v := i
		if i%10 == 9 {
			v = i - 5
		}
		lines = append(lines, fmt.Sprintf("http://127.0.0.1:%d/img/%d?n=%d&u=%d", port, v%len(imgs), v, i))
	}
	for i := 0; i < 100; i++ {
		lines = append(lines, fmt.Sprintf("http://%s/gone/%d.jpg", ln.Addr(), i), fmt.Sprintf("http://%s/html/%d.jpg", ln.Addr(), i))
	}
	list := strings.Join(lines, "\n") + "\n"

	o := s3test.Start(t)
	env := []string{"SCOUR_S3_ENDPOINT=" + o.Endpoint, "AWS_ACCESS_KEY_ID=" + o.AccessKey, "AWS_SECRET_ACCESS_KEY=" + o.SecretKey,
		"AWS_REGION=us-east-1", "SCOUR_SHARD_STALE_AFTER=2s", "SCOUR_SHARD_UPLOAD_EVERY=300ms"}
	project := func(prefix string) string {
		d := t.TempDir()
		cfg := fmt.Sprintf("store: s3://%s/%s\nclasses:\n  - name: things\nsources:\n  - engine: urls\n    path: urls.txt\n    classes: [things]\nfetch:\n  min_width: 16\n  min_height: 16\n  retries: 0\n  per_host: 8\n  workers: 8\n", o.Bucket, prefix)
		os.WriteFile(filepath.Join(d, "scour.yaml"), []byte(cfg), 0o644)
		os.WriteFile(filepath.Join(d, "urls.txt"), []byte(list), 0o644)
		return d
	}
	start := func(dir string, args ...string) *exec.Cmd {
		c := scourCmd(append([]string{"-C", dir, "-q"}, args...)...)
		c.Env = append(c.Env, env...)
		out, _ := os.Create(filepath.Join(dir, "log.txt"))
		c.Stdout, c.Stderr = out, out
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	wait := func(c *exec.Cmd, dir string) {
		if err := c.Wait(); err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "log.txt"))
			t.Fatalf("%v: %v\n%s", c.Args, err, log)
		}
	}

	// Four shards at once, each in its own pod-like directory. Shard 2
	// reports its progress as JSON lines, so the test knows when it has
	// recorded downloads.
	dirs := make([]string, 4)
	cmds := make([]*exec.Cmd, 4)
	var events io.Reader
	for k := range dirs {
		dirs[k] = project("sharded")
		if k != 2 {
			cmds[k] = start(dirs[k], "gather", "--shard", fmt.Sprintf("%d/4", k))
			continue
		}
		c := scourCmd("-C", dirs[k], "--json", "gather", "--shard", "2/4")
		c.Env = append(c.Env, env...)
		pipe, err := c.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[k], events = c, pipe
	}
	// Kill shard 2 once it has recorded over 100 downloads in its catalog,
	// as a lost node would.
	recorded := int64(0)
	awaitEvent(events, func(e progress.Event) bool {
		if e.Kind == progress.Advance && e.Stage == "fetch" {
			recorded += e.Done
		}
		return recorded > 100
	})
	cmds[2].Process.Signal(syscall.SIGKILL)
	killed := cmds[2].Wait() != nil // nil: it finished before the kill landed
	for k, c := range cmds {
		if k != 2 {
			wait(c, dirs[k])
		}
	}
	// A merge now takes the three finished shards only.
	mergeDir := project("sharded")
	mc := start(mergeDir, "merge", "--json")
	wait(mc, mergeDir)
	if log, _ := os.ReadFile(filepath.Join(mergeDir, "log.txt")); killed && !strings.Contains(string(log), "shard-0002-of-0004") {
		t.Fatalf("merge did not report shard 2 as unfinished:\n%s", log)
	}
	// Shard 2 again, from a fresh pod (its local catalog lost): it resumes
	// from the uploaded one after the dead run's lock goes stale.
	again := project("sharded")
	wait(start(again, "gather", "--shard", "2/4"), again)
	wait(start(mergeDir, "merge"), mergeDir)
	wait(start(mergeDir, "merge"), mergeDir) // twice: idempotent

	// Clean as shards too: each measures its own images; merge brings the
	// measurements into the project catalog for the final clean.
	for k := range dirs {
		d := project("sharded")
		wait(start(d, "clean", "--shard", fmt.Sprintf("%d/4", k), "--labeler", "none"), d)
	}
	wait(start(mergeDir, "merge"), mergeDir)
	if n, m := countTable(t, filepath.Join(mergeDir, "scour.db"), "clean_measures"), countTable(t, filepath.Join(mergeDir, "scour.db"), "images"); n != m {
		t.Fatalf("%d measurements merged for %d images", n, m)
	}

	single := project("single")
	wait(start(single, "gather"), single)

	got := snapshot(t, filepath.Join(mergeDir, "scour.db"))
	want := snapshot(t, filepath.Join(single, "scour.db"))
	if len(got.urls) != len(lines) || len(want.urls) != len(lines) {
		t.Fatalf("URLs accounted for: sharded %d, single %d, list %d", len(got.urls), len(want.urls), len(lines))
	}
	for u, w := range want.urls {
		if g := got.urls[u]; g != w {
			t.Errorf("%s: sharded %q, single %q", u, g, w)
		}
	}
	if strings.Join(got.kept, ",") != strings.Join(want.kept, ",") {
		t.Fatalf("kept sets differ: %d sharded, %d single", len(got.kept), len(want.kept))
	}
	// Every image object exists once, and nothing else is under images/.
	st, err := bucket(o, "sharded")
	if err != nil {
		t.Fatal(err)
	}
	var objects []string
	st.List(context.Background(), "images/", func(i store.Info) error { objects = append(objects, i.Key); return nil })
	sort.Strings(objects)
	if strings.Join(objects, ",") != strings.Join(got.keys, ",") {
		t.Fatalf("%d objects in the bucket for %d catalogued images", len(objects), len(got.keys))
	}
}

func countTable(t *testing.T, path, table string) int {
	c, err := catalog.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n int
	if err := c.DB().QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

type catSnapshot struct {
	urls map[string]string // url -> outcome (done and duplicate count as one: which copy wins is order)
	kept []string          // sorted sha256 of kept images
	keys []string          // sorted store keys
}

func snapshot(t *testing.T, path string) catSnapshot {
	t.Helper()
	c, err := catalog.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := catSnapshot{urls: map[string]string{}}
	c.ForEachExportRow(context.Background(), func(r catalog.ExportRow) error {
		out := r.Status
		switch r.Status {
		case catalog.StatusKept, catalog.StateDuplicate:
			out = "fetched"
		case catalog.StateFailed:
			out = "failed: " + strings.SplitN(r.Reason, ":", 2)[0]
		}
		s.urls[r.URL] = out
		return nil
	})
	c.ForEachImage(context.Background(), catalog.ImageFilter{}, func(im catalog.Image) error {
		s.kept = append(s.kept, im.SHA256)
		s.keys = append(s.keys, im.Key)
		return nil
	})
	sort.Strings(s.kept)
	sort.Strings(s.keys)
	return s
}

// TestRunInterruptedContinues sends Ctrl-C (SIGINT) to `scour run` while it
// trains: it stops with exit code 130, and the same command then finishes,
// skipping the stages that were done.
func TestRunInterruptedContinues(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-R", "../../examples/offline/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// Slow the training down enough to be caught in the act.
	cfg, _ := os.ReadFile(filepath.Join(dir, "scour.yaml"))
	epochs := regexp.MustCompile(`(?m)^  epochs: \d+`)
	if !epochs.Match(cfg) {
		t.Fatal("examples/offline/scour.yaml sets no train.epochs for this test to raise")
	}
	cfg = epochs.ReplaceAll(cfg, []byte("  epochs: 200\n  patience: 0"))
	os.WriteFile(filepath.Join(dir, "scour.yaml"), cfg, 0o644)

	c := scourCmd("-C", dir, "-q", "run", "--json")
	var out strings.Builder
	c.Stdout = &out
	events, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt after the first finished epoch, whose checkpoint a re-run
	// resumes from.
	if !awaitEvent(events, func(e progress.Event) bool {
		return e.Kind == progress.Note && e.Stage == "train" && strings.HasPrefix(e.Msg, "16-32-64_d1 epoch 1/")
	}) {
		c.Process.Kill()
		t.Fatal("training never finished an epoch")
	}
	if _, err := os.Stat(filepath.Join(dir, "runs", "16-32-64_d1", "checkpoint.bin")); err != nil {
		t.Fatalf("no checkpoint after the first epoch: %v", err)
	}
	c.Process.Signal(os.Interrupt)
	err = c.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("interrupted run: %v, want exit %d", err, exitInterrupted)
	}
	// Finish quickly: fewer epochs is a new training config, the rest stands.
	cfg = epochs.ReplaceAll(cfg, []byte("  epochs: 3"))
	os.WriteFile(filepath.Join(dir, "scour.yaml"), cfg, 0o644)
	c = scourCmd("-C", dir, "run", "--json")
	b, err := c.Output()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, b)
	}
	for _, stage := range []string{"gather", "clean", "split"} {
		if !strings.Contains(string(b), `"stage": "`+stage+`",
    "skipped": true`) {
			t.Errorf("%s was not skipped on the second run:\n%s", stage, b)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "report", "index.html")); err != nil {
		t.Fatal(err)
	}
}
