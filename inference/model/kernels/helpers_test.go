package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randF32(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// randMatrix makes a Rows×Cols matrix of the given type from random normal values.
func randMatrix(t testing.TB, rng *rand.Rand, rows, cols int, dt DType) *Matrix {
	t.Helper()
	m := &Matrix{Rows: rows, Cols: cols, Type: F32, F32: randF32(rng, rows*cols)}
	if dt == F32 {
		return m
	}
	q, err := Quantize(m, dt)
	if err != nil {
		t.Fatalf("quantize %dx%d to %s: %v", rows, cols, dt, err)
	}
	return q
}

// refMatVec is the float64 reference over the matrix's dequantised values, with
// the bound Σ|w·x| that scales the rounding error of any float32 summation order.
func refMatVec(m *Matrix, x []float32) (ref, mag []float64) {
	row := make([]float32, m.Cols)
	ref, mag = make([]float64, m.Rows), make([]float64, m.Rows)
	for r := range m.Rows {
		DecodeRow(row, m, r)
		for c, w := range row {
			p := float64(w) * float64(x[c])
			ref[r] += p
			mag[r] += math.Abs(p)
		}
	}
	return ref, mag
}

func checkClose(t *testing.T, what string, got []float32, want, mag []float64, rel float64) {
	t.Helper()
	for i := range want {
		tol := rel*mag[i] + 1e-30
		if d := math.Abs(float64(got[i]) - want[i]); d > tol || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: element %d = %g, want %g (|diff| %g > tol %g)", what, i, got[i], want[i], d, tol)
		}
	}
}

// useKernels selects a kernel path for the rest of the test or benchmark and
// restores the best one after it.
func useKernels(t testing.TB, name string) {
	t.Helper()
	if err := UseKernels(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { UsePortable(false) })
}

// forEachFastPath runs f in a subtest for every non-portable kernel path of this
// architecture; paths the CPU lacks are skipped with the reason logged, so a run
// on an AVX2-only machine says which AVX-512 cases it did not exercise.
func forEachFastPath(t *testing.T, f func(t *testing.T, p *kernelPath)) {
	t.Helper()
	if len(kernelPaths) == 1 {
		t.Skip("no fast kernels on this architecture")
	}
	for _, p := range kernelPaths[1:] {
		t.Run(p.name, func(t *testing.T) {
			if !p.ok {
				t.Skipf("path %s not exercised: %s", p.name, p.why)
			}
			f(t, p)
		})
	}
}
