package kernels

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// exactTol is the relative error (to Σ|w·x|) allowed for float32 summation in any
// order against the float64 reference: about cols·2^-24, with room.
const exactTol = 1e-5

// q8xTol is the extra error of quantising x to Q8_0 (half a step of max|x|/127 per
// element, random signs): bounded relative to Σ|w·x| well below 1%.
const q8xTol = 2e-2

func TestPortableMatVecAgainstReference(t *testing.T) {
	UsePortable(true)
	defer UsePortable(false)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, dt := range []DType{F32, F16, BF16, Q8_0, Q4_0} {
		for range 20 {
			rows := 1 + rng.IntN(150)
			cols := 1 + rng.IntN(200)
			if dt == Q8_0 || dt == Q4_0 {
				cols = 32 * (1 + rng.IntN(8))
			}
			m := randMatrix(t, rng, rows, cols, dt)
			x := randF32(rng, cols)
			out := make([]float32, rows)
			MatVec(out, m, x)
			ref, mag := refMatVec(m, x)
			checkClose(t, fmt.Sprintf("%s %dx%d", dt, rows, cols), out, ref, mag, exactTol)
		}
	}
}

// TestMatMulEqualsMatVecPerToken: the portable MatMul applies the same row kernel
// to every token, so it must agree with MatVec exactly; the fast one blocks two
// tokens per weight load (another summation order), so it must agree within the
// float32 rounding bound.
func TestMatMulEqualsMatVecPerToken(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	defer UsePortable(false)
	for _, path := range KernelPaths() {
		portable := path == "portable"
		useKernels(t, path)
		for _, dt := range []DType{F32, F16, BF16, Q8_0, Q4_0} {
			rows, cols, n := 131, 96, 5
			m := randMatrix(t, rng, rows, cols, dt)
			x := randF32(rng, n*cols)
			out := make([]float32, n*rows)
			MatMul(out, m, x, n)
			one := make([]float32, rows)
			for tok := range n {
				MatVec(one, m, x[tok*cols:(tok+1)*cols])
				if !portable {
					_, mag := refMatVec(m, x[tok*cols:(tok+1)*cols])
					want := make([]float64, rows)
					for r := range want {
						want[r] = float64(one[r])
					}
					checkClose(t, fmt.Sprintf("%s %s token %d", dt, path, tok), out[tok*rows:(tok+1)*rows], want, mag, exactTol)
					continue
				}
				for r := range rows {
					if one[r] != out[tok*rows+r] {
						t.Fatalf("%s %s token %d row %d: matmul %g, matvec %g", dt, path, tok, r, out[tok*rows+r], one[r])
					}
				}
			}
		}
	}
}

// TestFastMatchesPortable holds every fast row kernel to its portable twin on
// random ragged shapes (Cols not a multiple of the vector width where the type
// allows it, Rows not a multiple of the row block).
func TestFastMatchesPortable(t *testing.T) {
	forEachFastPath(t, func(t *testing.T, p *kernelPath) {
		rng := rand.New(rand.NewPCG(9, 10))
		for _, dt := range []DType{F32, F16, BF16, Q8_0, Q4_0} {
			for range 40 {
				rows := 1 + rng.IntN(140)
				cols := 1 + rng.IntN(300)
				if dt == Q8_0 || dt == Q4_0 {
					cols = 32 * (1 + rng.IntN(12))
				}
				m := randMatrix(t, rng, rows, cols, dt)
				n := 1 + rng.IntN(5)
				x := randF32(rng, n*cols)
				fast, port := make([]float32, n*rows), make([]float32, n*rows)
				useKernels(t, p.name)
				MatMul(fast, m, x, n)
				useKernels(t, "portable")
				MatMul(port, m, x, n)
				for tok := range n {
					ref, mag := refMatVec(m, x[tok*cols:(tok+1)*cols])
					tol := exactTol
					if dt == Q8_0 || dt == Q4_0 {
						tol = q8xTol
					}
					what := fmt.Sprintf("%s %s %dx%d token %d", p.name, dt, rows, cols, tok)
					checkClose(t, what, fast[tok*rows:(tok+1)*rows], ref, mag, tol)
					checkClose(t, "portable "+what, port[tok*rows:(tok+1)*rows], ref, mag, exactTol)
				}
			}
		}
	})
}

