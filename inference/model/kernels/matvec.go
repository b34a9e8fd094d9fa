package kernels

import (
	"fmt"
	"sync"
)

// rowFns are the row-range kernels for one instruction set. Each computes
// out[r] = Σ_c w[r,c]·x[c] for r in [lo, hi), reading row r at w[r*cols:]. A nil
// entry means "use the portable one".
type rowFns struct {
	f32  func(out, w []float32, cols int, x []float32, lo, hi int)
	bf16 func(out []float32, w []uint16, cols int, x []float32, lo, hi int)
	f16  func(out []float32, w []uint16, cols int, x []float32, lo, hi int)
	// q8 takes x already quantised to Q8_0 (xq, xs): the int8·int8 dot of ggml.
	q8 func(out []float32, w []int8, ws []float32, cols int, xq []int8, xs []float32, lo, hi int)
	q4 func(out []float32, w []byte, ws []float32, cols int, xq []int8, xs []float32, lo, hi int)
	// Two-token variants for MatMul (nil: apply the one-token kernel twice):
	// out[r] and out[ostride+r] get row r against x[:cols] and x[cols:2*cols].
	f32x2  func(out []float32, ostride int, w []float32, cols int, x []float32, lo, hi int)
	bf16x2 func(out []float32, ostride int, w []uint16, cols int, x []float32, lo, hi int)
	q8x2   func(out []float32, ostride int, w []int8, ws []float32, cols int, xq []int8, xs []float32, lo, hi int)
	// vector helpers of the small kernels (attention)
	dot  func(a, b []float32) float32
	axpy func(y []float32, a float32, x []float32)
	// quantQ8 is QuantizeQ8Row: activations to Q8_0 before the int8 products.
	quantQ8 func(q []int8, scales []float32, x []float32)
}

var (
	portableFns = rowFns{
		f32:     f32RowsGo,
		bf16:    bf16RowsGo,
		f16:     f16RowsGo,
		dot:     dotF32Go,
		quantQ8: quantizeQ8RowGo,
		axpy:    axpyGo,
	}
	fastFns rowFns // the best path's kernels, filled by the architecture's init
	active  = &portableFns
	actName = "portable"
	actMu   sync.Mutex
)

// kernelPath is one instruction set's table of kernels. The architecture's init
// appends its paths in order of preference (best last), with ok false and a
// reason where the CPU lacks the features, so that tests can say what they
// skipped.
type kernelPath struct {
	name string
	fns  *rowFns
	ok   bool
	why  string
}

var kernelPaths = []*kernelPath{{name: "portable", fns: &portableFns, ok: true}}

// bestPath is the last path the CPU supports.
func bestPath() *kernelPath {
	for i := len(kernelPaths) - 1; i >= 0; i-- {
		if kernelPaths[i].ok {
			return kernelPaths[i]
		}
	}
	return kernelPaths[0]
}

// UsePortable forces (true) or releases (false) the portable Go kernels; releasing
// selects the best path the CPU supports. It is for tests and benchmarks
// comparing the two; call it while no kernel is running.
func UsePortable(on bool) {
	if on {
		_ = UseKernels("portable")
		return
	}
	_ = UseKernels("")
}

// UseKernels selects the kernels of one instruction set by name (see
// KernelPaths; "" is the best the CPU supports). It fails for an unknown name or
// one the CPU lacks. Call it while no kernel is running.
func UseKernels(name string) error {
	p := bestPath()
	if name != "" {
		p = nil
		for _, q := range kernelPaths {
			if q.name == name {
				p = q
			}
		}
		if p == nil {
			return fmt.Errorf("kernels: unknown kernel path %q (known: %v)", name, allPathNames())
		}
		if !p.ok {
			return fmt.Errorf("kernels: path %q not usable on this CPU: %s", name, p.why)
		}
	}
	actMu.Lock()
	defer actMu.Unlock()
	active, actName = p.fns, p.name
	return nil
}

func allPathNames() []string {
	var names []string
	for _, p := range kernelPaths {
		names = append(names, p.name)
	}
	return names
}

// KernelPaths names the kernel paths this CPU supports, portable first and the
// best last.
func KernelPaths() []string {
	var names []string
	for _, p := range kernelPaths {
		if p.ok {
			names = append(names, p.name)
		}
	}
	return names
}

