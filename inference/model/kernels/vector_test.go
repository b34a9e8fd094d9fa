package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFastVectorHelpers holds the vector dot, axpy and streaming sum to their
// portable twins on ragged lengths.
func TestFastVectorHelpers(t *testing.T) {
	if !fastAvailable {
		t.Skip("no fast kernels on this CPU")
	}
	rng := rand.New(rand.NewPCG(31, 32))
	for n := 0; n < 300; n += 1 + rng.IntN(7) {
		a, b := randF32(rng, n), randF32(rng, n)
		var mag float64
		for i := range a {
			mag += math.Abs(float64(a[i] * b[i]))
		}
		if d := math.Abs(float64(fastFns.dot(a, b) - dotF32Go(a, b))); d > 1e-5*mag+1e-6 {
			t.Fatalf("dot n=%d differs by %g", n, d)
		}
		y1 := randF32(rng, n)
		y2 := append([]float32(nil), y1...)
		fastFns.axpy(y1, 0.37, a)
		axpyGo(y2, 0.37, a)
		for i := range y1 {
			if math.Abs(float64(y1[i]-y2[i])) > 1e-6*(1+math.Abs(float64(y2[i]))) {
				t.Fatalf("axpy n=%d element %d: %g vs %g", n, i, y1[i], y2[i])
			}
		}
		var amag float64
		for _, v := range a {
			amag += math.Abs(float64(v))
		}
		if d := math.Abs(float64(sumFast(a) - sumGo(a))); d > 1e-5*amag+1e-6 {
			t.Fatalf("sum n=%d differs by %g", n, d)
		}
	}
}

func TestMeasureReadBandwidth(t *testing.T) {
	if _, err := MeasureReadBandwidth(10, 1); err == nil {
		t.Fatal("no error for a 10-byte buffer")
	}
	bw, err := MeasureReadBandwidth(4<<20, 2)
	if err != nil || !(bw > 0) {
		t.Fatalf("bandwidth %g, err %v", bw, err)
	}
}

func TestMeasureInt8Peak(t *testing.T) {
	mac, ok := MeasureInt8Peak()
	if !ok {
		if int8PeakFast != nil {
			t.Fatal("MeasureInt8Peak says no path, but the CPU has one")
		}
		t.Skip("no int8 fast path on this CPU")
	}
	// A measurement, not a speed requirement: only its form is checked.
	if !(mac > 0) || math.IsInf(mac, 0) {
		t.Fatalf("int8 peak %v MAC/s is not a measurement", mac)
	}
}
