package nn

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"unsafe"
)

// Gemm multiplies row-major float32 matrices:
//
//	C = alpha * op(A) * op(B) + beta * C
//
// where op(X) is X or its transpose; op(A) is m x k, op(B) is k x n and C is
// m x n; lda, ldb and ldc are the distances between rows as stored. Like
// BLAS, Sgemm panics on dimensions that do not fit the slices: that is a
// programming error, not bad input. With beta == 0, C need not be
// initialised (NaN in C is overwritten, not propagated).
type Gemm interface {
	Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	// Name is the kernel set ("avx512", "avx2" or "go").
	Name() string
}

// microFn computes one register tile; see kernel_amd64.s for the contract.
// Strides are in bytes.
type microFn func(k, nseg int, a *float32, rsA, csA, segA int, b *float32, ldb int, c *float32, ldc int, bias *float32, flags int, alpha float32)

// Flags for microFn.
const (
	flagAccumulate = 1 // C += result instead of C = result
	flagReLU       = 2 // max(0, .) after bias
)

type micro struct {
	mr, nr int
	fn     microFn
}

// kernelSet is one family of micro-kernels; micros is ordered widest nr
// first, and every nr is a multiple of the last one.
type kernelSet struct {
	name   string
	desc   string
	micros []micro
}

var goKernels = &kernelSet{
	name:   "go",
	desc:   "portable pure Go; 4x16 tile",
	micros: []micro{{4, 16, goKern4x16}},
}

var (
	kernelsOnce sync.Once
	allKernels  []*kernelSet
	defKernels  *kernelSet
	kernelErr   error
)

// KernelEnv names the environment variable that forces a kernel set
// ("avx512", "avx2" or "go"), for comparing them or for working around a
// suspected kernel bug. Unset or "auto" picks the fastest the CPU runs.
const KernelEnv = "SCOUR_NN_KERNEL"

func initKernels() {
	kernelsOnce.Do(func() {
		allKernels = append(platformKernels(), goKernels)
		defKernels = allKernels[0]
		if v := os.Getenv(KernelEnv); v != "" && v != "auto" {
			ks, err := lookupKernels(v)
			if err != nil {
				kernelErr = fmt.Errorf("%s: %w", KernelEnv, err)
				return
			}
			defKernels = ks
		}
	})
}

func lookupKernels(name string) (*kernelSet, error) {
	for _, ks := range allKernels {
		if ks.name == name {
			return ks, nil
		}
	}
	return nil, fmt.Errorf("kernel %q not available on this CPU/build (have %v)", name, Kernels())
}

func defaultKernels() *kernelSet {
	initKernels()
	return defKernels
}

// Kernels lists the kernel sets this CPU and build can run, fastest first;
// "go" is always last and always present.
func Kernels() []string {
	initKernels()
	names := make([]string, len(allKernels))
	for i, ks := range allKernels {
		names[i] = ks.name
	}
	return names
}

// KernelName says which SGEMM kernel the engine uses by default in this
// process, for example "avx512 (Go assembly, AVX-512 (6x64 and 12x32 register
// tiles))". A bad SCOUR_NN_KERNEL value shows up here and in NewGemm.
func KernelName() string {
	ks := defaultKernels()
	s := ks.name + " (" + ks.desc + ")"
	if kernelErr != nil {
		s += "; ignored " + kernelErr.Error()
	}
	return s
}

// NewGemm returns a Gemm using the named kernel set ("" or "auto" for the
// default) and up to threads goroutines per call (< 1 means GOMAXPROCS).
// It is safe for concurrent use.
func NewGemm(kernel string, threads int) (Gemm, error) {
	ks := defaultKernels()
	if kernel != "" && kernel != "auto" {
		var err error
		if ks, err = lookupKernels(kernel); err != nil {
			return nil, err
		}
	}
	if threads < 1 {
		threads = runtime.GOMAXPROCS(0)
	}
	return &gemm{ks: ks, threads: threads}, nil
}

type gemm struct {
	ks      *kernelSet
	threads int
}