// Accelerated names the instruction set in use ("avx2", "avx512", "avx512vnni")
// or "portable".
func Accelerated() string {
	actMu.Lock()
	defer actMu.Unlock()
	return actName
}

func checkMatVec(out []float32, w *Matrix, x []float32, n int) {
	if len(x) < n*w.Cols || len(out) < n*w.Rows {
		panic(fmt.Sprintf("kernels: matmul %s %dx%d with n=%d: len(x)=%d len(out)=%d too short", w.Type, w.Rows, w.Cols, n, len(x), len(out)))
	}
	if err := w.Validate(); err != nil {
		panic(err.Error())
	}
}

// q8Scratch holds activations quantised to Q8_0 for the int8 paths.
type q8Scratch struct {
	q []int8
	s []float32
}

var q8Pool = sync.Pool{New: func() any { return new(q8Scratch) }}

func getQ8(n int) *q8Scratch {
	s := q8Pool.Get().(*q8Scratch)
	if cap(s.q) < n {
		s.q = make([]int8, n)
		s.s = make([]float32, n/BlockSize)
	}
	s.q, s.s = s.q[:n], s.s[:n/BlockSize]
	return s
}

// MatVec computes out[r] = Σ_c w[r,c]·x[c] for every row r; len(out) >= Rows,
// len(x) >= Cols. Rows are split across the worker pool. With the fast path on,
// Q8_0 and Q4_0 quantise x to Q8_0 once per call (as ggml does), so their result
// differs from the exact f32 product by that rounding (about 0.5% of |x| per element,
// averaging out over a row).
func MatVec(out []float32, w *Matrix, x []float32) {
	MatMul(out, w, x, 1)
}

// MatMul computes out[t][r] = Σ_c w[r,c]·x[t][c] for n tokens: x is [n][Cols]
// row-major, out is [n][Rows]. Each chunk of weight rows is applied to all n tokens
// while it is in cache, so the weights are streamed from memory once per call.
func MatMul(out []float32, w *Matrix, x []float32, n int) {
	matMulMulti([][]float32{out}, []*Matrix{w}, x, n)
}

// MatVecMulti is MatVec for several matrices over the same x (a layer's q, k and
// v projections, or its gate and up): outs[i] gets ws[i]·x. Every matrix must
// have the same Cols. It costs one trip through the worker pool instead of one
// per matrix, and the int8 paths quantise x once instead of once per matrix;
// each outs[i] is bit-identical to MatVec(outs[i], ws[i], x) on the same path.
func MatVecMulti(outs [][]float32, ws []*Matrix, x []float32) {
	MatMulMulti(outs, ws, x, 1)
}

// MatMulMulti is MatMul for several matrices over the same n tokens x (see
// MatVecMulti): outs[i] is [n][ws[i].Rows], bit-identical to MatMul(outs[i],
// ws[i], x, n) on the same path.
func MatMulMulti(outs [][]float32, ws []*Matrix, x []float32, n int) {
	if len(outs) != len(ws) {
		panic(fmt.Sprintf("kernels: matmul over %d matrices into %d outputs", len(ws), len(outs)))
	}
	for i, w := range ws {
		if w.Cols != ws[0].Cols {
			panic(fmt.Sprintf("kernels: matmul over matrices of %d and %d columns (matrix %d)", ws[0].Cols, w.Cols, i))
		}
	}
	matMulMulti(outs, ws, x, n)
}

// decodeChunkBytes is the weight bytes one grab of a matrix-vector product
// covers. Each grab starts a new run of rows, whose first reads wait on DRAM
// before the prefetches get ahead: on a 2-core AMD EPYC, q8_0 matvec read 87% as
// fast as a pure streaming read with 64-row (128 KiB) grabs and 91% with 256-row
// (512 KiB) ones, measured interleaved.
const decodeChunkBytes = 512 << 10

// decodeChunk is the rows per grab of a one-token product over w: about
// decodeChunkBytes of weights, but no fewer than two grabs per thread, so that
// a thread slowed by a neighbour on a shared machine hands work to the others.
func decodeChunk(w *Matrix) int {
	rowBytes := max(1, int(w.Bytes()/int64(max(1, w.Rows))))
	c := max(chunkRows, (decodeChunkBytes/rowBytes)&^3)
	if lim := (w.Rows / (2 * Threads())) &^ 3; c > lim {
		c = max(chunkRows, lim)
	}
	return c
}

