package nn

import "math"

// softmaxCE computes the mean softmax cross-entropy of logits [n x classes]
// against labels, writes the probabilities into probs and, when dlogits is
// not nil, the gradient of the mean loss into dlogits. It returns the loss
// and the number of rows whose arg-max is the label.
func softmaxCE(logits []float32, labels []int32, n, classes int, probs, dlogits []float32) (float64, int) {
	var loss float64
	correct := 0
	for i := range n {
		z := logits[i*classes : (i+1)*classes]
		p := probs[i*classes : (i+1)*classes]
		mx, arg := z[0], 0
		for j, v := range z {
			if v > mx {
				mx, arg = v, j
			}
		}
		var sum float64
		for j, v := range z {
			e := math.Exp(float64(v - mx))
			p[j] = float32(e)
			sum += e
		}
		for j := range p {
			p[j] = float32(float64(p[j]) / sum)
		}
		y := int(labels[i])
		// log p[y] from the logits, not from the rounded probability, so a
		// confident wrong answer gives a large finite loss, not +Inf.
		loss -= float64(z[y]-mx) - math.Log(sum)
		if arg == y {
			correct++
		}
		if dlogits != nil {
			d := dlogits[i*classes : (i+1)*classes]
			for j := range d {
				d[j] = p[j] / float32(n)
			}
			d[y] -= 1 / float32(n)
		}
	}
	return loss / float64(n), correct
}