func (g *gemm) Name() string { return g.ks.name }

// Blocking sizes: a kc x nr panel of B and an mc x kc block of A stay in
// L2 while the micro-kernel walks them; nc bounds the transposed copy of B.
const (
	gemmKC = 256
	gemmMC = 120
	gemmNC = 512
)

func (g *gemm) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkMat("A", transA, m, k, a, lda)
	checkMat("B", transB, k, n, b, ldb)
	checkMat("C", false, m, n, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleRows(m, n, beta, c, ldc)
		return
	}
	if beta != 0 && beta != 1 {
		scaleRows(m, n, beta, c, ldc)
		beta = 1
	}
	t := g.threads
	work := float64(m) * float64(n) * float64(k)
	if work < 1<<18 {
		t = 1
	}
	step := g.ks.rowAlign()
	switch {
	case t > 1 && m >= 4*step*t:
		// Rows: each worker owns whole row blocks of C.
		chunk := ((m+t-1)/t + step - 1) / step * step
		parallel(t, func(w int) {
			lo := min(w*chunk, m)
			hi := min(lo+chunk, m)
			if lo >= hi {
				return
			}
			aoff := lo * lda
			if transA {
				aoff = lo
			}
			g.serial(transA, transB, hi-lo, n, k, alpha, a[aoff:], lda, b, ldb, beta, c[lo*ldc:], ldc)
		})
	case t > 1 && n >= 64*t:
		chunk := ((n+t-1)/t + 31) / 32 * 32
		parallel(t, func(w int) {
			lo := min(w*chunk, n)
			hi := min(lo+chunk, n)
			if lo >= hi {
				return
			}
			boff := lo
			if transB {
				boff = lo * ldb
			}
			g.serial(transA, transB, m, hi-lo, k, alpha, a, lda, b[boff:], ldb, beta, c[lo:], ldc)
		})
	case t > 1 && k >= 4*gemmKC*t:
		// Long sums over a small C (weight gradients): split k, let each
		// worker sum into a private C, and add them at the end.
		chunk := (k + t - 1) / t
		priv := make([][]float32, t)
		parallel(t, func(w int) {
			lo := min(w*chunk, k)
			hi := min(lo+chunk, k)
			if lo >= hi {
				return
			}
			aoff, boff := lo, lo*ldb
			if transA {
				aoff = lo * lda
			}
			if transB {
				boff = lo
			}
			if w == 0 {
				g.serial(transA, transB, m, n, hi-lo, alpha, a[aoff:], lda, b[boff:], ldb, beta, c, ldc)
				return
			}
			p := make([]float32, m*n)
			g.serial(transA, transB, m, n, hi-lo, alpha, a[aoff:], lda, b[boff:], ldb, 0, p, n)
			priv[w] = p
		})
		for _, p := range priv[1:] {
			if p == nil {
				continue
			}
			for i := range m {
				addTo(c[i*ldc:i*ldc+n], p[i*n:(i+1)*n])
			}
		}
	default:
		g.serial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
}

// serial is the single-threaded blocked SGEMM; beta is 0 or 1.
func (g *gemm) serial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	s := getScratch()
	defer putScratch(s)
	for pc := 0; pc < k; pc += gemmKC {
		kb := min(gemmKC, k-pc)
		accumulate := pc > 0 || beta != 0
		for jc := 0; jc < n; jc += gemmNC {
			nb := min(gemmNC, n-jc)
			var B opB
			if transB || m > 64 {
				// Copy B into contiguous kb x nr panels: in place, rows ldb
				// apart (often a power of two) alias in L1 and halve the
				// speed; with few rows of A the copy would not pay off.
				s.bt = g.ks.packB(s.bt, transB, b, ldb, pc, jc, kb, nb)
				B = opB{b: s.bt, panels: true}
			} else {
				B = opB{b: b, off: pc*ldb + jc, ld: ldb}
			}
			for ic := 0; ic < m; ic += gemmMC {
				mb := min(gemmMC, m-ic)
				A := opA{a: a, off: ic*lda + pc, rs: lda, cs: 1, kseg: kb, nseg: 1}
				if transA {
					A = opA{a: a, off: pc*lda + ic, rs: 1, cs: lda, kseg: kb, nseg: 1}
				}
				g.ks.tiles(mb, nb, A, B, opC{c, ic*ldc + jc, ldc}, alpha, accumulate, nil, false, s)
			}
		}
	}
}

