// Package gatherbench measures the gather stage end to end on loopback: a
// server process serves real photos with a fixed latency from several
// loopback addresses, and the real fetch path (HTTP, sniff, full decode,
// perceptual hash, sha256, store write, catalog insert) downloads N URLs.
package gatherbench

import (
	"bufio"
	"context"
	"fmt"
	"github.com/scour-dev/scour/internal/rusage"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/fetch"
	"github.com/scour-dev/scour/internal/gather"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/search"
	"github.com/scour-dev/scour/internal/store"
)

// Reference is the figure scour is compared with: img2dataset, the reference
// tool at scale, publishes about 100 samples/s per core (its README's
// throughput table), so 200/s on this 2-core machine.
const ReferencePerCore = 100.0

// LoadImages reads every image file under dir (the shared photos).
func LoadImages(dir string) ([][]byte, error) {
	var out [][]byte
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp":
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if _, err := imaging.Inspect(b, imaging.Limits{}); err == nil {
				out = append(out, b)
			}
		}
		return nil
	})
	if len(out) == 0 && err == nil {
		err = fmt.Errorf("no images under %s", dir)
	}
	return out, err
}

// Handler serves images[i] at /img/i after latency, each URL's bytes made
// distinct by its ?n= parameter.
func Handler(images [][]byte, latency time.Duration) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/img/", func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/img/"))
		if err != nil || i < 0 {
			http.NotFound(w, r)
			return
		}
		time.Sleep(latency)
		b := images[i%len(images)]
		if n := r.URL.Query().Get("n"); n != "" && len(b) > 2 && b[0] == 0xFF && b[1] == 0xD8 {
			// A JPEG comment segment makes every URL's bytes distinct, so each
			// one is a new image to store and record, not a cheap duplicate.
			com := []byte("scour-bench " + n)
			seg := append([]byte{0xFF, 0xFE, byte((len(com) + 2) >> 8), byte(len(com) + 2)}, com...)
			b = append(append(append(make([]byte, 0, len(b)+len(seg)), b[:2]...), seg...), b[2:]...)
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	})
	return mux
}

// Serve serves Handler on 127.0.0.1..127.0.0.hosts at one port, which it
// returns, until ctx ends.
func Serve(ctx context.Context, images [][]byte, latency time.Duration, hosts int) (int, error) {
	mux := Handler(images, latency)
	port := 0
	for h := 1; h <= hosts; h++ {
		addr := fmt.Sprintf("127.0.0.%d:%d", h, port)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return 0, err
		}
		port = ln.Addr().(*net.TCPAddr).Port
		srv := &http.Server{Handler: mux}
		go srv.Serve(ln)
		go func() { <-ctx.Done(); srv.Close() }()
	}
	return port, nil
}

// Options sets up a run.
type Options struct {
	URLs    int
	Hosts   int
	Port    int
	Workers int
	PerHost int
	Dir     string // scratch project directory
	Images  int    // distinct images the server has
}

// Report is what a run measured.
type Report struct {
	URLs          int
	Kept, Dups    int
	Failed        int
	Wall          time.Duration
	CPUSeconds    float64
	PeakRSSBytes  int64
	ImagesPerSec  float64
	CPUPerImageMs float64
	Cores         int
	FailedCauses  map[string]int
}

func (r Report) String() string {
	ref := ReferencePerCore * float64(r.Cores)
	var b strings.Builder
	fmt.Fprintf(&b, "gather benchmark: %d URLs over loopback (%d kept, %d exact duplicates, %d failed)\n", r.URLs, r.Kept, r.Dups, r.Failed)
	fmt.Fprintf(&b, "  wall                %8.2f s\n", r.Wall.Seconds())
	fmt.Fprintf(&b, "  throughput          %8.0f images/s   (reference img2dataset: ~%.0f/s on %d cores; ratio %.1fx; target >= 600/s)\n", r.ImagesPerSec, ref, r.Cores, r.ImagesPerSec/ref)
	fmt.Fprintf(&b, "  CPU per image       %8.2f ms         (reference: ~%.0f ms per sample at 100/s/core)\n", r.CPUPerImageMs, 1000/ReferencePerCore)
	fmt.Fprintf(&b, "  peak RSS            %8.0f MB         (target < 300 MB at 100,000 URLs)\n", float64(r.PeakRSSBytes)/1e6)
	if len(r.FailedCauses) > 0 {
		keys := make([]string, 0, len(r.FailedCauses))
		for k := range r.FailedCauses {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "  failed %-12s %d\n", k, r.FailedCauses[k])
		}
	}
	return b.String()
}

// Run writes a URL list of o.URLs entries (cycling over the server's images
// and hosts, each with a distinct query string), and gathers it.
func Run(ctx context.Context, o Options) (Report, error) {
	list := filepath.Join(o.Dir, "urls.txt")
	f, err := os.Create(list)
	if err != nil {
		return Report{}, err
	}
	w := bufio.NewWriter(f)
	for i := 0; i < o.URLs; i++ {
		fmt.Fprintf(w, "http://127.0.0.%d:%d/img/%d?n=%d\n", 1+i%o.Hosts, o.Port, i%o.Images, i)
	}
	if err := w.Flush(); err != nil {
		return Report{}, err
	}
	f.Close()

	cat, err := catalog.Open(ctx, filepath.Join(o.Dir, "scour.db"))
	if err != nil {
		return Report{}, err
	}
	defer cat.Close()
	st, err := store.NewLocal(o.Dir)
	if err != nil {
		return Report{}, err
	}
	eng, err := search.New("urls", search.Options{Path: list})
	if err != nil {
		return Report{}, err
	}
	g := &gather.Gatherer{Cat: cat, Store: st, Fetcher: fetch.New(fetch.Options{PerHost: o.PerHost, Retries: 1, Limits: imaging.Limits{}})}
	cpu0 := rusage.CPUTime()
	t0 := time.Now()
	sum, err := g.Run(ctx, gather.Options{
		Classes: []gather.Class{{Name: "bench"}},
		Sources: []gather.Source{{Engine: eng, Classes: []string{"bench"}, Rescan: true, ClassFromResult: true}},
		Workers: o.Workers,
	})
	wall := time.Since(t0)
	if err != nil {
		return Report{}, err
	}
	cpu := (rusage.CPUTime() - cpu0).Seconds()
	n := sum.Kept + sum.Duplicates
	r := Report{URLs: o.URLs, Kept: sum.Kept, Dups: sum.Duplicates, Failed: sum.Failed, Wall: wall, CPUSeconds: cpu,
		PeakRSSBytes: rusage.PeakRSS(), Cores: runtime.NumCPU(), FailedCauses: sum.ByCause}
	if n > 0 {
		r.ImagesPerSec = float64(n) / wall.Seconds()
		r.CPUPerImageMs = cpu / float64(n) * 1000
	}
	return r, nil
}