// maxMulti bounds how many matrices one call takes, so that the per-matrix
// bookkeeping lives in fixed arrays.
const maxMulti = 8

// matMulMulti runs every matrix's row chunks (split exactly as a call for that
// matrix alone would split them, so results do not depend on the grouping) in
// one parallelFor, after quantising x once if any matrix takes the int8 path.
func matMulMulti(outs [][]float32, ws []*Matrix, x []float32, n int) {
	if len(ws) > maxMulti {
		for i := 0; i < len(ws); i += maxMulti {
			e := min(len(ws), i+maxMulti)
			matMulMulti(outs[i:e], ws[i:e], x, n)
		}
		return
	}
	if n <= 0 {
		return
	}
	fns := active
	var (
		fs    [maxMulti]func(lo, hi int)
		chunk [maxMulti]int
		rows  [maxMulti]int
		first [maxMulti + 1]int // first piece of each matrix; first[len(ws)] is the total
		sc    *q8Scratch
	)
	for i, w := range ws {
		if w.Rows == 0 {
			first[i+1] = first[i]
			continue
		}
		checkMatVec(outs[i], w, x, n)
		c := chunkRows
		switch {
		case n == 1:
			c = decodeChunk(w)
		case w.Rows/c < 4*Threads():
			c = max(4, (w.Rows/(4*Threads()))&^3) // keep every thread busy on short matrices
		}
		int8 := (w.Type == Q8_0 && fns.q8 != nil) || (w.Type == Q4_0 && fns.q4 != nil)
		if int8 && sc == nil {
			sc = quantizeTokens(x, w.Cols, n)
		}
		fs[i], chunk[i], rows[i] = rowsFunc(fns, outs[i], w, x, n, sc), c, w.Rows
		first[i+1] = first[i] + (w.Rows+c-1)/c
	}
	nm := len(ws)
	if nm == 1 {
		if fs[0] != nil {
			parallelFor(rows[0], chunk[0], fs[0])
		}
	} else {
		parallelFor(first[nm], 1, func(lo, hi int) {
			for p := lo; p < hi; p++ {
				i := 0
				for first[i+1] <= p {
					i++
				}
				r := (p - first[i]) * chunk[i]
				fs[i](r, min(r+chunk[i], rows[i]))
			}
		})
	}
	if sc != nil {
		q8Pool.Put(sc)
	}
}

// quantBlocks is how many Q8_0 blocks of one token's activations a worker
// quantises per grab: 1024 values, a few µs.
const quantBlocks = 32

// quantizeTokens quantises n tokens of cols activations to Q8_0, tokens spread
// over the pool.
func quantizeTokens(x []float32, cols, n int) *q8Scratch {
	sc := getQ8(n * cols)
	nb := cols / BlockSize
	if n == 1 {
		// Decode: split the one row's blocks over the pool, since the workers
		// would otherwise idle through it (blocks are independent, so the result
		// does not depend on the split).
		parallelFor(nb, quantBlocks, func(lo, hi int) {
			QuantizeQ8Row(sc.q[lo*BlockSize:hi*BlockSize], sc.s[lo:hi], x[lo*BlockSize:hi*BlockSize])
		})
		return sc
	}
	parallelFor(n, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			QuantizeQ8Row(sc.q[t*cols:(t+1)*cols], sc.s[t*nb:(t+1)*nb], x[t*cols:(t+1)*cols])
		}
	})
	return sc
}