// rowAlign is a row count every micro-kernel's mr divides.
func (ks *kernelSet) rowAlign() int {
	l := 1
	for _, mk := range ks.micros {
		l = lcm(l, mk.mr)
	}
	return l
}

func lcm(a, b int) int {
	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}
	return a / x * b
}

// opA describes A for the tile loop: A(i, k) with k = s*kseg + kk lives at
// a[off + i*rs + s*ss + kk*cs]. Segments let a convolution walk kh rows of
// its input (or the output rows of one image) as one long sum without
// copying patches (no im2col).
type opA struct {
	a           []float32
	off, rs, cs int
	kseg, nseg  int
	ss          int
}

// opB: B(k, j) = b[off + k*ld + j] (k counts across all segments of A), or
// with panels, B as packB lays it out.
type opB struct {
	b       []float32
	off, ld int
	panels  bool
}

// packB copies the kb x nb block of op(B) at (pc, jc) into panels, one per
// micro-kernel tile column in the order tiles picks them: the panel starting
// at column j0 holds kb rows of nr floats at dst[j0*kb:], zero-padded past nb.
func (ks *kernelSet) packB(dst []float32, transB bool, b []float32, ldb, pc, jc, kb, nb int) []float32 {
	total := 0
	for j0 := 0; j0 < nb; {
		mk := ks.pick(nb - j0)
		total = j0*kb + kb*mk.nr
		j0 += min(mk.nr, nb-j0)
	}
	dst = grow(dst, total)
	for j0 := 0; j0 < nb; {
		mk := ks.pick(nb - j0)
		nv := min(mk.nr, nb-j0)
		p := dst[j0*kb : j0*kb+kb*mk.nr]
		if transB {
			clear(p)
			packTransposed(p, mk.nr, b[(jc+j0)*ldb+pc:], ldb, nv, kb)
		} else {
			for kk := range kb {
				row := p[kk*mk.nr : (kk+1)*mk.nr]
				src := b[(pc+kk)*ldb+jc+j0:]
				copy(row, src[:nv])
				clear(row[nv:])
			}
		}
		j0 += nv
	}
	return dst
}

// opC: C(i, j) = c[off + i*ld + j].
type opC struct {
	c       []float32
	off, ld int
}

