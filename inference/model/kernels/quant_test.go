package kernels

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestQuantizeQ8MatchesGGMLScheme(t *testing.T) {
	x := make([]float32, 64)
	for i := range 32 {
		x[i] = float32(i-16) / 4 // max|x| = 4 at i=0
	}
	// second block all zero
	m := &Matrix{Rows: 1, Cols: 64, Type: F32, F32: x}
	q, err := Quantize(m, Q8_0)
	if err != nil {
		t.Fatal(err)
	}
	if q.Scales[0] != 4/float32(127) || q.Scales[1] != 0 {
		t.Fatalf("scales %v", q.Scales)
	}
	if q.Q8[0] != -127 {
		t.Fatalf("largest magnitude should map to -127, got %d", q.Q8[0])
	}
	id := 1 / q.Scales[0]
	for i := range 32 {
		if want := int8(math.Round(float64(x[i] * id))); q.Q8[i] != want {
			t.Fatalf("q[%d] = %d, want %d", i, q.Q8[i], want)
		}
	}
	for i := 32; i < 64; i++ {
		if q.Q8[i] != 0 {
			t.Fatalf("zero block has q[%d] = %d", i, q.Q8[i])
		}
	}
}

func TestQuantizeErrorBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m := randMatrix(t, rng, 7, 96, F32)
	row := make([]float32, 96)
	for _, dt := range []DType{F16, BF16, Q8_0, Q4_0} {
		q, err := Quantize(m, dt)
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Validate(); err != nil {
			t.Fatal(err)
		}
		for r := range m.Rows {
			DecodeRow(row, q, r)
			for c, v := range row {
				w := m.F32[r*96+c]
				var tol float64
				switch dt {
				case F16:
					tol = math.Abs(float64(w)) * 0x1p-11
				case BF16:
					tol = math.Abs(float64(w)) * 0x1p-8
				case Q8_0:
					tol = math.Abs(float64(q.Scales[r*3+c/32]))*0.5 + 1e-7
				case Q4_0:
					tol = math.Abs(float64(q.Scales[r*3+c/32]))*1.0 + 1e-7
				}
				if d := math.Abs(float64(v - w)); d > tol {
					t.Fatalf("%s: w[%d,%d]=%g decodes to %g (err %g > %g)", dt, r, c, w, v, d, tol)
				}
			}
		}
	}
}

func TestQuantizeQ4Layout(t *testing.T) {
	x := make([]float32, 32)
	x[0] = -8 // largest magnitude, negative: d = -8/-8 = 1
	x[1] = 3
	x[16] = -2
	x[17] = 7
	q, err := Quantize(&Matrix{Rows: 1, Cols: 32, Type: F32, F32: x}, Q4_0)
	if err != nil {
		t.Fatal(err)
	}
	if q.Scales[0] != 1 {
		t.Fatalf("scale %g, want 1", q.Scales[0])
	}
	// byte j: low nibble = weight j + 8, high nibble = weight j+16 + 8
	if q.Q4[0] != byte(0|6<<4) || q.Q4[1] != byte(11|15<<4) {
		t.Fatalf("bytes %#x %#x", q.Q4[0], q.Q4[1])
	}
}

func TestQuantizeRejectsBadShapes(t *testing.T) {
	m := &Matrix{Rows: 1, Cols: 33, Type: F32, F32: make([]float32, 33)}
	if _, err := Quantize(m, Q8_0); !errors.Is(err, ErrShape) {
		t.Fatalf("Cols 33 to q8_0: err %v, want ErrShape", err)
	}
	bad := &Matrix{Rows: 2, Cols: 4, Type: F32, F32: make([]float32, 7)}
	if _, err := Quantize(bad, BF16); !errors.Is(err, ErrShape) {
		t.Fatalf("short storage: err %v, want ErrShape", err)
	}
	if _, err := ParseDType("q5_k"); err == nil {
		t.Fatal("ParseDType accepted q5_k")
	}
	for d := F32; d <= Q4_0; d++ {
		if got, err := ParseDType(d.String()); err != nil || got != d {
			t.Fatalf("ParseDType(%q) = %v, %v", d.String(), got, err)
		}
	}
}

// TestQuantizeQ8RowRounding pins the rounding to math.Round (ties away from zero)
// on values right at and around the half-way points.
func TestQuantizeQ8RowRounding(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	x := make([]float32, 32)
	q := make([]int8, 32)
	s := make([]float32, 1)
	for range 5000 {
		for i := range x {
			switch rng.IntN(3) {
			case 0:
				x[i] = float32(rng.NormFloat64())
			case 1:
				x[i] = float32(rng.IntN(255)-127) / 127 * 3
			default:
				x[i] = (float32(rng.IntN(254)-127) + 0.5) / 127 * 3
			}
		}
		QuantizeQ8Row(q, s, x)
		id := float32(0)
		if s[0] != 0 {
			id = 1 / s[0]
		}
		for i, v := range x {
			if want := int8(math.Round(float64(v * id))); q[i] != want {
				t.Fatalf("x=%g: q=%d, want %d", v, q[i], want)
			}
		}
	}
}
