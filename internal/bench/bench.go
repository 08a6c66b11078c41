// Package bench runs `scour bench`: the loopback image server, sharded and
// single-process gather throughput, and the stage benchmarks of cleanbench,
// gatherbench and nnbench. It finds the shared test data through a flag or
// SCOUR_SHARED at run time, never through a path of the machine that built
// the binary.
package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/scour-dev/scour/internal/bench/catalogbench"
	"github.com/scour-dev/scour/internal/clean/cleanbench"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/gather/gatherbench"
	"github.com/scour-dev/scour/internal/nn/nnbench"
	"github.com/scour-dev/scour/internal/train/headbench"
)

// SharedEnv names the variable that points at the shared test data folder
// (photos, models, the PyTorch reference script).
const SharedEnv = "SCOUR_SHARED"

// SharedPath joins elems under $SCOUR_SHARED, or returns "" when it is not
// set: a flag default that says "not given" rather than guessing a path.
func SharedPath(elems ...string) string {
	d := os.Getenv(SharedEnv)
	if d == "" {
		return ""
	}
	return filepath.Join(append([]string{d}, elems...)...)
}

// needDir checks a folder the benchmark reads, and says what to pass when it
// is missing.
func needDir(flag, dir, under string) error {
	if dir == "" {
		return errkind.WithCause(fmt.Errorf("%s: no folder given: pass %s DIR, or set %s to the shared test data folder%s", flag, flag, SharedEnv, under), "config")
	}
	if _, err := os.Stat(dir); err != nil {
		return errkind.WithCause(fmt.Errorf("%s %s: %w (pass %s DIR, or set %s to the shared test data folder)", flag, dir, err, flag, SharedEnv), "config")
	}
	return nil
}

// Server is the loopback image server, a child process of the scour
// binary (`scour bench serve`), so that its CPU time is not the gatherer's.
type Server struct {
	Port   int // on 127.0.0.1 .. 127.0.0.N
	Images int // distinct images it serves
	cmd    *exec.Cmd
}

// StartServer starts `exe bench serve` and waits until it listens.
func StartServer(ctx context.Context, exe, images string, latency time.Duration, hosts int) (*Server, error) {
	if err := needDir("--images", images, " (its images/ is served)"); err != nil {
		return nil, err
	}
	srv := exec.CommandContext(ctx, exe, "bench", "serve", "--images", images, "--latency", latency.String(), "--hosts", strconv.Itoa(hosts))
	srv.Stderr = os.Stderr
	stdout, err := srv.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, err
	}
	s := &Server{cmd: srv}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		s.Stop()
		return nil, fmt.Errorf("bench server did not start: %v", err)
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(line), "ready %d %d", &s.Port, &s.Images); err != nil {
		s.Stop()
		return nil, fmt.Errorf("bench server said %q", line)
	}
	return s, nil
}

// Stop ends the server process.
func (s *Server) Stop() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// Serve loads the photos of dir and serves them until ctx ends, as
// `scour bench serve` does; it returns the port and the image count once
// listening, through ready.
func Serve(ctx context.Context, dir string, latency time.Duration, hosts int, ready func(port, images int)) error {
	imgs, err := gatherbench.LoadImages(dir)
	if err != nil {
		return err
	}
	port, err := gatherbench.Serve(ctx, imgs, latency, hosts)
	if err != nil {
		return err
	}
	ready(port, len(imgs))
	<-ctx.Done()
	return nil
}

// GatherOptions tunes the gather benchmark.
type GatherOptions struct {
	Exe                           string // the scour binary, which serves the photos
	Images                        string // folder of photos to serve
	URLs, Hosts, Workers, PerHost int
	Latency                       time.Duration
	CPUProfile                    string // write a CPU profile of the gathering here
}

