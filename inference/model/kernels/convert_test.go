package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func isNaN32(f float32) bool { return f != f }

func TestBF16RoundTripAllValues(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		f := BF16ToF32(h)
		if isNaN32(f) {
			if !isNaN32(BF16ToF32(F32ToBF16(f))) {
				t.Fatalf("bf16 NaN %#04x did not stay NaN", h)
			}
			continue
		}
		if g := F32ToBF16(f); g != h {
			t.Fatalf("bf16 %#04x -> %g -> %#04x", h, f, g)
		}
	}
}

func TestF16RoundTripAllValues(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		f := F16ToF32(h)
		if isNaN32(f) {
			if !isNaN32(F16ToF32(F32ToF16(f))) {
				t.Fatalf("f16 NaN %#04x did not stay NaN", h)
			}
			continue
		}
		if g := F32ToF16(f); g != h {
			t.Fatalf("f16 %#04x -> %g -> %#04x", h, f, g)
		}
		if f16Tab()[h] != f && !isNaN32(f) {
			t.Fatalf("f16 table disagrees at %#04x", h)
		}
	}
}

// nearestEven checks that h is the correctly rounded encoding of f among its
// neighbours, given a decoder: no neighbour is strictly closer, and on a tie the
// chosen one is even.
func nearestEven(t *testing.T, name string, f float32, h uint16, dec func(uint16) float32) {
	t.Helper()
	got := float64(dec(h))
	if math.IsInf(got, 0) {
		return // overflow is checked separately
	}
	d := math.Abs(got - float64(f))
	for _, nb := range []uint16{h - 1, h + 1} {
		if nb&0x7fff >= 0x7f80 && name == "bf16" || nb&0x7fff >= 0x7c00 && name == "f16" {
			continue
		}
		if nb>>15 != h>>15 && got != 0 {
			continue
		}
		v := float64(dec(nb))
		dn := math.Abs(v - float64(f))
		if dn < d || (dn == d && h&1 == 1) {
			t.Fatalf("%s(%g) = %#04x (%g), but %#04x (%g) is nearer or an even tie", name, f, h, got, nb, v)
		}
	}
}

func TestRoundToNearestEven(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		var f float32
		switch rng.IntN(3) {
		case 0:
			f = float32(rng.NormFloat64() * math.Pow(2, float64(rng.IntN(40)-20)))
		case 1: // f16 subnormal range
			f = float32((rng.Float64()*2 - 1) * 7e-5)
		default: // exact ties between bf16 neighbours
			b := rng.Uint32()&0x7f7f0000 | 0x8000
			f = math.Float32frombits(b)
		}
		nearestEven(t, "bf16", f, F32ToBF16(f), BF16ToF32)
		if math.Abs(float64(f)) < 65504 {
			nearestEven(t, "f16", f, F32ToF16(f), F16ToF32)
		}
	}
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{1 + 1.0/256, 0x3f80}, // tie between 1 and 1+2^-7: even (1) wins
		{1 + 3.0/256, 0x3f82}, // tie rounds up to the even neighbour
		{float32(math.Inf(1)), 0x7f80},
	} {
		if got := F32ToBF16(c.f); got != c.want {
			t.Errorf("F32ToBF16(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{1 + 1.0/2048, 0x3c00}, // tie: even
		{1 + 3.0/2048, 0x3c02},
		{65520, 0x7c00},                 // rounds to Inf
		{65519, 0x7bff},                 // largest finite
		{5.960464477539063e-08, 0x0001}, // smallest subnormal
		{2.98e-08, 0x0000},              // just below half of it
		{float32(math.Copysign(0, -1)), 0x8000},
	} {
		if got := F32ToF16(c.f); got != c.want {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
}

func FuzzF16Conversion(f *testing.F) {
	f.Add(uint32(0x3f800000))
	f.Add(uint32(0x33800000))
	f.Fuzz(func(t *testing.T, bits uint32) {
		v := math.Float32frombits(bits)
		h := F32ToF16(v)
		if isNaN32(v) {
			if !isNaN32(F16ToF32(h)) {
				t.Fatalf("NaN lost")
			}
			return
		}
		if math.Abs(float64(v)) < 65504 {
			nearestEven(t, "f16", v, h, F16ToF32)
		}
		b := F32ToBF16(v)
		if math.Abs(float64(v)) < 3e38 {
			nearestEven(t, "bf16", v, b, BF16ToF32)
		}
	})
}
