package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/clean/cleanbench"
	"github.com/scour-dev/scour/internal/gather/gatherbench"
	"github.com/scour-dev/scour/internal/nn/nnbench"
	"github.com/scour-dev/scour/internal/sharedtest"
)

func newBenchCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure scour's speed against its reference figures",
		Long: `bench runs reproducible benchmarks and prints each figure beside the
reference it is compared with. Close other work first: the figures are only
meaningful on a quiet machine.`,
	}
	c.AddCommand(newBenchGatherCmd(g), newBenchServeCmd(), newBenchDedupCmd(g), newBenchCleanCmd(g), newBenchTrainCmd(g), newBenchShardsCmd(g))
	return c
}

// startBenchServer starts `scour bench serve` as a child process and
// returns its port and image count.
func startBenchServer(cmd *cobra.Command, images string, latency time.Duration, hosts int) (port, count int, stop func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, 0, nil, err
	}
	srv := exec.CommandContext(cmd.Context(), exe, "bench", "serve", "--images", images, "--latency", latency.String(), "--hosts", strconv.Itoa(hosts))
	srv.Stderr = os.Stderr
	stdout, err := srv.StdoutPipe()
	if err != nil {
		return 0, 0, nil, err
	}
	if err := srv.Start(); err != nil {
		return 0, 0, nil, err
	}
	stop = func() { srv.Process.Kill(); srv.Wait() }
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return 0, 0, nil, fmt.Errorf("bench server did not start: %v", err)
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(line), "ready %d %d", &port, &count); err != nil {
		stop()
		return 0, 0, nil, fmt.Errorf("bench server said %q", line)
	}
	return port, count, stop, nil
}

func newBenchShardsCmd(g *globals) *cobra.Command {
	var (
		urls, hosts int
		procs       []int
		latency     time.Duration
		images      string
	)
	c := &cobra.Command{
		Use:   "shards",
		Short: "Gather throughput with 1, 2 and 4 shard processes on loopback",
		Long: `bench shards gathers the same URL list with N shard processes at once
(scour gather --shard k/N, one project directory and store, a catalog per
shard), for each N in --procs, and prints images/s and the speed-up over one
process. On one machine the processes share its cores, so this shows the
overhead of sharding and how the work divides; across machines each shard
brings its own cores.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			port, count, stop, err := startBenchServer(cmd, images, latency, hosts)
			if err != nil {
				return err
			}
			defer stop()
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			type row struct {
				Procs        int     `json:"processes"`
				Seconds      float64 `json:"seconds"`
				ImagesPerSec float64 `json:"images_per_s"`
				Speedup      float64 `json:"speedup"`
			}
			var rows []row
			for _, n := range procs {
				dir, err := os.MkdirTemp("", "scour-bench-shards-")
				if err != nil {
					return err
				}
				var list strings.Builder
				for i := 0; i < urls; i++ {
					fmt.Fprintf(&list, "http://127.0.0.%d:%d/img/%d?n=%d\n", 1+i%hosts, port, i%count, i)
				}
				os.WriteFile(filepath.Join(dir, "urls.txt"), []byte(list.String()), 0o644)
				cfg := "classes:\n  - name: bench\nsources:\n  - engine: urls\n    path: urls.txt\n    classes: [bench]\nfetch:\n  workers: 64\n  per_host: 4\n  retries: 1\n  min_width: 8\n  min_height: 8\n"
				os.WriteFile(filepath.Join(dir, "scour.yaml"), []byte(cfg), 0o644)
				t0 := time.Now()
				var cmds []*exec.Cmd
				for k := 0; k < n; k++ {
					args := []string{"-C", dir, "-q", "gather"}
					if n > 1 {
						args = append(args, "--shard", fmt.Sprintf("%d/%d", k, n))
					}
					c := exec.CommandContext(cmd.Context(), exe, args...)
					c.Stderr = os.Stderr
					if err := c.Start(); err != nil {
						return err
					}
					cmds = append(cmds, c)
				}
				for _, c := range cmds {
					if err := c.Wait(); err != nil {
						return fmt.Errorf("shard process: %w", err)
					}
				}
				sec := time.Since(t0).Seconds()
				os.RemoveAll(dir)
				r := row{Procs: n, Seconds: sec, ImagesPerSec: float64(urls) / sec}
				if len(rows) > 0 {
					r.Speedup = r.ImagesPerSec / rows[0].ImagesPerSec
				} else {
					r.Speedup = 1
				}
				rows = append(rows, r)
			}
			return newUI(g).result(rows, func(w io.Writer) {
				fmt.Fprintf(w, "sharded gather: %d URLs over loopback, %d cores, each run from a cold start (process start, catalog, store)\n", urls, runtime.NumCPU())
				for _, r := range rows {
					fmt.Fprintf(w, "  %d process(es)   %7.2f s   %6.0f images/s   speed-up %.2fx\n", r.Procs, r.Seconds, r.ImagesPerSec, r.Speedup)
				}
			})
		},
	}
	c.Flags().IntVar(&urls, "urls", 20000, "URLs to gather in each run")
	c.Flags().IntVar(&hosts, "hosts", 16, "loopback addresses the server listens on")
	c.Flags().IntSliceVar(&procs, "procs", []int{1, 2, 4}, "shard process counts to compare")
	c.Flags().DurationVar(&latency, "latency", 30*time.Millisecond, "server latency per request")
	c.Flags().StringVar(&images, "images", defaultImagesDir(), "folder of photos to serve")
	return c
}

func newBenchDedupCmd(g *globals) *cobra.Command {
	var o cleanbench.DedupOptions
	c := &cobra.Command{
		Use:   "dedup",
		Short: "Near-duplicate search over 1,000,000 64-bit hashes (all pairs within distance 6)",
		Long: `bench dedup generates random 64-bit perceptual hashes with planted
near-duplicate pairs and finds all pairs within the Hamming distance, as clean
does (multi-index hashing). It prints the time, peak memory and pairs found,
beside the target (under 10 s and 1 GB on 2 cores) and the reference:
imagededup stalls at about 100,000 images.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := cleanbench.Dedup(cmd.Context(), o)
			if err != nil {
				return err
			}
			return newUI(g).result(r, func(w io.Writer) { fmt.Fprint(w, r.String()) })
		},
	}
	c.Flags().IntVar(&o.N, "n", 1_000_000, "hashes")
	c.Flags().IntVar(&o.Planted, "planted", 50_000, "near-duplicate pairs planted")
	c.Flags().IntVar(&o.MaxDist, "distance", 6, "Hamming distance")
	return c
}

