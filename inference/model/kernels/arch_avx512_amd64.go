//go:build amd64

package kernels

//go:noescape
func f32Dot4AVX512(w *float32, stride uintptr, x *float32, n int, out *float32)

//go:noescape
func bf16Dot4AVX512(w *uint16, stride uintptr, x *float32, n int, out *float32)

//go:noescape
func q8Dot4VNNI(w *int8, wstride uintptr, ws *float32, sstride uintptr, xq *int8, xs *float32, np int, out *float32)

//go:noescape
func f32Dot4x2AVX512(w *float32, stride uintptr, x *float32, xstride uintptr, n int, out *float32, ostride uintptr)

//go:noescape
func bf16Dot4x2AVX512(w *uint16, stride uintptr, x *float32, xstride uintptr, n int, out *float32, ostride uintptr)

//go:noescape
func q8Dot4x2VNNI(w *int8, wstride uintptr, ws *float32, sstride uintptr, xq *int8, xs *float32, xstride uintptr, np int, out *float32, ostride uintptr)

// The AVX-512 wrappers: whole groups of four rows and whole ZMM vectors (16
// floats; pairs of Q8_0 blocks) in assembly, ragged columns in Go, ragged rows
// through the AVX2 wrappers (which handle their own tails).

func f32RowsAVX512(out, w []float32, cols int, x []float32, lo, hi int) {
	if hi <= lo {
		return
	}
	n := cols &^ 15
	if n == 0 {
		f32RowsAVX2(out, w, cols, x, lo, hi)
		return
	}
	x = x[:cols]
	_ = w[hi*cols-1]
	_ = out[hi-1]
	r := lo
	for ; r+4 <= hi; r += 4 {
		f32Dot4AVX512(&w[r*cols], uintptr(cols)*4, &x[0], n, &out[r])
	}
	if n < cols {
		for rr := lo; rr < r; rr++ {
			out[rr] += dotFast(w[rr*cols+n:(rr+1)*cols], x[n:])
		}
	}
	if r < hi {
		f32RowsAVX2(out, w, cols, x, r, hi)
	}
}

func bf16RowsAVX512(out []float32, w []uint16, cols int, x []float32, lo, hi int) {
	if hi <= lo {
		return
	}
	n := cols &^ 15
	if n == 0 {
		bf16RowsAVX2(out, w, cols, x, lo, hi)
		return
	}
	x = x[:cols]
	_ = w[hi*cols-1]
	_ = out[hi-1]
	r := lo
	for ; r+4 <= hi; r += 4 {
		bf16Dot4AVX512(&w[r*cols], uintptr(cols)*2, &x[0], n, &out[r])
	}
	if n < cols {
		for rr := lo; rr < r; rr++ {
			var s float32
			for c := n; c < cols; c++ {
				s += BF16ToF32(w[rr*cols+c]) * x[c]
			}
			out[rr] += s
		}
	}
	if r < hi {
		bf16RowsAVX2(out, w, cols, x, r, hi)
	}
}

func q8RowsVNNI(out []float32, w []int8, ws []float32, cols int, xq []int8, xs []float32, lo, hi int) {
	if hi <= lo {
		return
	}
	nb := cols / BlockSize
	np := nb / 2
	if np == 0 {
		q8RowsAVX2(out, w, ws, cols, xq, xs, lo, hi)
		return
	}
	_ = xq[nb*BlockSize-1]
	_ = xs[nb-1]
	_ = w[hi*cols-1]
	_ = ws[hi*nb-1]
	_ = out[hi-1]
	r := lo
	for ; r+4 <= hi; r += 4 {
		q8Dot4VNNI(&w[r*cols], uintptr(cols), &ws[r*nb], uintptr(nb)*4, &xq[0], &xs[0], np, &out[r])
	}
	if nb&1 != 0 { // the odd last block of the assembly's rows
		q8LastBlockAdd(out, w, ws, cols, xq, xs, lo, r)
	}
	if r < hi {
		q8RowsAVX2(out, w, ws, cols, xq, xs, r, hi)
	}
}

// q8LastBlockAdd adds row r's product over the last Q8_0 block to out[r] for r
// in [lo, hi): the block the pairwise assembly leaves when a row has an odd
// number of blocks.
func q8LastBlockAdd(out []float32, w []int8, ws []float32, cols int, xq []int8, xs []float32, lo, hi int) {
	nb := cols / BlockSize
	b := nb - 1
	xb := xq[b*BlockSize : (b+1)*BlockSize]
	for r := lo; r < hi; r++ {
		q := w[r*cols+b*BlockSize : r*cols+(b+1)*BlockSize]
		var acc int32
		for j := range q {
			acc += int32(q[j]) * int32(xb[j])
		}
		out[r] += ws[r*nb+b] * xs[b] * float32(acc)
	}
}

// The two-token wrappers: x2Rows with the ZMM kernels, and the AVX2 wrappers
// below 16 columns.

func f32x2RowsAVX512(out []float32, ostride int, w []float32, cols int, x []float32, lo, hi int) {
	x2Rows(out, ostride, w, cols, x, lo, hi, 16, f32Dot4x2AVX512, f32TailX2, f32RowsAVX512, f32x2RowsAVX2)
}

func bf16x2RowsAVX512(out []float32, ostride int, w []uint16, cols int, x []float32, lo, hi int) {
	x2Rows(out, ostride, w, cols, x, lo, hi, 16, bf16Dot4x2AVX512, bf16TailX2, bf16RowsAVX512, bf16x2RowsAVX2)
}

func q8x2RowsVNNI(out []float32, ostride int, w []int8, ws []float32, cols int, xq []int8, xs []float32, lo, hi int) {
	if hi <= lo {
		return
	}
	nb := cols / BlockSize
	np := nb / 2
	if np == 0 {
		q8x2RowsAVX2(out, ostride, w, ws, cols, xq, xs, lo, hi)
		return
	}
	_ = xq[2*nb*BlockSize-1]
	_ = xs[2*nb-1]
	_ = w[hi*cols-1]
	_ = ws[hi*nb-1]
	_ = out[ostride+hi-1]
	r := lo
	for ; r+4 <= hi; r += 4 {
		q8Dot4x2VNNI(&w[r*cols], uintptr(cols), &ws[r*nb], uintptr(nb)*4, &xq[0], &xs[0], uintptr(cols), np, &out[r], uintptr(ostride)*4)
	}
	for t := range 2 {
		xqt, xst := xq[t*cols:(t+1)*cols], xs[t*nb:(t+1)*nb]
		if nb&1 != 0 {
			q8LastBlockAdd(out[t*ostride:], w, ws, cols, xqt, xst, lo, r)
		}
		q8RowsVNNI(out[t*ostride:], w, ws, cols, xqt, xst, r, hi)
	}
}
