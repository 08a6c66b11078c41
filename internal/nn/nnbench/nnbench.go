// Package nnbench measures scour's CNN engine on the reference model
// (3 conv blocks 32/64/128, dropout, dense 128, 2 classes, Adam) and, when a
// PyTorch twin of that model is at hand, runs it in the same process tree
// right after, so both are measured under the same machine load.
package nnbench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/scour-dev/scour/internal/rusage"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/scour-dev/scour/internal/nn"
)

// Options configure a run. Zero values take the defaults in brackets.
type Options struct {
	Batch      int    // training batch [32]
	InferBatch int    // inference batch [64, as the PyTorch script]
	Img        int    // square input side [128]
	Steps      int    // timed training steps and inference calls [20]
	Warmup     int    // untimed steps before each timing [3]
	Threads    int    // engine threads [2]
	Kernel     string // SGEMM kernel set ["" = default]
	GemmN      int    // side of the square SGEMM that measures the peak [1024]
	// TorchScript is the path of torch_cnn_reference.py; empty skips
	// PyTorch. Python runs it [/usr/bin/python3].
	TorchScript string
	Python      string
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Batch, 32)
	def(&o.InferBatch, 64)
	def(&o.Img, 128)
	def(&o.Steps, 20)
	def(&o.Warmup, 3)
	def(&o.Threads, 2)
	def(&o.GemmN, 1024)
	if o.Python == "" {
		o.Python = "/usr/bin/python3"
	}
}

// Report holds the figures of one run; throughputs are images per second.
type Report struct {
	Options Options
	Kernel  string // nn.KernelName of the engine used
	Params  int

	TrainImgPerSec, InferImgPerSec float64
	// TrainCores and InferCores are the CPU time the timed loops got over
	// their wall time: below Threads means other processes took the rest,
	// which is what to look at before comparing runs (0 if unknown).
	TrainCores, InferCores   float64
	TrainGFLOPS, InferGFLOPS float64 // achieved, from the model's FLOP count
	GemmPeakGFLOPS           float64 // best of 3 square SGEMMs of GemmN
	FirstLoss, LastLoss      float64
	PeakRSS                  int64 // bytes, this process's high-water mark (0 if unknown)

	Torch    *TorchResult // nil when PyTorch did not run
	TorchErr string       // why it did not, if it was asked for
}

// TorchResult is what the PyTorch script printed.
type TorchResult struct {
	Version                        string
	TrainImgPerSec, InferImgPerSec float64
	TrainCores, InferCores         float64 // the script's cpu_util
	PeakRSS                        int64   // bytes, the Python process's high-water mark
}

// TrainRatio and InferRatio are scour's throughput over PyTorch's (0 when
// PyTorch did not run).
func (r Report) TrainRatio() float64 {
	if r.Torch == nil || r.Torch.TrainImgPerSec == 0 {
		return 0
	}
	return r.TrainImgPerSec / r.Torch.TrainImgPerSec
}

func (r Report) InferRatio() float64 {
	if r.Torch == nil || r.Torch.InferImgPerSec == 0 {
		return 0
	}
	return r.InferImgPerSec / r.Torch.InferImgPerSec
}

