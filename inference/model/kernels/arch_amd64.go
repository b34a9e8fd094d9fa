//go:build amd64

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// fastAvailable: the AVX2 assembly needs AVX2 and FMA (and the OS saving Y
// registers, which x/sys/cpu folds into HasAVX2). Every faster path builds on it.
var fastAvailable = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// The AVX-512 kernels use F (ZMM arithmetic), BW (byte masks and absolute
// values), VL (EVEX forms on X/Y registers) and DQ-free instructions only;
// x/sys/cpu folds the OS's saving of ZMM state into HasAVX512F.
var (
	avx512Available = fastAvailable && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL
	vnniAvailable   = avx512Available && cpu.X86.HasAVX512VNNI
)

//go:noescape
func f32Dot4AVX2(w *float32, stride uintptr, x *float32, n int, out *float32)

//go:noescape
func bf16Dot4AVX2(w *uint16, stride uintptr, x *float32, n int, out *float32)

//go:noescape
func q8Dot4AVX2(w *int8, wstride uintptr, ws *float32, sstride uintptr, xq *int8, xs *float32, nb int, out *float32)

//go:noescape
func q4Dot4AVX2(w *byte, wstride uintptr, ws *float32, sstride uintptr, xq *int8, xs *float32, nb int, out *float32)

//go:noescape
func q8Dot4x2AVX2(w *int8, wstride uintptr, ws *float32, sstride uintptr, xq *int8, xs *float32, nb int, out *float32, ostride uintptr)

//go:noescape
func f32Dot4x2AVX2(w *float32, stride uintptr, x *float32, xstride uintptr, n int, out *float32, ostride uintptr)

//go:noescape
func bf16Dot4x2AVX2(w *uint16, stride uintptr, x *float32, xstride uintptr, n int, out *float32, ostride uintptr)

//go:noescape
func dotAVX2(a, b *float32, n int) float32

//go:noescape
func axpyAVX2(y, x *float32, a float32, n int)

//go:noescape
func sumAVX2(p *float32, n int) float32

//go:noescape
func int8PeakAVX2(iters int)

//go:noescape
func quantQ8AVX2(q *int8, s *float32, x *float32, nb int)

var avx2Fns, avx512Fns, vnniFns rowFns

func init() {
	avx2Fns = portableFns
	avx2Fns.f32 = f32RowsAVX2
	avx2Fns.bf16 = bf16RowsAVX2
	avx2Fns.q8 = q8RowsAVX2
	avx2Fns.q4 = q4RowsAVX2
	avx2Fns.f32x2 = f32x2RowsAVX2
	avx2Fns.bf16x2 = bf16x2RowsAVX2
	avx2Fns.q8x2 = q8x2RowsAVX2
	avx2Fns.dot = dotFast
	avx2Fns.axpy = axpyFast
	avx2Fns.quantQ8 = quantizeQ8RowAVX2

	// avx512: ZMM f32 and bf16 matvec and two-token matmul; the rest as avx2.
	avx512Fns = avx2Fns
	avx512Fns.f32 = f32RowsAVX512
	avx512Fns.bf16 = bf16RowsAVX512
	avx512Fns.f32x2 = f32x2RowsAVX512
	avx512Fns.bf16x2 = bf16x2RowsAVX512

	// avx512vnni: avx512 plus the VPDPBUSD int8 matvec and two-token matmul.
	vnniFns = avx512Fns
	vnniFns.q8 = q8RowsVNNI
	vnniFns.q8x2 = q8x2RowsVNNI

	kernelPaths = append(kernelPaths,
		&kernelPath{name: "avx2", fns: &avx2Fns, ok: fastAvailable, why: "CPU lacks AVX2 or FMA"},
		&kernelPath{name: "avx512", fns: &avx512Fns, ok: avx512Available, why: "CPU (or OS) lacks AVX-512 F/BW/VL"},
		&kernelPath{name: "avx512vnni", fns: &vnniFns, ok: vnniAvailable, why: "CPU (or OS) lacks AVX-512 F/BW/VL/VNNI"},
	)
	if fastAvailable {
		sumFast = sumF32Fast
		int8PeakFast = int8PeakAVX2
	}
	selectKernels()
}

// The Go wrappers check bounds once per call (the assembly does none), run the
// assembly over whole groups of four rows and whole vectors, and finish ragged
// rows and columns with the portable code.