// TestFastInt8MatchesQ8Q8Twin checks the int8 kernels against the portable
// int8·int8 twin (same quantised x): only the float summation order differs.
func TestFastInt8MatchesQ8Q8Twin(t *testing.T) {
	forEachFastPath(t, func(t *testing.T, p *kernelPath) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, dt := range []DType{Q8_0, Q4_0} {
			if (dt == Q8_0 && p.fns.q8 == nil) || (dt == Q4_0 && p.fns.q4 == nil) {
				t.Logf("%s: no int8 %s kernel on this path", p.name, dt)
				continue
			}
			for range 60 {
				rows := 1 + rng.IntN(140)
				cols := 32 * (1 + rng.IntN(12))
				m := randMatrix(t, rng, rows, cols, dt)
				x := randF32(rng, cols)
				xq, xs := make([]int8, cols), make([]float32, cols/32)
				QuantizeQ8Row(xq, xs, x)
				got, want := make([]float32, rows), make([]float32, rows)
				lo := rng.IntN(rows)
				if dt == Q8_0 {
					p.fns.q8(got, m.Q8, m.Scales, cols, xq, xs, lo, rows)
					q8q8RowsGo(want, m.Q8, m.Scales, cols, xq, xs, lo, rows)
				} else {
					p.fns.q4(got, m.Q4, m.Scales, cols, xq, xs, lo, rows)
					q4q8RowsGo(want, m.Q4, m.Scales, cols, xq, xs, lo, rows)
				}
				xd := make([]float32, cols)
				for i := range xd {
					xd[i] = xs[i/32] * float32(xq[i])
				}
				ref, mag := refMatVec(m, xd)
				for r := range rows {
					if r < lo {
						if got[r] != 0 {
							t.Fatalf("%s %s: row %d below lo=%d was written", p.name, dt, r, lo)
						}
						continue
					}
					checkClose(t, fmt.Sprintf("%s %s twin %dx%d row %d", p.name, dt, rows, cols, r), got[r:r+1], []float64{float64(want[r])}, mag[r:r+1], exactTol)
					checkClose(t, fmt.Sprintf("%s %s ref %dx%d row %d", p.name, dt, rows, cols, r), got[r:r+1], ref[r:r+1], mag[r:r+1], exactTol)
				}
			}
		}
	})
}

func TestThreadsAndConcurrentCallers(t *testing.T) {
	defer SetThreads(0)
	rng := rand.New(rand.NewPCG(13, 14))
	m := randMatrix(t, rng, 700, 64, Q8_0)
	x := randF32(rng, 64)
	want := make([]float32, 700)
	SetThreads(1)
	if Threads() != 1 {
		t.Fatalf("Threads() = %d after SetThreads(1)", Threads())
	}
	MatVec(want, m, x)
	for _, th := range []int{2, 3, 8} {
		SetThreads(th)
		var wg sync.WaitGroup
		errs := make(chan string, 8)
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out := make([]float32, 700)
				for range 20 {
					MatVec(out, m, x)
					for i := range out {
						if out[i] != want[i] {
							errs <- fmt.Sprintf("threads %d caller %d row %d: %g != %g", th, g, i, out[i], want[i])
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatal(e)
		}
	}
}

func TestMatVecPanicsOnShortBuffers(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a short x")
		}
	}()
	m := &Matrix{Rows: 2, Cols: 4, Type: F32, F32: make([]float32, 8)}
	MatVec(make([]float32, 2), m, make([]float32, 3))
}

// TestPoolWakesParkedWorkers: after a pause longer than the spin time the
// workers have parked; the next calls must wake them (or finish without them) and
// still give the same result, and SetThreads must release parked workers.
func TestPoolWakesParkedWorkers(t *testing.T) {
	defer SetThreads(0)
	rng := rand.New(rand.NewPCG(15, 16))
	m := randMatrix(t, rng, 1000, 64, F32)
	x := randF32(rng, 64)
	want := make([]float32, 1000)
	SetThreads(1)
	MatVec(want, m, x)
	SetThreads(3)
	out := make([]float32, 1000)
	for range 5 {
		time.Sleep(2 * spinTime)
		clear(out)
		MatVec(out, m, x)
		for i := range out {
			if out[i] != want[i] {
				t.Fatalf("row %d: %g != %g after a pause", i, out[i], want[i])
			}
		}
	}
	time.Sleep(2 * spinTime)
	SetThreads(2) // releases the parked workers of the 3-thread pool
	MatVec(out, m, x)
	for i := range out {
		if out[i] != want[i] {
			t.Fatalf("row %d: %g != %g after SetThreads", i, out[i], want[i])
		}
	}
}

// TestUseKernels: every supported path can be selected and named back; unknown
// names and paths the CPU lacks are refused with an error.
func TestUseKernels(t *testing.T) {
	defer UsePortable(false)
	t.Logf("kernel paths on this CPU: %v (default %s)", KernelPaths(), bestPath().name)
	for _, name := range KernelPaths() {
		if err := UseKernels(name); err != nil {
			t.Fatalf("UseKernels(%q): %v", name, err)
		}
		if got := Accelerated(); got != name {
			t.Fatalf("Accelerated() = %q after UseKernels(%q)", got, name)
		}
	}
	if err := UseKernels("no-such-path"); err == nil {
		t.Fatal("UseKernels accepted an unknown name")
	}
	for _, p := range kernelPaths {
		if !p.ok {
			if err := UseKernels(p.name); err == nil {
				t.Fatalf("UseKernels(%q) accepted a path the CPU lacks", p.name)
			}
		}
	}
	UsePortable(true)
	if Accelerated() != "portable" {
		t.Fatalf("Accelerated() = %q after UsePortable(true)", Accelerated())
	}
}