func newBenchCleanCmd(g *globals) *cobra.Command {
	var shared, class string
	var speedN int
	c := &cobra.Command{
		Use:   "clean",
		Short: "Off-topic and duplicate precision/recall on a planted noisy class, and recognizer speed",
		Long: `bench clean builds a noisy class from the shared photos: boats/Destroyers plus
junk (CIFAR-10 non-ship thumbnails, empty find-the-ship frames, other boat
classes) and planted copies (exact, re-encoded, resized, cropped), runs clean,
and prints precision and recall of the off-topic flags for each method
(reference, labels, outlier) and of duplicate detection. Then it measures
decode + resize + MobileNetV2 images/s, alone and as the whole clean stage.
Needs ONNX Runtime (.ci/onnxruntime.sh) and the shared test data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			q, err := cleanbench.Quality(ctx, cleanbench.QualityOptions{Shared: shared, Class: class})
			if err != nil {
				return err
			}
			s, err := cleanbench.Speed(ctx, cleanbench.SpeedOptions{Shared: shared, N: speedN})
			if err != nil {
				return err
			}
			return newUI(g).result(map[string]any{"quality": q, "speed": s}, func(w io.Writer) {
				fmt.Fprint(w, q.String())
				fmt.Fprint(w, s.String())
			})
		},
	}
	d, _ := sharedtest.Find()
	c.Flags().StringVar(&shared, "shared", d, "the shared test data folder")
	c.Flags().IntVar(&speedN, "speed-images", 0, "photos for the speed part (0 = all, about 1,100)")
	c.Flags().StringVar(&class, "class", "Destroyers", "the boats class the junk is mixed into (Destroyers, Carriers, Submarines, ...)")
	return c
}

func newBenchTrainCmd(g *globals) *cobra.Command {
	var o nnbench.Options
	c := &cobra.Command{
		Use:   "train",
		Short: "Train and inference images/s of the reference CNN, beside PyTorch in the same run",
		Long: `bench train times the reference CNN (3x conv3x3 32/64/128 + ReLU + maxpool2,
dropout 0.5, dense 128, dense 2, Adam, batch 32, 128x128x3) in scour's engine:
training and inference images/s, achieved GFLOP/s and its fraction of a
measured SGEMM peak, peak RSS. When /usr/bin/python3 has torch (Debian
python3-torch), the PyTorch reference script runs right after in the same
command and the ratios are printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := nnbench.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			return newUI(g).result(r, func(w io.Writer) { fmt.Fprint(w, r.String()) })
		},
	}
	d, _ := sharedtest.Find()
	c.Flags().StringVar(&o.TorchScript, "torch-script", filepath.Join(d, "bench", "torch_cnn_reference.py"), "the PyTorch reference script (empty: skip PyTorch)")
	c.Flags().IntVar(&o.Steps, "steps", 20, "timed steps")
	c.Flags().IntVar(&o.Threads, "threads", 2, "threads for both engines")
	return c
}