func f32RowsAVX2(out, w []float32, cols int, x []float32, lo, hi int) {
	if hi <= lo {
		return
	}
	n := cols &^ 7
	x = x[:cols]
	_ = w[hi*cols-1]
	_ = out[hi-1]
	if n == 0 {
		f32RowsGo(out, w, cols, x, lo, hi)
		return
	}
	r := lo
	for ; r+4 <= hi; r += 4 {
		f32Dot4AVX2(&w[r*cols], uintptr(cols)*4, &x[0], n, &out[r])
	}
	for ; r < hi; r++ {
		out[r] = dotAVX2(&w[r*cols], &x[0], n)
	}
	if n < cols {
		for r := lo; r < hi; r++ {
			out[r] += dotF32Go(w[r*cols+n:(r+1)*cols], x[n:])
		}
	}
}

func bf16RowsAVX2(out []float32, w []uint16, cols int, x []float32, lo, hi int) {
	if hi <= lo {
		return
	}
	n := cols &^ 7
	x = x[:cols]
	_ = w[hi*cols-1]
	_ = out[hi-1]
	r := lo
	if n > 0 {
		for ; r+4 <= hi; r += 4 {
			bf16Dot4AVX2(&w[r*cols], uintptr(cols)*2, &x[0], n, &out[r])
		}
	}
	if r < hi {
		bf16RowsGo(out, w, cols, x, r, hi)
	}
	if n > 0 && n < cols {
		for rr := lo; rr < r; rr++ {
			var s float32
			for c := n; c < cols; c++ {
				s += BF16ToF32(w[rr*cols+c]) * x[c]
			}
			out[rr] += s
		}
	}
}

func q8RowsAVX2(out []float32, w []int8, ws []float32, cols int, xq []int8, xs []float32, lo, hi int) {
	if hi <= lo {
		return
	}
	nb := cols / BlockSize
	_ = xq[nb*BlockSize-1]
	_ = xs[nb-1]
	_ = w[hi*cols-1]
	_ = ws[hi*nb-1]
	_ = out[hi-1]
	r := lo
	for ; r+4 <= hi; r += 4 {
		q8Dot4AVX2(&w[r*cols], uintptr(cols), &ws[r*nb], uintptr(nb)*4, &xq[0], &xs[0], nb, &out[r])
	}
	if r < hi {
		q8q8RowsGo(out, w, ws, cols, xq, xs, r, hi)
	}
}

func q4RowsAVX2(out []float32, w []byte, ws []float32, cols int, xq []int8, xs []float32, lo, hi int) {
	if hi <= lo {
		return
	}
	nb := cols / BlockSize
	_ = xq[nb*BlockSize-1]
	_ = xs[nb-1]
	_ = w[hi*nb*16-1]
	_ = ws[hi*nb-1]
	_ = out[hi-1]
	r := lo
	for ; r+4 <= hi; r += 4 {
		q4Dot4AVX2(&w[r*nb*16], uintptr(nb)*16, &ws[r*nb], uintptr(nb)*4, &xq[0], &xs[0], nb, &out[r])
	}
	if r < hi {
		q4q8RowsGo(out, w, ws, cols, xq, xs, r, hi)
	}
}

// The two-token wrappers: whole groups of four rows in assembly; ragged rows and
// columns through the one-token path, which handles its own tails.

func f32x2RowsAVX2(out []float32, ostride int, w []float32, cols int, x []float32, lo, hi int) {
	x2Rows(out, ostride, w, cols, x, lo, hi, 8, f32Dot4x2AVX2, f32TailX2, f32RowsAVX2, nil)
}

func bf16x2RowsAVX2(out []float32, ostride int, w []uint16, cols int, x []float32, lo, hi int) {
	x2Rows(out, ostride, w, cols, x, lo, hi, 8, bf16Dot4x2AVX2, bf16TailX2, bf16RowsAVX2, nil)
}