// tiles computes C[m x n] = alpha*A*B (+C when accumulate) (+bias) (ReLU).
// Bias and ReLU are only allowed when not accumulating. A may be read past
// its last row as long as the reads stay inside the slice (the extra rows
// land in a scratch tile and are dropped); B and C are never touched outside
// [0,n) columns.
func (ks *kernelSet) tiles(m, n int, A opA, B opB, C opC, alpha float32, accumulate bool, bias []float32, relu bool, s *scratch) {
	if accumulate && (bias != nil || relu) {
		panic("nn: internal error: bias/ReLU with accumulation")
	}
	K := A.kseg * A.nseg
	if m <= 0 || n <= 0 {
		return
	}
	if K == 0 {
		tilesEmpty(m, n, C, accumulate, bias, relu)
		return
	}
	flags := 0
	if accumulate {
		flags |= flagAccumulate
	}
	if relu {
		flags |= flagReLU
	}
	for j0 := 0; j0 < n; {
		mk := ks.pick(n - j0)
		nv := min(mk.nr, n-j0)
		bp, ldb := B.b, B.ld
		boff := B.off + j0
		switch {
		case B.panels:
			bp, ldb, boff = B.b, mk.nr, B.off+j0*K
		case nv < mk.nr:
			s.b = grow(s.b, K*mk.nr)
			for kk := range K {
				row := s.b[kk*mk.nr : (kk+1)*mk.nr]
				src := B.b[B.off+kk*B.ld+j0 : B.off+kk*B.ld+n]
				copy(row, src)
				clear(row[nv:])
			}
			bp, ldb, boff = s.b, mk.nr, 0
		}
		if last := boff + (K-1)*ldb + mk.nr - 1; last >= len(bp) {
			panic(fmt.Sprintf("nn: internal error: B read %d beyond %d", last, len(bp)))
		}
		var biasp *float32
		if bias != nil {
			if nv < mk.nr {
				s.bias = grow(s.bias, mk.nr)
				copy(s.bias, bias[j0:n])
				clear(s.bias[nv:mk.nr])
				biasp = &s.bias[0]
			} else {
				biasp = &bias[j0]
			}
		}
		for i0 := 0; i0 < m; i0 += mk.mr {
			mv := min(mk.mr, m-i0)
			ap := A
			ap.off += i0 * A.rs
			if ap.lastRead(mk.mr) >= len(ap.a) {
				ap = s.gather(ap, mv, mk.mr)
			}
			segA := (ap.ss - ap.kseg*ap.cs) * 4
			if mv == mk.mr && nv == mk.nr {
				coff := C.off + i0*C.ld + j0
				if last := coff + (mk.mr-1)*C.ld + mk.nr - 1; last >= len(C.c) {
					panic(fmt.Sprintf("nn: internal error: C write %d beyond %d", last, len(C.c)))
				}
				mk.fn(ap.kseg, ap.nseg, &ap.a[ap.off], ap.rs*4, ap.cs*4, segA,
					&bp[boff], ldb*4, &C.c[coff], C.ld*4, biasp, flags, alpha)
				continue
			}
			s.c = grow(s.c, mk.mr*mk.nr)
			mk.fn(ap.kseg, ap.nseg, &ap.a[ap.off], ap.rs*4, ap.cs*4, segA,
				&bp[boff], ldb*4, &s.c[0], mk.nr*4, biasp, flags&^flagAccumulate, alpha)
			for i := range mv {
				dst := C.c[C.off+(i0+i)*C.ld+j0 : C.off+(i0+i)*C.ld+j0+nv]
				src := s.c[i*mk.nr : i*mk.nr+nv]
				if accumulate {
					addTo(dst, src)
				} else {
					copy(dst, src)
				}
			}
		}
		j0 += nv
	}
}

// pick returns the widest micro-kernel that fits n columns, or the
// narrowest one (to be padded) when none fits.
func (ks *kernelSet) pick(n int) micro {
	for _, mk := range ks.micros {
		if mk.nr <= n {
			return mk
		}
	}
	return ks.micros[len(ks.micros)-1]
}

// lastRead is the largest index of a the kernel reads for mr rows; all
// strides are non-negative by construction.
func (A opA) lastRead(mr int) int {
	return A.off + (mr-1)*A.rs + (A.nseg-1)*A.ss + (A.kseg-1)*A.cs
}

// gather copies mv rows of A into a zero-padded mr-row panel, for tiles at
// the very end of a slice where reading whole rows would overrun it.
func (s *scratch) gather(A opA, mv, mr int) opA {
	K := A.kseg * A.nseg
	s.a = grow(s.a, K*mr)
	p := s.a[:K*mr]
	clear(p)
	for i := range mv {
		for seg := range A.nseg {
			base := A.off + i*A.rs + seg*A.ss
			for kk := range A.kseg {
				p[(seg*A.kseg+kk)*mr+i] = A.a[base+kk*A.cs]
			}
		}
	}
	return opA{a: p, rs: 1, cs: mr, kseg: K, nseg: 1}
}

func tilesEmpty(m, n int, C opC, accumulate bool, bias []float32, relu bool) {
	for i := range m {
		row := C.c[C.off+i*C.ld : C.off+i*C.ld+n]
		for j := range row {
			v := float32(0)
			if accumulate {
				v = row[j]
			}
			if bias != nil {
				v += bias[j]
			}
			if relu && v < 0 {
				v = 0
			}
			row[j] = v
		}
	}
}

