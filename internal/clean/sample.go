package clean

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/scour-dev/scour/internal/nn"
)

// headRowsMax bounds the rows one fold of the misfiled head is fitted on.
// The fit costs about 4·rows·classes·d multiply-adds per loss evaluation
// and holds rows·d floats, so without a bound the head alone would be
// most of the stage's time and half its memory at 100,000 images (a 400 MB
// matrix per fold). 20,000 rows is some 2,000 images per class of a
// nine-class project, more than a softmax regression on 1,280 dimensions
// needs to settle; every project of up to about 25,000 trusted images
// (the four fifths of them a fold fits under the bound) is fitted on all
// of them, as before.
const headRowsMax = 20_000

// headRows is which of the trusted views (train) the head's folds are
// fitted on: all of them while a fold's four fifths stay within
// headRowsMax, else the same share of each class, drawn at random but the
// same on every run, so that the classes keep their proportions (the
// head's probabilities, and maxOwnProbability, stay calibrated to the
// project's own class sizes).
func headRows(train [][]bool) [][]bool {
	// A fold fits the trusted rows outside it; the largest such set
	// decides the share.
	var inFold [headFolds]int
	var trusted int
	for _, t := range train {
		for i, ok := range t {
			if ok {
				inFold[i%headFolds]++
				trusted++
			}
		}
	}
	perFold := trusted - slices.Min(inFold[:])
	if perFold <= headRowsMax {
		return train
	}
	share := float64(headRowsMax) / float64(perFold)
	fit := make([][]bool, len(train))
	for c, t := range train {
		fit[c] = make([]bool, len(t))
		r := rand.New(rand.NewPCG(uint64(c), uint64(len(t))))
		// The share is drawn from each fold's rows of the class apart, so
		// that no fold's fit exceeds the bound by the luck of the draw.
		for f := range headFolds {
			var idx []int
			for i := f; i < len(t); i += headFolds {
				if t[i] {
					idx = append(idx, i)
				}
			}
			r.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
			for _, i := range idx[:int(share*float64(len(idx)))] {
				fit[c][i] = true
			}
		}
	}
	return fit
}

// fitRows counts the rows of fit.
func fitRows(fit [][]bool) int {
	var n int
	for _, t := range fit {
		for _, ok := range t {
			if ok {
				n++
			}
		}
	}
	return n
}

// predictChunk is how many held-out views the head is asked about at once:
// the matrix of a whole fold's fifth would grow with the project (100 MB
// at 100,000 images); a chunk of 2,048 is 10 MB.
const predictChunk = 2048

// predictEach has the head m give the class probabilities of each of
// embs (scaled by scale, as the head was fitted), a chunk at a time, and
// hands each row of probabilities to put.
func predictEach(m *nn.Model, embs [][]float32, scale float32, classes int, put func(k int, p []float32)) error {
	if len(embs) == 0 {
		return nil
	}
	// Sized once: grown by append, the garbage of its doublings would be
	// twice the chunk again.
	xt := make([]float32, 0, min(len(embs), predictChunk)*len(embs[0]))
	for lo := 0; lo < len(embs); lo += predictChunk {
		hi := min(len(embs), lo+predictChunk)
		xt = xt[:0]
		for _, e := range embs[lo:hi] {
			for _, v := range e {
				xt = append(xt, v*scale)
			}
		}
		p, err := m.Predict(xt, hi-lo)
		if err != nil {
			return err
		}
		for k := lo; k < hi; k++ {
			put(k, p[(k-lo)*classes:(k-lo+1)*classes])
		}
	}
	return nil
}

// standardiseInto standardises f's embedding (each dimension centred by mu
// and scaled by sd, then the whole to unit length, as unitSum would) into
// a new array and drops f's reference to the raw one, so that the raw
// embedding can be collected as the standardised one is made: the misfiled
// check is the last to read the embeddings, and holding both would double
// them (500 MB at 100,000 images). Not in place: the raw array may be
// shared (a labeler's cache, the catalog writer), and overwriting it
// corrupted every later reader of the same pictures.
func standardiseInto(f *features, mu, sd []float64) []float32 {
	src := f.Embedding[:len(mu)]
	f.Embedding = nil
	e := make([]float32, len(src))
	var n float64
	for j, x := range src {
		v := (float64(x) - mu[j]) / sd[j]
		n += v * v
	}
	n = math.Sqrt(n)
	for j, x := range src {
		if n == 0 {
			e[j] = 0
			continue
		}
		e[j] = float32(((float64(x) - mu[j]) / sd[j]) / n)
	}
	return e
}
