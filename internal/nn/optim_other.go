//go:build !amd64 || purego

package nn

func adamStep(w, g, m, v []float32, k *adamConsts) { adamStepGo(w, g, m, v, k) }