// rowsFunc returns the chunk kernel of one matrix: fn(lo, hi) computes rows
// [lo, hi) of out for all n tokens. sc holds x quantised to Q8_0 when w takes
// the int8 path.
func rowsFunc(fns *rowFns, out []float32, w *Matrix, x []float32, n int, sc *q8Scratch) func(lo, hi int) {
	rows, cols := w.Rows, w.Cols
	switch w.Type {
	case F32:
		f, f2 := fns.f32, fns.f32x2
		return func(lo, hi int) {
			tiles(lo, hi, n, 4, func(t, lo, hi int) {
				f(out[t*rows:(t+1)*rows], w.F32, cols, x[t*cols:(t+1)*cols], lo, hi)
			}, f2 != nil, func(t, lo, hi int) {
				f2(out[t*rows:], rows, w.F32, cols, x[t*cols:(t+2)*cols], lo, hi)
			})
		}
	case BF16, F16:
		f, f2 := fns.bf16, fns.bf16x2
		if w.Type == F16 {
			f, f2 = fns.f16, nil
		}
		return func(lo, hi int) {
			tiles(lo, hi, n, 4, func(t, lo, hi int) {
				f(out[t*rows:(t+1)*rows], w.U16, cols, x[t*cols:(t+1)*cols], lo, hi)
			}, f2 != nil, func(t, lo, hi int) {
				f2(out[t*rows:], rows, w.U16, cols, x[t*cols:(t+2)*cols], lo, hi)
			})
		}
	case Q8_0, Q4_0:
		useInt8 := (w.Type == Q8_0 && fns.q8 != nil) || (w.Type == Q4_0 && fns.q4 != nil)
		if !useInt8 {
			return func(lo, hi int) {
				tiles(lo, hi, n, 8, func(t, lo, hi int) {
					xt := x[t*cols : (t+1)*cols]
					if w.Type == Q8_0 {
						q8RowsGo(out[t*rows:(t+1)*rows], w.Q8, w.Scales, cols, xt, lo, hi)
					} else {
						q4RowsGo(out[t*rows:(t+1)*rows], w.Q4, w.Scales, cols, xt, lo, hi)
					}
				}, false, nil)
			}
		}
		nb := cols / BlockSize
		return func(lo, hi int) {
			tiles(lo, hi, n, 8, func(t, lo, hi int) {
				o := out[t*rows : (t+1)*rows]
				xq, xs := sc.q[t*cols:(t+1)*cols], sc.s[t*nb:(t+1)*nb]
				if w.Type == Q8_0 {
					fns.q8(o, w.Q8, w.Scales, cols, xq, xs, lo, hi)
				} else {
					fns.q4(o, w.Q4, w.Scales, cols, xq, xs, lo, hi)
				}
			}, w.Type == Q8_0 && fns.q8x2 != nil, func(t, lo, hi int) {
				fns.q8x2(out[t*rows:], rows, w.Q8, w.Scales, cols, sc.q[t*cols:(t+2)*cols], sc.s[t*nb:(t+2)*nb], lo, hi)
			})
		}
	default:
		panic(fmt.Sprintf("kernels: matmul over unknown type %s", w.Type))
	}
}

// tiles runs a chunk of rows [lo, hi) against all n tokens. With one token it is
// a single call (the decode case: stream the rows once). With more, tokens go in
// blocks of tb and rows in groups of four, so a group's weights stay in L1 while
// they meet every token of the block and the block's activations stay in L1 while
// every group passes; two (when useTwo) takes tokens t and t+1 in one pass.
func tiles(lo, hi, n, tb int, one func(t, lo, hi int), useTwo bool, two func(t, lo, hi int)) {
	if n == 1 {
		one(0, lo, hi)
		return
	}
	for t0 := 0; t0 < n; t0 += tb {
		te := min(n, t0+tb)
		for r := lo; r < hi; r += 4 {
			re := min(hi, r+4)
			t := t0
			for ; useTwo && t+2 <= te; t += 2 {
				two(t, r, re)
			}
			for ; t < te; t++ {
				one(t, r, re)
			}
		}
	}
}

// ---- portable row kernels (the reference every fast kernel is tested against) ----

