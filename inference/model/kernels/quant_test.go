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

// TestFastQuantizeQ8MatchesGo checks every fast path's activation quantiser
// against the Go twin bit for bit: random blocks over many magnitudes, an
// all-zero block, negative zeros, and blocks built so that x·(1/d) lands
// exactly on halves, where round-half-away and round-half-even differ.
func TestFastQuantizeQ8MatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	const nb = 64
	x := make([]float32, nb*BlockSize)
	for b := range nb {
		blk := x[b*BlockSize : (b+1)*BlockSize]
		switch b % 4 {
		case 0: // random, magnitudes from 1e-6 to 1e6
			s := float32(math.Pow(10, rng.Float64()*12-6))
			for i := range blk {
				blk[i] = (rng.Float32()*2 - 1) * s
			}
		case 1: // zeros, some negative
			for i := range blk {
				if i%2 == 1 {
					blk[i] = float32(math.Copysign(0, -1))
				}
			}
		case 2: // max 127 so d = 1: halves are exact ties
			for i := range blk {
				blk[i] = float32(rng.IntN(253)-126) + 0.5
			}
			blk[0] = 127
		default: // one large value among small ones
			for i := range blk {
				blk[i] = rng.Float32() * 1e-3
			}
			blk[rng.IntN(BlockSize)] = -50
		}
	}
	wantQ, wantS := make([]int8, len(x)), make([]float32, nb)
	quantizeQ8RowGo(wantQ, wantS, x)
	forEachFastPath(t, func(t *testing.T, p *kernelPath) {
		for _, n := range []int{0, 1, 3, nb} { // block counts, ragged included
			q, s := make([]int8, len(x)), make([]float32, nb)
			p.fns.quantQ8(q[:n*BlockSize], s[:n], x[:n*BlockSize])
			for i := range n * BlockSize {
				if q[i] != wantQ[i] {
					t.Fatalf("%d blocks: q[%d] = %d, want %d (x = %g, d = %g)", n, i, q[i], wantQ[i], x[i], wantS[i/BlockSize])
				}
			}
			for b := range n {
				if math.Float32bits(s[b]) != math.Float32bits(wantS[b]) {
					t.Fatalf("%d blocks: scale[%d] = %g, want %g", n, b, s[b], wantS[b])
				}
			}
		}
	})
}