// Run builds the reference model with random weights and inputs, times
// training and inference, measures the SGEMM peak, and then runs PyTorch
// if asked.
func Run(ctx context.Context, o Options) (Report, error) {
	o.defaults()
	rep := Report{Options: o}
	spec, err := nn.ParseSpec("32-64-128/d1")
	if err != nil {
		return rep, err
	}
	in := nn.Shape{H: o.Img, W: o.Img, C: 3}
	m, err := nn.Build(spec, in, 2, 1)
	if err != nil {
		return rep, fmt.Errorf("nnbench: %w", err)
	}
	m.SetThreads(o.Threads)
	if o.Kernel != "" {
		if err := m.SetKernel(o.Kernel); err != nil {
			return rep, fmt.Errorf("nnbench: %w", err)
		}
	}
	rep.Kernel = m.Kernel()
	rep.Params = m.NumParams()
	fwd, train := m.FLOPsPerExample()

	// Four batches cycled, as the PyTorch script does.
	r := rand.New(rand.NewPCG(1, 2))
	xs := make([][]float32, 4)
	ys := make([][]int32, 4)
	for i := range xs {
		xs[i] = make([]float32, o.Batch*in.Size())
		for j := range xs[i] {
			xs[i][j] = r.Float32()
		}
		ys[i] = make([]int32, o.Batch)
		for j := range ys[i] {
			ys[i][j] = int32(r.IntN(2))
		}
	}
	opt := nn.NewAdam(1e-3)
	step := 0
	trainStep := func() (float64, error) {
		loss, _, err := m.TrainBatch(xs[step%4], ys[step%4], opt)
		step++
		return loss, err
	}
	for i := range o.Warmup {
		loss, err := trainStep()
		if err != nil {
			return rep, fmt.Errorf("nnbench: %w", err)
		}
		if i == 0 {
			rep.FirstLoss = loss
		}
	}
	start, cpu0 := time.Now(), rusage.CPUTime()
	for range o.Steps {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if rep.LastLoss, err = trainStep(); err != nil {
			return rep, fmt.Errorf("nnbench: %w", err)
		}
	}
	wall := time.Since(start)
	rep.TrainImgPerSec = float64(o.Steps*o.Batch) / wall.Seconds()
	rep.TrainCores = cores(cpu0, wall)
	rep.TrainGFLOPS = rep.TrainImgPerSec * train / 1e9

	xi := make([]float32, o.InferBatch*in.Size())
	for j := range xi {
		xi[j] = r.Float32()
	}
	for range o.Warmup {
		if _, err := m.Predict(xi, o.InferBatch); err != nil {
			return rep, fmt.Errorf("nnbench: %w", err)
		}
	}
	start, cpu0 = time.Now(), rusage.CPUTime()
	for range o.Steps {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if _, err := m.Predict(xi, o.InferBatch); err != nil {
			return rep, fmt.Errorf("nnbench: %w", err)
		}
	}
	wall = time.Since(start)
	rep.InferImgPerSec = float64(o.Steps*o.InferBatch) / wall.Seconds()
	rep.InferCores = cores(cpu0, wall)
	rep.InferGFLOPS = rep.InferImgPerSec * fwd / 1e9

	if rep.GemmPeakGFLOPS, err = gemmPeak(o); err != nil {
		return rep, err
	}
	rep.PeakRSS = rusage.PeakRSS()

	if o.TorchScript != "" {
		rep.Torch, err = runTorch(ctx, o)
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			rep.TorchErr = err.Error()
		}
	}
	return rep, nil
}

// cores is the CPU time used since cpu0 over wall, or 0 when unknown.
func cores(cpu0, wall time.Duration) float64 {
	if cpu0 < 0 || wall <= 0 {
		return 0
	}
	return (rusage.CPUTime() - cpu0).Seconds() / wall.Seconds()
}

func gemmPeak(o Options) (float64, error) {
	g, err := nn.NewGemm(o.Kernel, o.Threads)
	if err != nil {
		return 0, fmt.Errorf("nnbench: %w", err)
	}
	n := o.GemmN
	r := rand.New(rand.NewPCG(3, 4))
	a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range a {
		a[i], b[i] = r.Float32(), r.Float32()
	}
	best := 0.0
	for range 3 {
		start := time.Now()
		g.Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
		best = max(best, 2*float64(n)*float64(n)*float64(n)/time.Since(start).Seconds()/1e9)
	}
	return best, nil
}

func runTorch(ctx context.Context, o Options) (*TorchResult, error) {
	if _, err := exec.LookPath(o.Python); err != nil {
		return nil, fmt.Errorf("no python at %s: %w", o.Python, err)
	}
	args := []string{o.TorchScript,
		"--batch", strconv.Itoa(o.Batch), "--infer_batch", strconv.Itoa(o.InferBatch),
		"--img", strconv.Itoa(o.Img), "--steps", strconv.Itoa(o.Steps), "--infer_steps", strconv.Itoa(o.Steps),
		"--warmup", strconv.Itoa(o.Warmup), "--infer_warmup", strconv.Itoa(o.Warmup),
		"--threads", strconv.Itoa(o.Threads)}
	cmd := exec.CommandContext(ctx, o.Python, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return nil, fmt.Errorf("%s %s: %w: %s", o.Python, o.TorchScript, err, msg)
	}
	res, err := parseTorch(string(out))
	if err != nil {
		return nil, err
	}
	res.PeakRSS = rusage.ChildPeakRSS(cmd)
	return res, nil
}

