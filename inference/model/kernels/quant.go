package kernels

import (
	"fmt"
	"math"
)

// Quantize converts m to the type to (F32, F16, BF16, Q8_0 or Q4_0) and returns a new
// matrix; m is not modified. Converting from Q8_0 or Q4_0 is allowed (the values are
// dequantised first) but loses no further precision only when to is F32.
func Quantize(m *Matrix, to DType) (*Matrix, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("quantize %s to %s: %w", m.Type, to, err)
	}
	out := &Matrix{Rows: m.Rows, Cols: m.Cols, Type: to}
	n := m.Rows * m.Cols
	switch to {
	case F32:
		out.F32 = make([]float32, n)
	case F16, BF16:
		out.U16 = make([]uint16, n)
	case Q8_0, Q4_0:
		if m.Cols%BlockSize != 0 {
			return nil, fmt.Errorf("quantize %dx%d to %s: %w: Cols must be a multiple of %d", m.Rows, m.Cols, to, ErrShape, BlockSize)
		}
		out.Scales = make([]float32, n/BlockSize)
		if to == Q8_0 {
			out.Q8 = make([]int8, n)
		} else {
			out.Q4 = make([]byte, n/2)
		}
	default:
		return nil, fmt.Errorf("quantize to %s: unsupported target type", to)
	}
	row := make([]float32, m.Cols)
	c := m.Cols
	for r := 0; r < m.Rows; r++ {
		DecodeRow(row, m, r)
		switch to {
		case F32:
			copy(out.F32[r*c:], row)
		case F16:
			for i, v := range row {
				out.U16[r*c+i] = F32ToF16(v)
			}
		case BF16:
			for i, v := range row {
				out.U16[r*c+i] = F32ToBF16(v)
			}
		case Q8_0:
			QuantizeQ8Row(out.Q8[r*c:(r+1)*c], out.Scales[r*c/BlockSize:(r+1)*c/BlockSize], row)
		case Q4_0:
			quantizeQ4Row(out.Q4[r*c/2:(r+1)*c/2], out.Scales[r*c/BlockSize:(r+1)*c/BlockSize], row)
		}
	}
	return out, nil
}

// QuantizeQ8Row quantises x (len a multiple of 32) to Q8_0 as ggml does: per block
// of 32, d = max|x|/127 and q = round(x/d), computed as x*(1/d) in float32 with
// ties away from zero. An all-zero block gets d = 0 and zero quants.
func QuantizeQ8Row(q []int8, scales []float32, x []float32) {
	active.quantQ8(q, scales, x)
}

// quantizeQ8RowGo is QuantizeQ8Row in Go: the twin of the vector versions.
func quantizeQ8RowGo(q []int8, scales []float32, x []float32) {
	for b := range len(x) / BlockSize {
		blk := x[b*BlockSize : b*BlockSize+BlockSize]
		var amax float32
		for _, v := range blk {
			if a := math.Float32frombits(math.Float32bits(v) &^ (1 << 31)); a > amax {
				amax = a
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		scales[b] = d
		o := q[b*BlockSize : b*BlockSize+BlockSize]
		for j, v := range blk {
			// Round half away from zero, as C's roundf: adding ±0.5 in float64 is
			// exact for |v·id| ≤ 127, and the conversion truncates toward zero.
			f := float64(v * id)
			if f >= 0 {
				o[j] = int8(f + 0.5)
			} else {
				o[j] = int8(f - 0.5)
			}
		}
	}
}

// quantizeQ4Row quantises x to Q4_0 as ggml does (see the package comment).
func quantizeQ4Row(q []byte, scales []float32, x []float32) {
	for b := range len(x) / BlockSize {
		blk := x[b*BlockSize : b*BlockSize+BlockSize]
		var amax, vmax float32
		for _, v := range blk {
			if a := float32(math.Abs(float64(v))); a > amax {
				amax, vmax = a, v
			}
		}
		d := vmax / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		scales[b] = d
		o := q[b*16 : b*16+16]
		for j := range 16 {
			lo := min(15, int8(blk[j]*id+8.5))
			hi := min(15, int8(blk[j+16]*id+8.5))
			o[j] = byte(lo) | byte(hi)<<4
		}
	}
}
