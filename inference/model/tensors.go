package model

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/radixops/radix/inference/model/kernels"
)

// rawTensor is one weight as stored in a file: a [rows][cols] matrix (vectors have rows == 1) whose
// data are little-endian elements (f32, f16, bf16) or ggml blocks (Q8_0, Q4_0). data usually aliases
// the file's read-only mapping.
type rawTensor struct {
	name       string
	typ        kernels.DType
	rows, cols int
	data       []byte
}

// f32View reinterprets b as float32s without copying when it is aligned, else copies.
func f32View(b []byte) []float32 {
	n := len(b) / 4
	if n == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// u16View reinterprets b as uint16s without copying when it is aligned, else copies.
func u16View(b []byte) []uint16 {
	n := len(b) / 2
	if n == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%2 == 0 {
		return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), n)
	}
	out := make([]uint16, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return out
}

// matrix turns a raw tensor into a kernels.Matrix of its own type: f32/f16/bf16 as views of the file,
// Q8_0/Q4_0 unpacked from ggml's interleaved blocks into the kernels' scales-apart layout.
func (t *rawTensor) matrix() (*kernels.Matrix, error) {
	n := t.rows * t.cols
	m := &kernels.Matrix{Rows: t.rows, Cols: t.cols, Type: t.typ}
	want := 0
	switch t.typ {
	case kernels.F32:
		want = 4 * n
	case kernels.F16, kernels.BF16:
		want = 2 * n
	case kernels.Q8_0:
		want = n / 32 * 34
	case kernels.Q4_0:
		want = n / 32 * 18
	default:
		return nil, fmt.Errorf("tensor %s: type %s not supported", t.name, t.typ)
	}
	if (t.typ == kernels.Q8_0 || t.typ == kernels.Q4_0) && t.cols%32 != 0 {
		return nil, fmt.Errorf("tensor %s: %d columns are not whole %s blocks", t.name, t.cols, t.typ)
	}
	if len(t.data) != want {
		return nil, fmt.Errorf("tensor %s: %d bytes for [%d][%d] %s, want %d", t.name, len(t.data), t.rows, t.cols, t.typ, want)
	}
	switch t.typ {
	case kernels.F32:
		m.F32 = f32View(t.data)
	case kernels.F16, kernels.BF16:
		m.U16 = u16View(t.data)
	case kernels.Q8_0:
		m.Q8 = make([]int8, n)
		m.Scales = make([]float32, n/32)
		for b := range m.Scales {
			blk := t.data[b*34 : b*34+34]
			m.Scales[b] = kernels.F16ToF32(binary.LittleEndian.Uint16(blk))
			for j, q := range blk[2:] {
				m.Q8[b*32+j] = int8(q)
			}
		}
	case kernels.Q4_0:
		m.Q4 = make([]byte, n/2)
		m.Scales = make([]float32, n/32)
		for b := range m.Scales {
			blk := t.data[b*18 : b*18+18]
			m.Scales[b] = kernels.F16ToF32(binary.LittleEndian.Uint16(blk))
			copy(m.Q4[b*16:], blk[2:])
		}
	}
	return m, nil
}

// vector decodes a 1-D tensor to float32 (norm weights are small; they are always copied).
func (t *rawTensor) vector() ([]float32, error) {
	m, err := t.matrix()
	if err != nil {
		return nil, err
	}
	out := make([]float32, m.Rows*m.Cols)
	for r := 0; r < m.Rows; r++ {
		kernels.DecodeRow(out[r*m.Cols:], m, r)
	}
	return out, nil
}

// unpermuteRows undoes llama.cpp's q/k permutation: its converter reorders each head's rows from
// [first half, second half] (rotate_half) to interleaved pairs, i.e. file row 2i+j holds original row
// j*half+i. The data are copied (the mapping is read-only); every row keeps its bytes, so this works for
// any row-contiguous type, quantised ones included.
func (t *rawTensor) unpermuteRows(heads int) error {
	if heads <= 0 || t.rows%heads != 0 || (t.rows/heads)%2 != 0 {
		return fmt.Errorf("tensor %s: %d rows do not split into %d heads of even size", t.name, t.rows, heads)
	}
	rowBytes := len(t.data) / t.rows
	headDim := t.rows / heads
	half := headDim / 2
	out := make([]byte, len(t.data))
	for h := 0; h < heads; h++ {
		for i := 0; i < half; i++ {
			for j := 0; j < 2; j++ {
				src := h*headDim + 2*i + j
				dst := h*headDim + j*half + i
				copy(out[dst*rowBytes:(dst+1)*rowBytes], t.data[src*rowBytes:(src+1)*rowBytes])
			}
		}
	}
	t.data = out
	return nil
}

// permuteRows is the inverse of unpermuteRows (what llama.cpp's converter does), used when writing GGUF.
func permuteRows(data []byte, rows, heads int) []byte {
	rowBytes := len(data) / rows
	headDim := rows / heads
	half := headDim / 2
	out := make([]byte, len(data))
	for h := 0; h < heads; h++ {
		for i := 0; i < half; i++ {
			for j := 0; j < 2; j++ {
				src := h*headDim + j*half + i
				dst := h*headDim + 2*i + j
				copy(out[dst*rowBytes:(dst+1)*rowBytes], data[src*rowBytes:(src+1)*rowBytes])
			}
		}
	}
	return out
}