// Gather downloads URLs from the loopback server through the real fetch
// path into a scratch project.
func Gather(ctx context.Context, o GatherOptions) (gatherbench.Report, error) {
	srv, err := StartServer(ctx, o.Exe, o.Images, o.Latency, o.Hosts)
	if err != nil {
		return gatherbench.Report{}, err
	}
	defer srv.Stop()
	dir, err := os.MkdirTemp("", "scour-bench-")
	if err != nil {
		return gatherbench.Report{}, err
	}
	defer os.RemoveAll(dir)
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return gatherbench.Report{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return gatherbench.Report{}, err
		}
		defer pprof.StopCPUProfile()
	}
	return gatherbench.Run(ctx, gatherbench.Options{URLs: o.URLs, Hosts: o.Hosts, Port: srv.Port, Workers: o.Workers, PerHost: o.PerHost, Dir: dir, Images: srv.Images})
}

// ShardsOptions tunes the sharded gather benchmark.
type ShardsOptions struct {
	Exe         string // the scour binary: each shard is a `scour gather --shard k/N`
	Images      string
	URLs, Hosts int
	Procs       []int // shard process counts to compare
	Latency     time.Duration
}

// ShardsRow is one process count's throughput.
type ShardsRow struct {
	Procs        int     `json:"processes"`
	Seconds      float64 `json:"seconds"`
	ImagesPerSec float64 `json:"images_per_s"`
	Speedup      float64 `json:"speedup"`
}

