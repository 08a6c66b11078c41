package report

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/scour-dev/scour/internal/sharedtest"
)

// boatClasses are the classes of the real scrape in ../shared/images/boats.
var boatClasses = []string{"Carriers", "Cruise Ships", "Destroyers", "Fishing Boats", "Kayaks", "Sailboats",
	"Security Boats", "Submarines", "Tugs"}

// fakeCurve makes per-epoch metrics shaped like a small CNN's: both
// accuracies rise towards a plateau; past peak, validation accuracy decays
// by overfit per epoch while its loss climbs. noise is seeded, so the same
// arguments give the same run.
func fakeCurve(epochs int, trainTop, valTop, tau float64, peak int, overfit float64, secs float64, seed uint64) []Epoch {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]Epoch, epochs)
	for i := range out {
		e := float64(i + 1)
		rise := 1 - math.Exp(-e/tau)
		tr := 0.12 + (trainTop-0.12)*rise
		va := 0.12 + (valTop-0.12)*rise
		over := 0.0
		if i+1 > peak {
			over = overfit * float64(i+1-peak)
		}
		va += -over + 0.012*rng.NormFloat64()
		tr += 0.004 * rng.NormFloat64()
		out[i] = Epoch{
			TrainAcc:  math.Min(tr, 0.999),
			ValAcc:    math.Min(va, 0.999),
			TrainLoss: math.Max(0.004, 2.2*math.Exp(-e/tau*1.1)+2.2*(1-trainTop)+0.01*rng.NormFloat64()),
			ValLoss:   2.2*math.Exp(-e/tau) + 2.4*(1-valTop) + 6*over + 0.03*rng.NormFloat64(),
			Seconds:   secs * (1 + 0.03*rng.NormFloat64()),
		}
	}
	return out
}

// fakePicture is a flat-coloured picture used when the real photos are
// absent: the contact sheets still fill.
func fakePicture(i int) Picture {
	img := image.NewRGBA(image.Rect(0, 0, 240, 160))
	c := color.RGBA{uint8(40 + 23*i%200), uint8(90 + 37*i%150), uint8(160 - 11*i%120), 255}
	for p := 0; p < len(img.Pix); p += 4 {
		img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = c.R, c.G, c.B, c.A
	}
	return Picture{Image: img}
}

// photos returns up to n real boat photos of class, or fake pictures.
func photos(t testing.TB, class string, n, seed int) []Picture {
	var out []Picture
	if dir, ok := sharedtest.Find(); ok {
		names, _ := filepath.Glob(filepath.Join(dir, "images", "boats", "train", class, "*.jpg"))
		slices.Sort(names)
		for i := seed; i < len(names) && len(out) < n; i += 7 {
			b, err := os.ReadFile(names[i])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, Picture{Encoded: b})
		}
	}
	for len(out) < n {
		out = append(out, fakePicture(seed+len(out)))
	}
	return out
}

