package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/gather/gatherbench"
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
	c.AddCommand(newBenchGatherCmd(g), newBenchServeCmd())
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
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			srv := exec.CommandContext(cmd.Context(), exe, "bench", "serve", "--images", images, "--latency", latency.String(), "--hosts", strconv.Itoa(hosts))
			srv.Stderr = os.Stderr
			stdout, err := srv.StdoutPipe()
			if err != nil {
				return err
			}
			if err := srv.Start(); err != nil {
				return err
			}
			defer func() { srv.Process.Kill(); srv.Wait() }()
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				return fmt.Errorf("bench server did not start: %v", err)
			}
			var port, count int
			if _, err := fmt.Sscanf(strings.TrimSpace(line), "ready %d %d", &port, &count); err != nil {
				return fmt.Errorf("bench server said %q", line)
			}
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
