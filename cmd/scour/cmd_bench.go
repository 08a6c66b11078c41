package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/scour-dev/scour/internal/bench"
)

func newBenchCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure scour's speed against its reference figures",
		Long: `bench runs reproducible benchmarks and prints each figure beside the
reference it is compared with. Close other work first: the figures are only
meaningful on a quiet machine.

The benchmarks read the shared test data (photos, the PyTorch reference
script): set SCOUR_SHARED to its folder, or pass --images, --shared or
--torch-script.`,
	}
	c.AddCommand(newBenchGatherCmd(g), newBenchServeCmd(), newBenchDedupCmd(g), newBenchCleanCmd(g), newBenchTrainCmd(g), newBenchHeadCmd(g), newBenchShardsCmd(g), newBenchCatalogCmd(g))
	return c
}

const imagesHelp = "folder of photos to serve (default: $SCOUR_SHARED/images)"

func newBenchShardsCmd(g *globals) *cobra.Command {
	var o bench.ShardsOptions
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
			var err error
			if o.Exe, err = os.Executable(); err != nil {
				return err
			}
			rows, err := bench.Shards(cmd.Context(), o)
			if err != nil {
				return err
			}
			return newUI(g).result(rows, func(w io.Writer) {
				fmt.Fprintf(w, "sharded gather: %d URLs over loopback, %d cores, each run from a cold start (process start, catalog, store)\n", o.URLs, runtime.NumCPU())
				for _, r := range rows {
					fmt.Fprintf(w, "  %d process(es)   %7.2f s   %6.0f images/s   speed-up %.2fx\n", r.Procs, r.Seconds, r.ImagesPerSec, r.Speedup)
				}
			})
		},
	}
	c.Flags().IntVar(&o.URLs, "urls", 20000, "URLs to gather in each run")
	c.Flags().IntVar(&o.Hosts, "hosts", 16, "loopback addresses the server listens on")
	c.Flags().IntSliceVar(&o.Procs, "procs", []int{1, 2, 4}, "shard process counts to compare")
	c.Flags().DurationVar(&o.Latency, "latency", 30*time.Millisecond, "server latency per request")
	c.Flags().StringVar(&o.Images, "images", bench.SharedPath("images"), imagesHelp)
	return c
}

