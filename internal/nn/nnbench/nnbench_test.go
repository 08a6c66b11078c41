package nnbench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/sharedtest"
)

func TestRunSmoke(t *testing.T) {
	rep, err := Run(context.Background(), Options{Batch: 4, InferBatch: 4, Img: 32, Steps: 2, Warmup: 1, GemmN: 128})
	if err != nil {
		t.Fatal(err)
	}
	if rep.TrainImgPerSec <= 0 || rep.InferImgPerSec <= 0 || rep.GemmPeakGFLOPS <= 0 || rep.TrainGFLOPS <= 0 {
		t.Fatalf("missing figures: %+v", rep)
	}
	if rep.Torch != nil || rep.TrainRatio() != 0 {
		t.Fatal("PyTorch figures without a script")
	}
	s := rep.String()
	for _, want := range []string{"train images/s", "inference images/s", "SGEMM", rep.Kernel} {
		if !strings.Contains(s, want) {
			t.Fatalf("report lacks %q:\n%s", want, s)
		}
	}
	t.Log("\n" + s)
}

// TestTorchOutputParsed stands a shell script in for Python so the parsing
// and ratio code runs without PyTorch installed.
func TestTorchOutputParsed(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "fake.sh")
	body := `echo "loadavg(start)=0.1 torch=9.9.9 threads=2 mkldnn=True"
echo "RESULT train_first_step_s=0.5 loss=0.7"
echo "RESULT train_img_per_s=10.00 train_step_median_s=3.2 cpu_util=1.50"
echo "RESULT infer_img_per_s=20.00 infer_call_median_s=3.2 cpu_util=1.75"
`
	if err := os.WriteFile(script, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Options{Batch: 2, InferBatch: 2, Img: 32, Steps: 1, Warmup: 1, GemmN: 64, TorchScript: script, Python: "/bin/sh"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Torch == nil {
		t.Fatalf("torch not parsed: %s", rep.TorchErr)
	}
	if rep.Torch.Version != "9.9.9" || rep.Torch.TrainImgPerSec != 10 || rep.Torch.InferImgPerSec != 20 ||
		rep.Torch.TrainCores != 1.5 || rep.Torch.InferCores != 1.75 {
		t.Fatalf("parsed %+v", rep.Torch)
	}
	if got, want := rep.TrainRatio(), rep.TrainImgPerSec/10; got != want {
		t.Fatalf("train ratio %v, want %v", got, want)
	}
	if !strings.Contains(rep.String(), "9.9.9") {
		t.Fatalf("report lacks the torch version:\n%s", rep)
	}
}

func TestTorchFailureIsReported(t *testing.T) {
	rep, err := Run(context.Background(), Options{Batch: 2, InferBatch: 2, Img: 32, Steps: 1, Warmup: 1, GemmN: 64, TorchScript: "/nonexistent/script.py", Python: "/bin/sh"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Torch != nil || rep.TorchErr == "" {
		t.Fatalf("a failing script gave torch=%+v err=%q", rep.Torch, rep.TorchErr)
	}
	if _, err := parseTorch("RESULT train_img_per_s=abc"); err == nil {
		t.Fatal("garbage figure accepted")
	}
}

// TestRunFull is the real benchmark, side by side with PyTorch when shared
// test data and Debian's python3-torch are present. It takes a minute or
// two, so it runs only with SCOUR_NNBENCH=1:
//
//	SCOUR_NNBENCH=1 go test ./internal/nn/nnbench -run TestRunFull -v
func TestRunFull(t *testing.T) {
	if os.Getenv("SCOUR_NNBENCH") == "" {
		t.Skip("set SCOUR_NNBENCH=1 to run the full benchmark")
	}
	o := Options{}
	if d, ok := sharedtest.Find(); ok {
		o.TorchScript = filepath.Join(d, "bench", "torch_cnn_reference.py")
	}
	if v := os.Getenv("SCOUR_NNBENCH_TORCH"); v == "0" {
		o.TorchScript = ""
	}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.String())
}
