package train

import (
	"bytes"
	"context"
	"errors"
	"github.com/scour-dev/scour/internal/store"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/augment"
)

// stripes makes a two-class problem a small CNN must learn from pixels:
// horizontal versus vertical stripes, with noise and random phase.
func stripes(n, size int, seed uint64) []Example {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]Example, n)
	for i := range out {
		lab := int32(i % 2)
		px := make([]uint8, size*size*3)
		phase := rng.IntN(4)
		for y := 0; y < size; y++ {
			for x := 0; x < size; x++ {
				c := x
				if lab == 1 {
					c = y
				}
				v := 40
				if (c+phase)/2%2 == 0 {
					v = 210
				}
				v += rng.IntN(41) - 20
				for ch := 0; ch < 3; ch++ {
					px[(y*size+x)*3+ch] = uint8(v)
				}
			}
		}
		out[i] = Example{SHA256: strings.Repeat("0", 8) + string(rune('a'+i%26)), Label: lab, Pixels: px}
	}
	return out
}

func data() Data {
	return Data{Classes: []string{"horizontal", "vertical"}, Size: 16,
		Train: stripes(96, 16, 1), Val: stripes(32, 16, 2), Test: stripes(32, 16, 3)}
}

func cfg(epochs int) Config {
	return Config{Name: "t", Spec: "8-16/d1/h32", Epochs: epochs, Batch: 16, Seed: 7, Threads: 1,
		Augment: augment.Params{HorizontalFlip: true}}
}

func TestTrainLearnsAndWritesEverything(t *testing.T) {
	dir := t.TempDir()
	res, err := Run(context.Background(), data(), cfg(8), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.History) != 8 || res.Best().ValAcc < 0.9 || res.TestAcc < 0.9 {
		t.Fatalf("did not learn stripes: best val %.2f test %.2f (%+v)", res.Best().ValAcc, res.TestAcc, res.History)
	}
	total := 0
	for _, row := range res.Confusion {
		for _, v := range row {
			total += v
		}
	}
	if total != 32 {
		t.Fatalf("confusion matrix counts %d test images, want 32", total)
	}
	for _, f := range []string{"history.csv", "history.json", "best.scour", "checkpoint.bin", "result.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	meta, m, err := LoadCNN(res.ModelPath)
	if err != nil || meta.Classes[1] != "vertical" || meta.Size != 16 || m.Classes() != 2 {
		t.Fatalf("model file: %+v %v", meta, err)
	}
}

// TestResumeEqualsUninterrupted: 3 epochs, then the same run asked for 6,
// gives the same history as 6 epochs straight.
func TestResumeEqualsUninterrupted(t *testing.T) {
	d := data()
	straight, err := Run(context.Background(), d, cfg(6), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := Run(context.Background(), d, cfg(3), dir, nil); err != nil {
		t.Fatal(err)
	}
	resumed, err := Run(context.Background(), d, cfg(6), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range straight.History {
		a, b := straight.History[i], resumed.History[i]
		if a.TrainLoss != b.TrainLoss || a.ValLoss != b.ValLoss {
			t.Fatalf("epoch %d: straight %+v, resumed %+v", i+1, a, b)
		}
	}
}

func TestDamagedCheckpointStartsOver(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "checkpoint.bin"), []byte("\x10\x00\x00\x00garbage garbage garbage"), 0o644)
	res, err := Run(context.Background(), data(), cfg(2), dir, nil)
	if err != nil || len(res.History) != 2 || res.History[0].Epoch != 1 {
		t.Fatalf("%v %+v", err, res.History)
	}
}

func TestDivergenceStopsClearly(t *testing.T) {
	c := cfg(3)
	c.LR = 1e9
	_, err := Run(context.Background(), data(), c, t.TempDir(), nil)
	if !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "learning rate") {
		t.Fatalf("want ErrDiverged with advice, got %v", err)
	}
}

func TestBadData(t *testing.T) {
	d := data()
	for name, mut := range map[string]func(*Data){
		"one class":         func(d *Data) { d.Classes = d.Classes[:1] },
		"empty train split": func(d *Data) { d.Train = nil },
		"empty val split":   func(d *Data) { d.Val = nil },
		"class without images": func(d *Data) {
			var keep []Example
			for _, e := range d.Train {
				if e.Label == 0 {
					keep = append(keep, e)
				}
			}
			d.Train = keep
		},
	} {
		dd := d
		mut(&dd)
		if _, err := Run(context.Background(), dd, cfg(1), t.TempDir(), nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestModelFileVersionAndDamage(t *testing.T) {
	dir := t.TempDir()
	res, err := Run(context.Background(), data(), cfg(1), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(res.ModelPath)
	other := append([]byte(nil), good...)
	other[8] = 9 // version 9
	p := filepath.Join(dir, "other.scour")
	os.WriteFile(p, other, 0o644)
	if _, _, err := LoadCNN(p); !errors.Is(err, ErrModelFile) || !strings.Contains(err.Error(), "version 9") {
		t.Fatalf("other version: %v", err)
	}
	damaged := append([]byte(nil), good...)
	damaged[len(damaged)/2] ^= 0xff
	os.WriteFile(p, damaged, 0o644)
	if _, _, err := LoadCNN(p); !errors.Is(err, ErrModelFile) {
		t.Fatalf("damaged: %v", err)
	}
}

// TestLoadSkipsUndecodableImages: a file that no longer decodes at train
// time is listed, not fatal, and the others load.
func TestLoadSkipsUndecodableImages(t *testing.T) {
	st, err := store.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	var buf bytes.Buffer
	png.Encode(&buf, img)
	st.Put(ctx, "images/a/good.png", bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	st.Put(ctx, "images/b/bad.png", strings.NewReader("truncated"), 9)
	srcs := []Source{
		{SHA256: strings.Repeat("a", 64), Class: "a", Key: "images/a/good.png", Split: "train"},
		{SHA256: strings.Repeat("b", 64), Class: "b", Key: "images/b/bad.png", Split: "train"},
		{SHA256: strings.Repeat("c", 64), Class: "b", Key: "images/b/missing.png", Split: "val"},
	}
	d, err := Load(ctx, st, []string{"a", "b"}, 16, srcs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Train) != 1 || len(d.Skipped) != 2 || len(d.Train[0].Pixels) != 16*16*3 {
		t.Fatalf("train %d, skipped %v", len(d.Train), d.Skipped)
	}
}
