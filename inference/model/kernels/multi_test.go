package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestMatMulMultiMatchesMatMul: MatMulMulti (and MatVecMulti) over several
// matrices sharing x must give, on every path, exactly what MatMul gives for each
// matrix alone (the same chunks through the same kernels with the same quantised
// x), and on the fast paths agree with the portable twin within the bounds of
// TestFastMatchesPortable. Groups mix types, ragged and empty row counts, and
// exceed maxMulti once so the split into several dispatches is covered.
func TestMatMulMultiMatchesMatMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	types := []DType{F32, F16, BF16, Q8_0, Q4_0}
	for _, path := range KernelPaths() {
		for trial := range 30 {
			cols := 32 * (1 + rng.IntN(6))
			nm := 1 + rng.IntN(4)
			if trial == 0 {
				nm = maxMulti + 3
			}
			n := 1 + rng.IntN(5)
			if trial%3 == 0 {
				n = 1
			}
			ws := make([]*Matrix, nm)
			for i := range ws {
				rows := rng.IntN(300)
				if trial%5 == 1 && i == 0 {
					rows = 0
				}
				ws[i] = randMatrix(t, rng, rows, cols, types[rng.IntN(len(types))])
			}
			x := randF32(rng, n*cols)
			outs, port := make([][]float32, nm), make([][]float32, nm)
			for i, w := range ws {
				outs[i], port[i] = make([]float32, n*w.Rows), make([]float32, n*w.Rows)
			}
			useKernels(t, "portable")
			MatMulMulti(port, ws, x, n)
			useKernels(t, path)
			if n == 1 {
				MatVecMulti(outs, ws, x)
			} else {
				MatMulMulti(outs, ws, x, n)
			}
			for i, w := range ws {
				one := make([]float32, n*w.Rows)
				MatMul(one, w, x, n)
				what := fmt.Sprintf("%s trial %d matrix %d (%s %dx%d) n=%d", path, trial, i, w.Type, w.Rows, w.Cols, n)
				for j := range one {
					if one[j] != outs[i][j] {
						t.Fatalf("%s: element %d: multi %g, matmul %g", what, j, outs[i][j], one[j])
					}
				}
				for tok := range n {
					ref, mag := refMatVec(w, x[tok*cols:(tok+1)*cols])
					tol := exactTol
					if path != "portable" && (w.Type == Q8_0 || w.Type == Q4_0) {
						tol = q8xTol
					}
					checkClose(t, what, outs[i][tok*w.Rows:(tok+1)*w.Rows], ref, mag, tol)
					checkClose(t, "portable "+what, port[i][tok*w.Rows:(tok+1)*w.Rows], ref, mag, exactTol)
				}
			}
		}
	}
}

func TestMatMulMultiRejectsMismatchedShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	a, b := randMatrix(t, rng, 4, 32, F32), randMatrix(t, rng, 4, 64, F32)
	for name, f := range map[string]func(){
		"cols": func() {
			MatVecMulti([][]float32{make([]float32, 4), make([]float32, 4)}, []*Matrix{a, b}, make([]float32, 64))
		},
		"outputs": func() { MatVecMulti([][]float32{make([]float32, 4)}, []*Matrix{a, a}, make([]float32, 32)) },
		"short": func() {
			MatVecMulti([][]float32{make([]float32, 4), make([]float32, 3)}, []*Matrix{a, a}, make([]float32, 32))
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestQuantizeTokensSplitMatchesRow: a decode token's activations, quantised in
// pieces over the pool, equal QuantizeQ8Row over the whole row.
func TestQuantizeTokensSplitMatchesRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for _, cols := range []int{32, 1024, 2048, 32 * 177} {
		x := randF32(rng, cols)
		sc := quantizeTokens(x, cols, 1)
		q, s := make([]int8, cols), make([]float32, cols/BlockSize)
		QuantizeQ8Row(q, s, x)
		for i := range q {
			if q[i] != sc.q[i] {
				t.Fatalf("cols %d: quant %d = %d, want %d", cols, i, sc.q[i], q[i])
			}
		}
		for i := range s {
			if s[i] != sc.s[i] {
				t.Fatalf("cols %d: scale %d = %g, want %g", cols, i, sc.s[i], s[i])
			}
		}
		q8Pool.Put(sc)
	}
}

// TestSwiGLUSplitMatchesSerial: SwiGLU over an input several swigluChunks long
// (split over the pool, with a ragged last piece) equals the element-wise formula
// applied serially.
func TestSwiGLUSplitMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	n := 3*swigluChunk + 77
	g, u := randF32(rng, n), randF32(rng, n)
	want := make([]float32, n)
	for i := range want {
		want[i] = g[i] / (1 + exp32(-g[i])) * u[i]
	}
	SwiGLU(g, u)
	for i := range g {
		if g[i] != want[i] {
			t.Fatalf("swiglu[%d] = %g, want %g", i, g[i], want[i])
		}
	}
}