// packTransposed writes dst[kk*ldd + j] = src[j*ld + kk] for j < nb, kk < kb,
// in 16x16 blocks so both sides stay in cache.
func packTransposed(dst []float32, ldd int, src []float32, ld, nb, kb int) {
	const bs = 16
	for j0 := 0; j0 < nb; j0 += bs {
		j1 := min(j0+bs, nb)
		for k0 := 0; k0 < kb; k0 += bs {
			k1 := min(k0+bs, kb)
			for j := j0; j < j1; j++ {
				row := src[j*ld+k0 : j*ld+k1]
				for kk, v := range row {
					dst[(k0+kk)*ldd+j] = v
				}
			}
		}
	}
}

func checkMat(name string, trans bool, rows, cols int, x []float32, ld int) {
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("nn: Sgemm: negative dimension for %s (%d x %d)", name, rows, cols))
	}
	sr, sc := rows, cols
	if trans {
		sr, sc = cols, rows
	}
	if ld < max(1, sc) {
		panic(fmt.Sprintf("nn: Sgemm: ld%s = %d < %d", name, ld, sc))
	}
	if sr > 0 && sc > 0 && len(x) < (sr-1)*ld+sc {
		panic(fmt.Sprintf("nn: Sgemm: %s has %d elements, needs %d", name, len(x), (sr-1)*ld+sc))
	}
}

func scaleRows(m, n int, beta float32, c []float32, ldc int) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

func addTo(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}

// scratch holds per-goroutine buffers for edge tiles and packed panels.
type scratch struct {
	a, b, c, bt, bias []float32
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch  { return scratchPool.Get().(*scratch) }
func putScratch(s *scratch) { scratchPool.Put(s) }

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// parallel runs fn(0..t-1) on t goroutines (the caller's being one) and
// waits for all of them.
func parallel(t int, fn func(w int)) {
	if t <= 1 {
		fn(0)
		return
	}
	var wg sync.WaitGroup
	for w := 1; w < t; w++ {
		wg.Go(func() { fn(w) })
	}
	fn(0)
	wg.Wait()
}

// goKern4x16 is the portable micro-kernel with the same contract as the
// assembly ones. It turns the pointers into slices of the extent the
// contract allows, so all its accesses are bounds-checked Go.
func goKern4x16(k, nseg int, a *float32, rsA, csA, segA int, b *float32, ldb int, c *float32, ldc int, bias *float32, flags int, alpha float32) {
	const mr, nr = 4, 16
	rs, cs, ss := rsA/4, csA/4, (k*csA+segA)/4
	as := unsafe.Slice(a, (mr-1)*rs+max(k-1, 0)*cs+max(nseg-1, 0)*ss+1)
	bs := unsafe.Slice(b, max(k*nseg-1, 0)*(ldb/4)+nr)
	var acc [mr][nr]float32
	for seg := range nseg {
		for kk := range k {
			o := seg*ss + kk*cs
			a0, a1, a2, a3 := as[o], as[o+rs], as[o+2*rs], as[o+3*rs]
			br := (*[nr]float32)(bs[(seg*k+kk)*(ldb/4):])
			for j, bv := range br {
				acc[0][j] += a0 * bv
				acc[1][j] += a1 * bv
				acc[2][j] += a2 * bv
				acc[3][j] += a3 * bv
			}
		}
	}
	var bv []float32
	if bias != nil {
		bv = unsafe.Slice(bias, nr)
	}
	cm := unsafe.Slice(c, (mr-1)*(ldc/4)+nr)
	for i := range acc {
		row := cm[i*(ldc/4) : i*(ldc/4)+nr]
		for j, v := range acc[i] {
			v *= alpha
			if flags&flagAccumulate != 0 {
				v += row[j]
			}
			if bv != nil {
				v += bv[j]
			}
			if flags&flagReLU != 0 && v < 0 {
				v = 0
			}
			row[j] = v
		}
	}
}