// x2Rows is the two-token wrapper of the f32 and bf16 paths of every instruction
// set: kern takes whole groups of four rows over the first n = cols rounded down
// to a multiple of width columns, tail adds those rows' remaining columns, and
// one (the one-token kernel, which handles its own tails) takes the ragged rows.
// With fewer than width columns, narrower (the next smaller instruction set's
// wrapper) takes the whole call when there is one.
func x2Rows[T float32 | uint16](out []float32, ostride int, w []T, cols int, x []float32, lo, hi, width int,
	kern func(w *T, stride uintptr, x *float32, xstride uintptr, n int, out *float32, ostride uintptr),
	tail func(out []float32, ostride int, w []T, cols int, x []float32, n, lo, r int),
	one func(out []float32, w []T, cols int, x []float32, lo, hi int),
	narrower func(out []float32, ostride int, w []T, cols int, x []float32, lo, hi int)) {
	if hi <= lo {
		return
	}
	n := cols &^ (width - 1)
	if n == 0 && narrower != nil {
		narrower(out, ostride, w, cols, x, lo, hi)
		return
	}
	x = x[:2*cols]
	_ = w[hi*cols-1]
	_ = out[ostride+hi-1]
	r := lo
	if n > 0 {
		esize := uintptr(unsafe.Sizeof(w[0]))
		for ; r+4 <= hi; r += 4 {
			kern(&w[r*cols], uintptr(cols)*esize, &x[0], uintptr(cols)*4, n, &out[r], uintptr(ostride)*4)
		}
		if n < cols {
			tail(out, ostride, w, cols, x, n, lo, r)
		}
	}
	for t := range 2 {
		one(out[t*ostride:], w, cols, x[t*cols:(t+1)*cols], r, hi)
	}
}

func q8x2RowsAVX2(out []float32, ostride int, w []int8, ws []float32, cols int, xq []int8, xs []float32, lo, hi int) {
	if hi <= lo {
		return
	}
	nb := cols / BlockSize
	_ = xq[2*nb*BlockSize-1]
	_ = xs[2*nb-1]
	_ = w[hi*cols-1]
	_ = ws[hi*nb-1]
	_ = out[ostride+hi-1]
	r := lo
	for ; r+4 <= hi; r += 4 {
		q8Dot4x2AVX2(&w[r*cols], uintptr(cols), &ws[r*nb], uintptr(nb)*4, &xq[0], &xs[0], nb, &out[r], uintptr(ostride)*4)
	}
	for t := range 2 {
		q8RowsAVX2(out[t*ostride:], w, ws, cols, xq[t*cols:(t+1)*cols], xs[t*nb:(t+1)*nb], r, hi)
	}
}

func dotFast(a, b []float32) float32 {
	b = b[:len(a)]
	n := len(a) &^ 7
	var s float32
	if n > 0 {
		s = dotAVX2(&a[0], &b[0], n)
	}
	for i := n; i < len(a); i++ {
		s += a[i] * b[i]
	}
	return s
}

func axpyFast(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	n := len(y) &^ 7
	if n > 0 {
		axpyAVX2(&y[0], &x[0], a, n)
	}
	for i := n; i < len(y); i++ {
		y[i] += a * x[i]
	}
}

func sumF32Fast(p []float32) float32 {
	n := len(p) &^ 63
	var s float32
	if n > 0 {
		s = sumAVX2((*float32)(unsafe.Pointer(unsafe.SliceData(p))), n)
	}
	for _, v := range p[n:] {
		s += v
	}
	return s
}

// f32TailX2 and bf16TailX2 add the columns [n, cols) that the two-token assembly kernels (which take
// whole vectors only) left out, for rows [lo, r) and both tokens; every instruction set shares them.
func f32TailX2(out []float32, ostride int, w []float32, cols int, x []float32, n, lo, r int) {
	for t := range 2 {
		xt := x[t*cols+n : (t+1)*cols]
		for rr := lo; rr < r; rr++ {
			out[t*ostride+rr] += dotF32Go(w[rr*cols+n:(rr+1)*cols], xt)
		}
	}
}

func bf16TailX2(out []float32, ostride int, w []uint16, cols int, x []float32, n, lo, r int) {
	for t := range 2 {
		for rr := lo; rr < r; rr++ {
			var s float32
			for c := n; c < cols; c++ {
				s += BF16ToF32(w[rr*cols+c]) * x[t*cols+c]
			}
			out[t*ostride+rr] += s
		}
	}
}

func quantizeQ8RowAVX2(q []int8, scales []float32, x []float32) {
	nb := len(x) / BlockSize
	if nb == 0 {
		return
	}
	_ = q[nb*BlockSize-1]
	_ = scales[nb-1]
	quantQ8AVX2(&q[0], &scales[0], &x[0], nb)
}
