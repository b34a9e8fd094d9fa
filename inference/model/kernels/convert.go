package kernels

import (
	"math"
	"sync"
)

// BF16ToF32 widens a bfloat16 (raw bits) to float32; exact.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 narrows a float32 to bfloat16 bits, rounding to nearest, ties to even.
// NaNs stay NaN (quiet).
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN: keep sign, force a quiet mantissa bit
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// F16ToF32 widens an IEEE half (raw bits) to float32; exact.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case 0:
		// zero or subnormal: mant * 2^-24, exact in float32
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// F32ToF16 narrows a float32 to IEEE half bits, rounding to nearest, ties to even;
// overflow gives ±Inf, NaN stays NaN.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 { // below half the smallest subnormal
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - e)
		q := mant >> shift
		rem := mant & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && q&1 == 1) {
			q++ // a carry to 0x400 is the smallest normal: still the right encoding
		}
		return sign | uint16(q)
	}
	q := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && q&1 == 1) {
		q++ // a carry into the exponent rounds up to the next binade or to Inf, as it should
	}
	return sign | uint16(q)
}

// f16Table maps every half to its float32; 256 KiB, built on first use, because a
// lookup is several times cheaper than the bit manipulation in an inner loop.
var (
	f16TableOnce sync.Once
	f16Table     []float32
)

func f16Tab() []float32 {
	f16TableOnce.Do(func() {
		t := make([]float32, 1<<16)
		for i := range t {
			t[i] = F16ToF32(uint16(i))
		}
		f16Table = t
	})
	return f16Table
}

// DecodeRow writes row r of m, widened to float32, into dst (len >= m.Cols).
func DecodeRow(dst []float32, m *Matrix, r int) {
	c := m.Cols
	dst = dst[:c]
	switch m.Type {
	case F32:
		copy(dst, m.F32[r*c:(r+1)*c])
	case BF16:
		for i, h := range m.U16[r*c : (r+1)*c] {
			dst[i] = BF16ToF32(h)
		}
	case F16:
		t := f16Tab()
		for i, h := range m.U16[r*c : (r+1)*c] {
			dst[i] = t[h]
		}
	case Q8_0:
		q := m.Q8[r*c : (r+1)*c]
		s := m.Scales[r*c/BlockSize : (r+1)*c/BlockSize]
		for i := range dst {
			dst[i] = s[i/BlockSize] * float32(q[i])
		}
	case Q4_0:
		nb := c / BlockSize
		for b := 0; b < nb; b++ {
			d := m.Scales[r*nb+b]
			blk := m.Q4[(r*nb+b)*16 : (r*nb+b)*16+16]
			o := dst[b*BlockSize : b*BlockSize+BlockSize]
			for j, v := range blk {
				o[j] = d * float32(int(v&15)-8)
				o[j+16] = d * float32(int(v>>4)-8)
			}
		}
	}
}