// parseTorch reads the "key=value" fields of the script's output: the
// version from its first line and the throughputs from its RESULT lines.
func parseTorch(out string) (*TorchResult, error) {
	res := &TorchResult{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		train := strings.Contains(line, "train_img_per_s=")
		for _, f := range strings.Fields(line) {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				continue
			}
			if k == "torch" {
				res.Version = v
				continue
			}
			var dst *float64
			switch {
			case k == "train_img_per_s":
				dst = &res.TrainImgPerSec
			case k == "infer_img_per_s":
				dst = &res.InferImgPerSec
			case k == "cpu_util" && train:
				dst = &res.TrainCores
			case k == "cpu_util":
				dst = &res.InferCores
			default:
				continue
			}
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("pytorch output: %s: %w", f, err)
			}
			*dst = x
		}
	}
	if res.TrainImgPerSec == 0 || res.InferImgPerSec == 0 {
		return nil, errors.New("pytorch output lacks train_img_per_s or infer_img_per_s")
	}
	return res, nil
}

// String prints the figures side by side.
func (r Report) String() string {
	var b strings.Builder
	o := r.Options
	fmt.Fprintf(&b, "reference CNN %dx%dx3, train batch %d, inference batch %d, %d threads, %d steps, %d parameters\n",
		o.Img, o.Img, o.Batch, o.InferBatch, o.Threads, o.Steps, r.Params)
	fmt.Fprintf(&b, "scour kernel: %s\n", r.Kernel)
	fmt.Fprintf(&b, "%-22s %12s %12s %8s\n", "", "scour", "pytorch", "ratio")
	row := func(name string, ours, theirs, ratio float64) {
		t, q := "-", "-"
		if r.Torch != nil {
			t = fmt.Sprintf("%.1f", theirs)
			q = fmt.Sprintf("%.2fx", ratio)
		}
		fmt.Fprintf(&b, "%-22s %12.1f %12s %8s\n", name, ours, t, q)
	}
	var tt, ti, tct, tci float64
	var trss int64
	if r.Torch != nil {
		tt, ti, trss = r.Torch.TrainImgPerSec, r.Torch.InferImgPerSec, r.Torch.PeakRSS
		tct, tci = r.Torch.TrainCores, r.Torch.InferCores
	}
	row("train images/s", r.TrainImgPerSec, tt, r.TrainRatio())
	row("inference images/s", r.InferImgPerSec, ti, r.InferRatio())
	coreRow := func(name string, ours, theirs float64) {
		t := "-"
		if r.Torch != nil {
			t = fmt.Sprintf("%.2f", theirs)
		}
		fmt.Fprintf(&b, "%-22s %12.2f %12s\n", name, ours, t)
	}
	coreRow("CPU cores used, train", r.TrainCores, tct)
	coreRow("CPU cores used, infer", r.InferCores, tci)
	mib := func(v int64) string {
		if v <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f MiB", float64(v)/(1<<20))
	}
	fmt.Fprintf(&b, "%-22s %12s %12s\n", "peak RSS", mib(r.PeakRSS), mib(trss))
	frac := func(x float64) float64 {
		if r.GemmPeakGFLOPS == 0 {
			return 0
		}
		return 100 * x / r.GemmPeakGFLOPS
	}
	fmt.Fprintf(&b, "scour GFLOP/s: train %.1f (%.0f%% of SGEMM peak), inference %.1f (%.0f%%); SGEMM %dx%d peak %.1f\n",
		r.TrainGFLOPS, frac(r.TrainGFLOPS), r.InferGFLOPS, frac(r.InferGFLOPS), o.GemmN, o.GemmN, r.GemmPeakGFLOPS)
	fmt.Fprintf(&b, "loss: first step %.4f, last step %.4f", r.FirstLoss, r.LastLoss)
	if r.Torch != nil && r.Torch.Version != "" {
		fmt.Fprintf(&b, "\npytorch %s", r.Torch.Version)
	}
	if r.TorchErr != "" {
		fmt.Fprintf(&b, "\npytorch not run: %s", r.TorchErr)
	}
	return b.String()
}
