//go:build !purego

package nn

import "golang.org/x/sys/cpu"

// The assembly kernels; see kernel_amd64.s for what they compute.

//go:noescape
func kern6x64avx512(k, nseg int, a *float32, rsA, csA, segA int, b *float32, ldb int, c *float32, ldc int, bias *float32, flags int, alpha float32)

//go:noescape
func kern12x32avx512(k, nseg int, a *float32, rsA, csA, segA int, b *float32, ldb int, c *float32, ldc int, bias *float32, flags int, alpha float32)

//go:noescape
func kern6x16avx2(k, nseg int, a *float32, rsA, csA, segA int, b *float32, ldb int, c *float32, ldc int, bias *float32, flags int, alpha float32)

// platformKernels lists the assembly kernel sets this CPU can run, fastest
// first. x/sys/cpu reports AVX-512 only when the OS also saves the zmm state.
func platformKernels() []*kernelSet {
	var ks []*kernelSet
	if cpu.X86.HasAVX512F {
		ks = append(ks, &kernelSet{
			name:   "avx512",
			desc:   "Go assembly; AVX-512 6x64 and 12x32 register tiles",
			micros: []micro{{6, 64, kern6x64avx512}, {12, 32, kern12x32avx512}},
		})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &kernelSet{
			name:   "avx2",
			desc:   "Go assembly; AVX2+FMA 6x16 register tile",
			micros: []micro{{6, 16, kern6x16avx2}},
		})
	}
	return ks
}
