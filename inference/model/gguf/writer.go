package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// TensorSpec declares one tensor to be written; Dims as in Tensor (innermost first).
type TensorSpec struct {
	Name string
	Type GGMLType
	Dims []uint64
}

// Writer streams a GGUF v3 file: header, metadata and tensor infos first, then each tensor's bytes in
// declaration order, padded to the alignment.
type Writer struct {
	w       *bufio.Writer
	specs   []TensorSpec
	sizes   []uint64
	next    int
	written uint64
	align   uint64
}

// NewWriter writes the header, kvs and tensor infos. Values in kvs must be of the Go types KV documents
// (arrays as typed slices of scalars or strings).
func NewWriter(out io.Writer, kvs []KV, specs []TensorSpec) (*Writer, error) {
	w := &Writer{w: bufio.NewWriterSize(out, 1<<20), specs: specs, align: DefaultAlignment}
	for _, kv := range kvs {
		if kv.Key == "general.alignment" {
			a, ok := asUint(kv.Value)
			if !ok || a == 0 || a&(a-1) != 0 {
				return nil, fmt.Errorf("general.alignment %v is not a power of two", kv.Value)
			}
			w.align = a
		}
	}
	le := binary.LittleEndian
	var hdr []byte
	hdr = le.AppendUint32(hdr, Magic)
	hdr = le.AppendUint32(hdr, 3)
	hdr = le.AppendUint64(hdr, uint64(len(specs)))
	hdr = le.AppendUint64(hdr, uint64(len(kvs)))
	for _, kv := range kvs {
		hdr = appendString(hdr, kv.Key)
		hdr = le.AppendUint32(hdr, uint32(kv.Type))
		var err error
		if hdr, err = appendValue(hdr, kv.Type, kv.Value); err != nil {
			return nil, fmt.Errorf("metadata %q: %w", kv.Key, err)
		}
	}
	var off uint64
	for _, s := range specs {
		t := &Tensor{Name: s.Name, Type: s.Type, Dims: s.Dims}
		if len(s.Dims) == 0 || len(s.Dims) > MaxDims {
			return nil, fmt.Errorf("tensor %q: %d dimensions", s.Name, len(s.Dims))
		}
		size, err := tensorBytes(t)
		if err != nil {
			return nil, err
		}
		hdr = appendString(hdr, s.Name)
		hdr = le.AppendUint32(hdr, uint32(len(s.Dims)))
		for _, d := range s.Dims {
			hdr = le.AppendUint64(hdr, d)
		}
		hdr = le.AppendUint32(hdr, uint32(s.Type))
		hdr = le.AppendUint64(hdr, off)
		w.sizes = append(w.sizes, size)
		off = (off + size + w.align - 1) / w.align * w.align
	}
	for uint64(len(hdr))%w.align != 0 {
		hdr = append(hdr, 0)
	}
	if _, err := w.w.Write(hdr); err != nil {
		return nil, fmt.Errorf("write gguf header: %w", err)
	}
	return w, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

func appendValue(b []byte, t ValueType, v any) ([]byte, error) {
	le := binary.LittleEndian
	bad := fmt.Errorf("value %T does not match type %d", v, t)
	switch t {
	case TypeUint8:
		x, ok := v.(uint8)
		if !ok {
			return nil, bad
		}
		return append(b, x), nil
	case TypeInt8:
		x, ok := v.(int8)
		if !ok {
			return nil, bad
		}
		return append(b, byte(x)), nil
	case TypeBool:
		x, ok := v.(bool)
		if !ok {
			return nil, bad
		}
		if x {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case TypeUint16:
		x, ok := v.(uint16)
		if !ok {
			return nil, bad
		}
		return le.AppendUint16(b, x), nil
	case TypeInt16:
		x, ok := v.(int16)
		if !ok {
			return nil, bad
		}
		return le.AppendUint16(b, uint16(x)), nil
	case TypeUint32:
		x, ok := v.(uint32)
		if !ok {
			return nil, bad
		}
		return le.AppendUint32(b, x), nil
	case TypeInt32:
		x, ok := v.(int32)
		if !ok {
			return nil, bad
		}
		return le.AppendUint32(b, uint32(x)), nil
	case TypeFloat32:
		x, ok := v.(float32)
		if !ok {
			return nil, bad
		}
		return le.AppendUint32(b, math.Float32bits(x)), nil
	case TypeUint64:
		x, ok := v.(uint64)
		if !ok {
			return nil, bad
		}
		return le.AppendUint64(b, x), nil
	case TypeInt64:
		x, ok := v.(int64)
		if !ok {
			return nil, bad
		}
		return le.AppendUint64(b, uint64(x)), nil
	case TypeFloat64:
		x, ok := v.(float64)
		if !ok {
			return nil, bad
		}
		return le.AppendUint64(b, math.Float64bits(x)), nil
	case TypeString:
		x, ok := v.(string)
		if !ok {
			return nil, bad
		}
		return appendString(b, x), nil
	case TypeArray:
		switch x := v.(type) {
		case []string:
			b = le.AppendUint32(b, uint32(TypeString))
			b = le.AppendUint64(b, uint64(len(x)))
			for _, s := range x {
				b = appendString(b, s)
			}
		case []float32:
			b = le.AppendUint32(b, uint32(TypeFloat32))
			b = le.AppendUint64(b, uint64(len(x)))
			for _, f := range x {
				b = le.AppendUint32(b, math.Float32bits(f))
			}
		case []int32:
			b = le.AppendUint32(b, uint32(TypeInt32))
			b = le.AppendUint64(b, uint64(len(x)))
			for _, n := range x {
				b = le.AppendUint32(b, uint32(n))
			}
		case []uint32:
			b = le.AppendUint32(b, uint32(TypeUint32))
			b = le.AppendUint64(b, uint64(len(x)))
			for _, n := range x {
				b = le.AppendUint32(b, n)
			}
		default:
			return nil, fmt.Errorf("array of %T not supported by the writer", v)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown value type %d", t)
}

// WriteTensor writes the next declared tensor's bytes and the padding after it.
func (w *Writer) WriteTensor(data []byte) error {
	if w.next >= len(w.specs) {
		return fmt.Errorf("write gguf: more tensors than declared")
	}
	s := w.specs[w.next]
	if uint64(len(data)) != w.sizes[w.next] {
		return fmt.Errorf("write gguf: tensor %q has %d bytes, want %d", s.Name, len(data), w.sizes[w.next])
	}
	if _, err := w.w.Write(data); err != nil {
		return fmt.Errorf("write gguf tensor %q: %w", s.Name, err)
	}
	w.written += uint64(len(data))
	if w.next < len(w.specs)-1 {
		pad := (w.align - w.written%w.align) % w.align
		if _, err := w.w.Write(make([]byte, pad)); err != nil {
			return fmt.Errorf("write gguf padding: %w", err)
		}
		w.written += pad
	}
	w.next++
	return nil
}

// Close checks every declared tensor was written and flushes.
func (w *Writer) Close() error {
	if w.next != len(w.specs) {
		return fmt.Errorf("write gguf: %d of %d tensors written", w.next, len(w.specs))
	}
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("write gguf: %w", err)
	}
	return nil
}