func newBenchDedupCmd(g *globals) *cobra.Command {
	var o bench.DedupOptions
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
			r, err := bench.Dedup(cmd.Context(), o)
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
	var o bench.CleanOptions
	c := &cobra.Command{
		Use:   "clean",
		Short: "Off-topic and duplicate precision/recall on a planted noisy class, and recognizer speed",
		Long: `bench clean builds a noisy class from the shared photos: boats/Destroyers plus
junk (CIFAR-10 non-ship thumbnails, empty find-the-ship frames, other boat
classes) and planted copies (exact, re-encoded, resized, cropped), runs clean,
and prints precision and recall of the off-topic flags for each method
(reference, labels, outlier) and of duplicate detection. Then it measures
decode + resize + MobileNetV2 images/s, alone and as the whole clean stage.

With --web it runs the benchmarks that look like the web instead, each
figure beside issue 17's target: the real hand-labelled noisy-web scrape
("B-1", "B-52") without and with three references; every boats class with a
planted cluster of one wrong concept (cars, trucks, rendered document pages,
another boats class), scattered junk and look-alikes, per kind; 5% of
images swapped between six boats classes (misfiled, and the suggestion);
and precision/recall after 0, 5, 10 and 20 review decisions per class.

With --images N it runs clean at scale instead: a project of N crops,
re-encodes and resizes of the shared photos, through the whole clean stage
(first run), printing the wall time, the recognizer's share of it, the peak
RSS and the recall of the embedding near-duplicate index against comparing
every pair (a sample of 2,000 images beyond 20,000). With --dir the project
is kept; run again with the same --dir and --images and clean finds every
measurement and embedding cached: the judging part alone, its memory and
time without the recognizer. --prepare makes the project and caches what
the recognizer says of it, then stops.
Needs ONNX Runtime (.ci/onnxruntime.sh) and the shared test data (--shared,
or SCOUR_SHARED).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := bench.Clean(cmd.Context(), o)
			if err != nil {
				return err
			}
			return newUI(g).result(r, func(w io.Writer) { fmt.Fprint(w, r.String()) })
		},
	}
	c.Flags().StringVar(&o.Shared, "shared", bench.SharedPath(), "the shared test data folder (default: $SCOUR_SHARED)")
	c.Flags().IntVar(&o.SpeedImages, "speed-images", 0, "photos for the speed part (0 = all, about 1,100)")
	c.Flags().StringVar(&o.Class, "class", "Destroyers", "the boats class the junk is mixed into (Destroyers, Carriers, Submarines, ...)")
	c.Flags().BoolVar(&o.Web, "web", false, "run the benchmarks that look like the web instead (noisy-web, planted clusters, misfiled swaps, learning from review; about 8 minutes)")
	c.Flags().StringSliceVar(&o.WebClasses, "web-classes", nil, "with --web: the boats classes garbage is planted into (default: all nine)")
	c.Flags().IntVar(&o.Images, "images", 0, "run clean at scale instead, on this many synthetic variants of the shared photos (100000 is the README's figure and takes many minutes)")
	c.Flags().StringVar(&o.Dir, "dir", "", "with --images: keep the project in this folder; run again with the same --dir and --images to judge it again from the cache (the judging part alone, without the recognizer)")
	c.Flags().IntVar(&o.RecallQueries, "recall-queries", 0, "with --images: images compared with every other for the index's recall (0 = all up to 20,000 images, 2,000 beyond)")
	c.Flags().BoolVar(&o.Prepare, "prepare", false, "with --images and --dir: make the project and cache its measurements and embeddings, then stop (a later run with the same --dir is the judging part alone)")
	c.Flags().StringVar(&o.CPUProfile, "cpuprofile", "", "with --images: write a CPU profile of the clean stage to FILE")
	c.Flags().IntSliceVar(&o.Decisions, "decisions", nil, "with --web: review decisions per class on the learning curve (default: 0,5,10,20)")
	return c
}

func newBenchTrainCmd(g *globals) *cobra.Command {
	var o bench.TrainOptions
	c := &cobra.Command{
		Use:   "train",
		Short: "Train and inference images/s of the reference CNN, beside PyTorch in the same run",
		Long: `bench train times the reference CNN (3x conv3x3 32/64/128 + ReLU + maxpool2,
dropout 0.5, dense 128, dense 2, Adam, batch 32, 128x128x3) in scour's engine:
training and inference images/s, achieved GFLOP/s and its fraction of a
measured SGEMM peak, peak RSS. When /usr/bin/python3 has torch (Debian
python3-torch), the PyTorch reference script (--torch-script, by default
$SCOUR_SHARED/bench/torch_cnn_reference.py) runs right after in the same
command and the ratios are printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := bench.Train(cmd.Context(), o)
			if err != nil {
				return err
			}
			return newUI(g).result(r, func(w io.Writer) { fmt.Fprint(w, r.String()) })
		},
	}
	c.Flags().StringVar(&o.TorchScript, "torch-script", bench.SharedPath("bench", "torch_cnn_reference.py"), "the PyTorch reference script (default: in $SCOUR_SHARED; empty: skip PyTorch)")
	c.Flags().IntVar(&o.Steps, "steps", 20, "timed steps")
	c.Flags().IntVar(&o.Threads, "threads", 2, "threads for both engines")
	return c
}