func dotF32Go(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func f32RowsGo(out, w []float32, cols int, x []float32, lo, hi int) {
	x = x[:cols]
	for r := lo; r < hi; r++ {
		out[r] = dotF32Go(w[r*cols:(r+1)*cols], x)
	}
}

func bf16RowsGo(out []float32, w []uint16, cols int, x []float32, lo, hi int) {
	x = x[:cols]
	for r := lo; r < hi; r++ {
		row := w[r*cols : (r+1)*cols]
		row = row[:len(x)]
		var s0, s1, s2, s3 float32
		i := 0
		for ; i+4 <= len(row); i += 4 {
			s0 += BF16ToF32(row[i]) * x[i]
			s1 += BF16ToF32(row[i+1]) * x[i+1]
			s2 += BF16ToF32(row[i+2]) * x[i+2]
			s3 += BF16ToF32(row[i+3]) * x[i+3]
		}
		for ; i < len(row); i++ {
			s0 += BF16ToF32(row[i]) * x[i]
		}
		out[r] = (s0 + s1) + (s2 + s3)
	}
}

func f16RowsGo(out []float32, w []uint16, cols int, x []float32, lo, hi int) {
	t := f16Tab()
	x = x[:cols]
	for r := lo; r < hi; r++ {
		row := w[r*cols : (r+1)*cols]
		row = row[:len(x)]
		var s0, s1 float32
		i := 0
		for ; i+2 <= len(row); i += 2 {
			s0 += t[row[i]] * x[i]
			s1 += t[row[i+1]] * x[i+1]
		}
		for ; i < len(row); i++ {
			s0 += t[row[i]] * x[i]
		}
		out[r] = s0 + s1
	}
}

func q8RowsGo(out []float32, w []int8, ws []float32, cols int, x []float32, lo, hi int) {
	nb := cols / BlockSize
	for r := lo; r < hi; r++ {
		var sum float32
		for b := range nb {
			q := w[r*cols+b*BlockSize : r*cols+b*BlockSize+BlockSize]
			xb := x[b*BlockSize : b*BlockSize+BlockSize]
			var s0, s1, s2, s3 float32
			for j := 0; j < BlockSize; j += 4 {
				s0 += float32(q[j]) * xb[j]
				s1 += float32(q[j+1]) * xb[j+1]
				s2 += float32(q[j+2]) * xb[j+2]
				s3 += float32(q[j+3]) * xb[j+3]
			}
			sum += ws[r*nb+b] * ((s0 + s1) + (s2 + s3))
		}
		out[r] = sum
	}
}

func q4RowsGo(out []float32, w []byte, ws []float32, cols int, x []float32, lo, hi int) {
	nb := cols / BlockSize
	for r := lo; r < hi; r++ {
		var sum float32
		for b := range nb {
			q := w[(r*nb+b)*16 : (r*nb+b)*16+16]
			xb := x[b*BlockSize : b*BlockSize+BlockSize]
			var s0, s1 float32
			for j, v := range q {
				s0 += float32(int(v&15)-8) * xb[j]
				s1 += float32(int(v>>4)-8) * xb[j+16]
			}
			sum += ws[r*nb+b] * (s0 + s1)
		}
		out[r] = sum
	}
}

// q8q8RowsGo is the portable twin of the int8 fast path: x already quantised to
// Q8_0, integer dot per block, scaled by both scales. Tests hold the assembly to it.
func q8q8RowsGo(out []float32, w []int8, ws []float32, cols int, xq []int8, xs []float32, lo, hi int) {
	nb := cols / BlockSize
	for r := lo; r < hi; r++ {
		var sum float32
		for b := range nb {
			q := w[r*cols+b*BlockSize : r*cols+b*BlockSize+BlockSize]
			xb := xq[b*BlockSize : b*BlockSize+BlockSize]
			var acc int32
			for j := range q {
				acc += int32(q[j]) * int32(xb[j])
			}
			sum += ws[r*nb+b] * xs[b] * float32(acc)
		}
		out[r] = sum
	}
}

// q4q8RowsGo is q8q8RowsGo for Q4_0 weights.
func q4q8RowsGo(out []float32, w []byte, ws []float32, cols int, xq []int8, xs []float32, lo, hi int) {
	nb := cols / BlockSize
	for r := lo; r < hi; r++ {
		var sum float32
		for b := range nb {
			q := w[(r*nb+b)*16 : (r*nb+b)*16+16]
			xb := xq[b*BlockSize : b*BlockSize+BlockSize]
			var acc int32
			for j, v := range q {
				acc += int32(int(v&15)-8)*int32(xb[j]) + int32(int(v>>4)-8)*int32(xb[j+16])
			}
			sum += ws[r*nb+b] * xs[b] * float32(acc)
		}
		out[r] = sum
	}
}
