//go:build !purego

package nn

import "golang.org/x/sys/cpu"

//go:noescape
func adamAVX512(w, grad, m, v *float32, n int, k *adamConsts)

var hasAdamAVX512 = cpu.X86.HasAVX512F

// adamStep applies adamConsts' update to w[j], m[j], v[j] from g[j].
func adamStep(w, g, m, v []float32, k *adamConsts) {
	n := len(w)
	g, m, v = g[:n], m[:n], v[:n]
	done := 0
	if hasAdamAVX512 && n >= 16 {
		done = n &^ 15
		adamAVX512(&w[0], &g[0], &m[0], &v[0], done, k)
	}
	adamStepGo(w[done:], g[done:], m[done:], v[done:], k)
}