func newBenchHeadCmd(g *globals) *cobra.Command {
	var o bench.HeadOptions
	c := &cobra.Command{
		Use:   "head",
		Short: "The transfer head's test accuracy beside scikit-learn's LogisticRegression on the same embeddings",
		Long: `bench head embeds the shared boat photos with MobileNetV2 once, splits each
class set 60/20/20 (seeded), and fits scour's transfer head (standardised,
L-BFGS, L2 chosen on validation) and scikit-learn's LogisticRegression
(Debian python3-sklearn, /usr/bin/python3; the same L2 grid as C, chosen on
the same validation split) side by side, on easy, close and hard class
pairs and on all nine classes. It prints both test accuracies, the L2 each
chose and the fit times. Needs ONNX Runtime (.ci/onnxruntime.sh) and the
shared test data (--shared, or SCOUR_SHARED).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The table is for people; --json prints the results instead.
			w := io.Writer(os.Stdout)
			if g.json {
				w = io.Discard
			}
			r, err := bench.Head(cmd.Context(), w, o)
			if err != nil {
				return err
			}
			return newUI(g).result(r, func(io.Writer) {})
		},
	}
	c.Flags().StringVar(&o.Shared, "shared", bench.SharedPath(), "the shared test data folder (default: $SCOUR_SHARED)")
	c.Flags().IntVar(&o.PerClass, "per-class", 0, "photos per class (0 = all)")
	c.Flags().Uint64Var(&o.Seed, "seed", 1, "drives the split")
	return c
}

func newBenchGatherCmd(g *globals) *cobra.Command {
	var o bench.GatherOptions
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
			var err error
			if o.Exe, err = os.Executable(); err != nil {
				return err
			}
			r, err := bench.Gather(cmd.Context(), o)
			if err != nil {
				return err
			}
			return newUI(g).result(r, func(w io.Writer) { fmt.Fprint(w, r.String()) })
		},
	}
	c.Flags().IntVar(&o.URLs, "urls", 20000, "number of URLs to gather")
	c.Flags().IntVar(&o.Hosts, "hosts", 16, "loopback addresses the server listens on (127.0.0.1..N)")
	c.Flags().IntVar(&o.Workers, "workers", 64, "concurrent downloads")
	c.Flags().IntVar(&o.PerHost, "per-host", 4, "concurrent downloads per host")
	c.Flags().DurationVar(&o.Latency, "latency", 30*time.Millisecond, "server latency per request")
	c.Flags().StringVar(&o.Images, "images", bench.SharedPath("images"), imagesHelp)
	c.Flags().StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the gathering process to FILE")
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
			return bench.Serve(cmd.Context(), images, latency, hosts, func(port, n int) {
				fmt.Printf("ready %d %d\n", port, n)
			})
		},
	}
	c.Flags().StringVar(&images, "images", "", "")
	c.Flags().DurationVar(&latency, "latency", 30*time.Millisecond, "")
	c.Flags().IntVar(&hosts, "hosts", 16, "")
	return c
}

func newBenchCatalogCmd(g *globals) *cobra.Command {
	var o bench.CatalogOptions
	c := &cobra.Command{
		Use:   "catalog",
		Short: "Merge, export, report and fingerprints over catalogs of millions of rows; incremental shard upload",
		Long: `bench catalog builds --shards shard catalogs holding --rows synthetic URL
rows between them (in SQL, in a scratch folder), uploads one shard to a local
store whole and again after 1% of its rows changed, merges the shards into a
project catalog, exports it as CSV and Parquet, builds the report's dataset
part and computes scour run's stage fingerprints. Each step prints its wall
time and its own peak resident memory, which should not grow with --rows.
Ten million rows take about 25 GB of scratch disk.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := bench.Catalog(cmd.Context(), o)
			if err != nil {
				return err
			}
			return newUI(g).result(r, func(w io.Writer) { fmt.Fprint(w, r.String()) })
		},
	}
	c.Flags().IntVar(&o.Rows, "rows", 1_000_000, "URL rows in all shards together")
	c.Flags().IntVar(&o.Shards, "shards", 4, "shard catalogs")
	c.Flags().StringVar(&o.Dir, "dir", "", "scratch folder, kept afterwards (default: a temporary one, deleted)")
	return c
}