func defaultImagesDir() string {
	d, _ := sharedtest.Find()
	return filepath.Join(d, "images")
}

func newBenchGatherCmd(g *globals) *cobra.Command {
	var (
		urls, hosts, workers, perHost int
		latency                       time.Duration
		images, cpuprofile            string
	)
	c := &cobra.Command{
		Use:   "gather",
		Short: "Download N URLs from a loopback server through the real fetch path",
		Long: `bench gather starts a server process that serves real photos (default: the
shared test images) with a fixed latency from several loopback addresses, then
gathers --urls URLs through the real path: HTTP, content sniffing, full decode,
perceptual hash, sha256, store write and catalog insert. It prints images/s, CPU
seconds per image and peak RSS (of the gathering process only), beside
img2dataset's published ~100 samples/s per core.`,
		Example: `  scour bench gather                 # 20,000 URLs, 30 ms latency
  scour bench gather --urls 100000   # check that memory stays flat`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := os.Stat(images); err != nil {
				return usagef("--images %s: %v (point it at a folder of photos)", images, err)
			}
			port, count, stop, err := startBenchServer(cmd, images, latency, hosts)
			if err != nil {
				return err
			}
			defer stop()
			dir, err := os.MkdirTemp("", "scour-bench-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			if cpuprofile != "" {
				f, err := os.Create(cpuprofile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			r, err := gatherbench.Run(cmd.Context(), gatherbench.Options{URLs: urls, Hosts: hosts, Port: port, Workers: workers, PerHost: perHost, Dir: dir, Images: count})
			if err != nil {
				return err
			}
			return newUI(g).result(r, func(w io.Writer) { fmt.Fprint(w, r.String()) })
		},
	}
	c.Flags().IntVar(&urls, "urls", 20000, "number of URLs to gather")
	c.Flags().IntVar(&hosts, "hosts", 16, "loopback addresses the server listens on (127.0.0.1..N)")
	c.Flags().IntVar(&workers, "workers", 64, "concurrent downloads")
	c.Flags().IntVar(&perHost, "per-host", 4, "concurrent downloads per host")
	c.Flags().DurationVar(&latency, "latency", 30*time.Millisecond, "server latency per request")
	c.Flags().StringVar(&images, "images", defaultImagesDir(), "folder of photos to serve")
	c.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the gathering process to FILE")
	return c
}

func newBenchServeCmd() *cobra.Command {
	var (
		images  string
		latency time.Duration
		hosts   int
	)
	c := &cobra.Command{
		Use:    "serve",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			imgs, err := gatherbench.LoadImages(images)
			if err != nil {
				return err
			}
			port, err := gatherbench.Serve(cmd.Context(), imgs, latency, hosts)
			if err != nil {
				return err
			}
			fmt.Printf("ready %d %d\n", port, len(imgs))
			<-cmd.Context().Done()
			return nil
		},
	}
	c.Flags().StringVar(&images, "images", "", "")
	c.Flags().DurationVar(&latency, "latency", 30*time.Millisecond, "")
	c.Flags().IntVar(&hosts, "hosts", 16, "")
	return c
}
