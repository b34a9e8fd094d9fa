package kernels

import (
	"errors"
	"fmt"
)

// DType is the element type of a weight matrix.
type DType uint8

// The weight types the kernels understand.
const (
	F32 DType = iota
	F16
	BF16
	Q8_0
	Q4_0
)

// BlockSize is the number of consecutive weights of a row that share one scale in
// the Q8_0 and Q4_0 formats.
const BlockSize = 32

// String returns the conventional lower-case name of the type (f32, bf16, q8_0 ...).
func (d DType) String() string {
	switch d {
	case F32:
		return "f32"
	case F16:
		return "f16"
	case BF16:
		return "bf16"
	case Q8_0:
		return "q8_0"
	case Q4_0:
		return "q4_0"
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// ParseDType is the inverse of DType.String.
func ParseDType(s string) (DType, error) {
	for d := F32; d <= Q4_0; d++ {
		if d.String() == s {
			return d, nil
		}
	}
	return 0, fmt.Errorf("kernels: unknown dtype %q (want f32, f16, bf16, q8_0 or q4_0)", s)
}

// BytesPerWeight is the storage cost of one weight, scales included.
func (d DType) BytesPerWeight() float64 {
	switch d {
	case F32:
		return 4
	case F16, BF16:
		return 2
	case Q8_0:
		return 1 + 4.0/BlockSize
	case Q4_0:
		return 0.5 + 4.0/BlockSize
	}
	return 0
}

// Matrix is a row-major weight matrix [Rows][Cols]; exactly the storage field(s)
// of its Type are set. See the package comment for the layouts.
type Matrix struct {
	Rows, Cols int
	Type       DType
	F32        []float32 // F32
	U16        []uint16  // F16, BF16 raw bits
	Q8         []int8    // Q8_0: Rows*Cols quants, row-major
	Q4         []byte    // Q4_0: Rows*Cols/2 bytes
	Scales     []float32 // Q8_0, Q4_0: one per 32 consecutive weights of a row
}

// ErrShape reports a matrix whose storage does not match its shape and type.
var ErrShape = errors.New("kernels: matrix storage does not match its shape")

// Bytes is the size of the matrix's weight storage (what a matvec streams).
func (m *Matrix) Bytes() int64 {
	switch m.Type {
	case F32:
		return int64(len(m.F32)) * 4
	case F16, BF16:
		return int64(len(m.U16)) * 2
	case Q8_0:
		return int64(len(m.Q8)) + int64(len(m.Scales))*4
	case Q4_0:
		return int64(len(m.Q4)) + int64(len(m.Scales))*4
	}
	return 0
}

// Validate checks that the storage of m matches its shape and type.
func (m *Matrix) Validate() error {
	if m.Rows < 0 || m.Cols < 0 {
		return fmt.Errorf("%w: negative shape %dx%d", ErrShape, m.Rows, m.Cols)
	}
	n := m.Rows * m.Cols
	bad := func(field string, got, want int) error {
		return fmt.Errorf("%w: %s %dx%d has len(%s)=%d, want %d", ErrShape, m.Type, m.Rows, m.Cols, field, got, want)
	}
	switch m.Type {
	case F32:
		if len(m.F32) != n {
			return bad("F32", len(m.F32), n)
		}
	case F16, BF16:
		if len(m.U16) != n {
			return bad("U16", len(m.U16), n)
		}
	case Q8_0, Q4_0:
		if m.Cols%BlockSize != 0 {
			return fmt.Errorf("%w: %s needs Cols a multiple of %d, got %d", ErrShape, m.Type, BlockSize, m.Cols)
		}
		if len(m.Scales) != n/BlockSize {
			return bad("Scales", len(m.Scales), n/BlockSize)
		}
		if m.Type == Q8_0 && len(m.Q8) != n {
			return bad("Q8", len(m.Q8), n)
		}
		if m.Type == Q4_0 && len(m.Q4) != n/2 {
			return bad("Q4", len(m.Q4), n/2)
		}
	default:
		return fmt.Errorf("%w: unknown type %s", ErrShape, m.Type)
	}
	return nil
}