// Shards gathers the same URL list with N shard processes at once for each
// N, from a cold start each time, and compares their throughput.
func Shards(ctx context.Context, o ShardsOptions) ([]ShardsRow, error) {
	srv, err := StartServer(ctx, o.Exe, o.Images, o.Latency, o.Hosts)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	var rows []ShardsRow
	for _, n := range o.Procs {
		sec, err := shardsOnce(ctx, o, srv, n)
		if err != nil {
			return rows, err
		}
		r := ShardsRow{Procs: n, Seconds: sec, ImagesPerSec: float64(o.URLs) / sec, Speedup: 1}
		if len(rows) > 0 {
			r.Speedup = r.ImagesPerSec / rows[0].ImagesPerSec
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func shardsOnce(ctx context.Context, o ShardsOptions, srv *Server, n int) (float64, error) {
	dir, err := os.MkdirTemp("", "scour-bench-shards-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	var list strings.Builder
	for i := 0; i < o.URLs; i++ {
		fmt.Fprintf(&list, "http://127.0.0.%d:%d/img/%d?n=%d\n", 1+i%o.Hosts, srv.Port, i%srv.Images, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "urls.txt"), []byte(list.String()), 0o644); err != nil {
		return 0, fmt.Errorf("bench shards: %w", err)
	}
	cfg := "classes:\n  - name: bench\nsources:\n  - engine: urls\n    path: urls.txt\n    classes: [bench]\nfetch:\n  workers: 64\n  per_host: 4\n  retries: 1\n  min_width: 8\n  min_height: 8\n"
	if err := os.WriteFile(filepath.Join(dir, "scour.yaml"), []byte(cfg), 0o644); err != nil {
		return 0, fmt.Errorf("bench shards: %w", err)
	}
	t0 := time.Now()
	var cmds []*exec.Cmd
	var errs []error
	for k := 0; k < n; k++ {
		args := []string{"-C", dir, "-q", "gather"}
		if n > 1 {
			args = append(args, "--shard", fmt.Sprintf("%d/%d", k, n))
		}
		c := exec.CommandContext(ctx, o.Exe, args...)
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			errs = append(errs, err)
			break
		}
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("shard process: %w", err))
		}
	}
	return time.Since(t0).Seconds(), errors.Join(errs...)
}

// CleanOptions tunes the clean benchmark.
type CleanOptions struct {
	Shared      string // the shared test data folder
	Class       string // the boats class the junk is mixed into
	SpeedImages int    // photos for the speed part (0 = all)
	// Web runs the benchmarks that look like the web instead: the real
	// noisy-web scrape, planted clusters, misfiled swaps, learning from
	// review.
	Web        bool
	WebClasses []string // boats classes for the planted part (nil = all nine)
	Decisions  []int    // review sizes of the learning curve (nil = 0, 5, 10, 20)
	// Images, when set, runs the benchmark at scale instead: a project of
	// this many variants of the shared photos through the whole clean
	// stage (cleanbench.Scale).
	Images int
	Seed   uint64 // for the variants at scale
	// Dir keeps the project at scale there; a Dir kept from an earlier
	// run of the same size is judged again as it is (cleanbench.ScaleOptions).
	Dir        string
	CPUProfile string // at scale: write a CPU profile of clean.Run here
	Prepare    bool   // at scale: make the project in Dir and cache its labels, then stop
	// RecallQueries: at scale, the images compared with every other for
	// the index's recall (0: all up to 20,000 images, 2,000 beyond).
	RecallQueries int
}

// CleanReport is the clean benchmark's quality and speed.
type CleanReport struct {
	Quality cleanbench.QualityReport `json:"quality"`
	Speed   cleanbench.SpeedReport   `json:"speed"`
	Web     string                   `json:"web,omitempty"` // the web benchmarks' tables, as printed
	Scale   *cleanbench.ScaleReport  `json:"scale,omitempty"`
}

func (r CleanReport) String() string {
	if r.Web != "" {
		return r.Web
	}
	if r.Scale != nil {
		return r.Scale.String()
	}
	return r.Quality.String() + r.Speed.String()
}

// Clean measures off-topic and duplicate precision and recall on a planted
// noisy class, then the recognizer's speed.
func Clean(ctx context.Context, o CleanOptions) (CleanReport, error) {
	var r CleanReport
	if err := needDir("--shared", o.Shared, ""); err != nil {
		return r, err
	}
	if o.Images > 0 {
		rep, err := cleanbench.Scale(ctx, cleanbench.ScaleOptions{Shared: o.Shared, Images: o.Images, Seed: o.Seed, Dir: o.Dir, CPUProfile: o.CPUProfile, Prepare: o.Prepare, RecallQueries: o.RecallQueries})
		r.Scale = &rep
		return r, err
	}
	if o.Web {
		var b strings.Builder
		err := cleanbench.Web(ctx, cleanbench.WebOptions{Shared: o.Shared, Classes: o.WebClasses, Decisions: o.Decisions}, &b)
		r.Web = b.String()
		return r, err
	}
	var err error
	if r.Quality, err = cleanbench.Quality(ctx, cleanbench.QualityOptions{Shared: o.Shared, Class: o.Class}); err != nil {
		return r, err
	}
	r.Speed, err = cleanbench.Speed(ctx, cleanbench.SpeedOptions{Shared: o.Shared, N: o.SpeedImages})
	return r, err
}

// DedupOptions tunes the near-duplicate search benchmark.
type DedupOptions = cleanbench.DedupOptions

// Dedup finds all near-duplicate pairs among random hashes with planted pairs.
func Dedup(ctx context.Context, o DedupOptions) (cleanbench.DedupReport, error) {
	return cleanbench.Dedup(ctx, o)
}

// TrainOptions tunes the CNN training benchmark.
type TrainOptions = nnbench.Options

// Train times the reference CNN, and PyTorch's when TorchScript is set.
func Train(ctx context.Context, o TrainOptions) (nnbench.Report, error) {
	return nnbench.Run(ctx, o)
}

// HeadOptions tunes the transfer-head benchmark.
type HeadOptions struct {
	Shared   string // the shared test data folder
	PerClass int    // photos per class (0 = all)
	Seed     uint64 // drives the split
}

// Head fits scour's transfer head and scikit-learn's LogisticRegression on
// the same MobileNetV2 embeddings and split of the shared boat photos, side
// by side, and prints both test accuracies and fit times to w.
func Head(ctx context.Context, w io.Writer, o HeadOptions) ([]headbench.Result, error) {
	if err := needDir("--shared", o.Shared, ""); err != nil {
		return nil, err
	}
	return headbench.Run(ctx, w, headbench.Options{Dir: filepath.Join(o.Shared, "images", "boats", "train"), PerClass: o.PerClass, Seed: o.Seed})
}

// CatalogOptions sizes the catalog benchmark.
type CatalogOptions = catalogbench.Options

// Catalog measures merge, export, report and fingerprints over shard
// catalogs of millions of synthetic rows, and a shard's incremental upload.
func Catalog(ctx context.Context, o CatalogOptions) (catalogbench.Report, error) {
	return catalogbench.Run(ctx, o)
}