// sampleReport is a realistic report: nine boat classes, a six-variant
// sweep of the reference CNN (32-64-128 filters, one or two dropout
// layers), real thumbnails where ../shared has them.
func sampleReport(t testing.TB) Report {
	ds := &Dataset{
		Sources:  []Count{{"bing", 611}, {"duckduckgo", 188}, {"commons", 71}},
		Licenses: []Count{{"unknown", 799}, {"CC BY-SA 4.0", 44}, {"CC BY 2.0", 19}, {"public domain", 8}},
	}
	for i, name := range boatClasses {
		found := 150 + 13*i
		failed := []Count{{"http-404", 6 + i%4}, {"timeout", 3 + i%3}, {"html", 2 + i%2}}
		if i%3 == 0 {
			failed = append(failed, Count{"too-small", 4})
		}
		quar := []Count{{"near-duplicate", 5 + i%5}, {"off-topic", 3 + 2*(i%3)}}
		if i%2 == 1 {
			quar = append(quar, Count{"low-resolution", 2})
		}
		dup := 4 + i%3
		downloaded := found - sum(failed)
		kept := downloaded - dup - sum(quar)
		ds.Classes = append(ds.Classes, Class{Name: name, Found: found, Downloaded: downloaded, Duplicates: dup,
			Kept: kept, Failed: failed, Quarantined: quar})
		if i < 4 {
			for j, p := range photos(t, name, 8, i) {
				ds.Kept = append(ds.Kept, Sample{Picture: p, Class: name, Caption: hashLike(i*10 + j)})
			}
		}
	}
	for j, p := range photos(t, "Destroyers", 5, 3) {
		ds.Quarantined = append(ds.Quarantined, Sample{Picture: p, Class: "Destroyers", Reason: "off-topic", Caption: hashLike(100 + j)})
	}
	for j, p := range photos(t, "Kayaks", 4, 5) {
		ds.Quarantined = append(ds.Quarantined, Sample{Picture: p, Class: "Kayaks", Reason: "near-duplicate", Caption: hashLike(200 + j)})
	}

	variants := []struct {
		name, spec            string
		params                int64
		trainTop, valTop, tau float64
		peak                  int
		overfit, secs         float64
	}{
		{"cnn-32-64-128", "conv 32-64-128, no dropout", 3_304_009, 0.995, 0.80, 3.0, 8, 0.006, 21.4},
		{"cnn-32-64-128-d1", "conv 32-64-128, dropout 0.5 after dense", 3_304_009, 0.95, 0.83, 3.5, 12, 0.002, 21.9},
		{"cnn-32-64-128-d2", "conv 32-64-128, dropout 0.25 after conv3 and 0.5 after dense", 3_304_009, 0.90, 0.84, 4.0, 30, 0, 22.3},
		{"cnn-16-32-64-d2", "conv 16-32-64, two dropout layers", 830_345, 0.82, 0.79, 4.5, 30, 0, 11.8},
		{"cnn-64-128-256-d2", "conv 64-128-256, two dropout layers", 13_145_865, 0.97, 0.82, 3.0, 9, 0.004, 58.6},
		{"cnn-8-16-32", "conv 8-16-32, no dropout, lr 1e-4", 209_913, 0.55, 0.52, 9, 30, 0, 6.1},
	}
	sweep := Sweep{Name: "boats: reference CNN variants"}
	for vi, v := range variants {
		r := Run{Name: v.name, Spec: v.spec, Params: v.params,
			Epochs: fakeCurve(20, v.trainTop, v.valTop, v.tau, v.peak, v.overfit, v.secs, uint64(vi+1))}
		if vi < 3 {
			r.Test = fakeConfusion(boatClasses, r.Epochs[len(r.Epochs)-1].ValAcc, uint64(vi))
			for j, p := range photos(t, "Submarines", 3, vi) {
				r.Worst = append(r.Worst, Mistake{Picture: p, True: "Submarines", Predicted: boatClasses[(j+2)%9],
					Confidence: 0.97 - 0.08*float64(j), Caption: hashLike(300 + j)})
			}
		}
		sweep.Runs = append(sweep.Runs, r)
	}
	return Report{Title: "warships: dataset and training report", Generated: "generated 2025-01-01 12:00 UTC",
		Dataset: ds, Sweep: sweep}
}

// fakeConfusion spreads 30 test images per class: about acc on the
// diagonal, the rest mostly on a neighbouring class, as similar ships do.
func fakeConfusion(classes []string, acc float64, seed uint64) *Confusion {
	rng := rand.New(rand.NewPCG(seed, 11))
	k := len(classes)
	m := &Confusion{Classes: classes, Counts: make([][]int, k)}
	for i := range k {
		m.Counts[i] = make([]int, k)
		for range 30 {
			switch p := rng.Float64(); {
			case p < acc:
				m.Counts[i][i]++
			case p < acc+(1-acc)*0.6:
				m.Counts[i][(i+1)%k]++
			default:
				m.Counts[i][rng.IntN(k)]++
			}
		}
	}
	return m
}

func hashLike(i int) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 8)
	x := uint32(i)*2654435761 + 12345
	for j := range b {
		b[j] = hex[x>>28]
		x = x*1103515245 + 12345
	}
	return string(b)
}

// TestSampleReport renders the sample report. Set SCOUR_REPORT_SAMPLE to a
// directory to keep it there and look at it.
func TestSampleReport(t *testing.T) {
	dir := os.Getenv("SCOUR_REPORT_SAMPLE")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := Write(dir, sampleReport(t)); err != nil {
		t.Fatal(err)
	}
	t.Logf("sample report in %s", dir)
}
