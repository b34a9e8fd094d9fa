package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// Spec declares one tensor to be written.
type Spec struct {
	Name  string
	DType DType
	Shape []int
}

func (s Spec) bytes() int64 {
	n := int64(s.DType.Size())
	for _, d := range s.Shape {
		n *= int64(d)
	}
	return n
}

// Writer streams a safetensors file: the header (computed from every Spec up front), then each tensor's
// bytes in Spec order, so a large checkpoint never has to sit in memory.
type Writer struct {
	w     io.Writer
	specs []Spec
	next  int
}

// NewWriter writes the header for specs (data laid out in the order given) and returns a Writer that
// expects each tensor's bytes, in that order, through WriteTensor.
func NewWriter(w io.Writer, specs []Spec, metadata map[string]string) (*Writer, error) {
	hdr := map[string]any{}
	if len(metadata) > 0 {
		hdr["__metadata__"] = metadata
	}
	var off int64
	for _, s := range specs {
		if s.DType.Size() == 0 {
			return nil, fmt.Errorf("tensor %q: unknown dtype %q", s.Name, s.DType)
		}
		if _, dup := hdr[s.Name]; dup {
			return nil, fmt.Errorf("tensor %q declared twice", s.Name)
		}
		n := s.bytes()
		shape := s.Shape
		if shape == nil {
			shape = []int{}
		}
		hdr[s.Name] = map[string]any{"dtype": s.DType, "shape": shape, "data_offsets": []int64{off, off + n}}
		off += n
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		return nil, fmt.Errorf("encode safetensors header: %w", err)
	}
	// Pad with spaces so the data section starts 8-byte aligned, which lets readers view it in place.
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, uint64(len(js)))
	buf.Write(js)
	if _, err := w.Write(buf.Bytes()); err != nil {
		return nil, fmt.Errorf("write safetensors header: %w", err)
	}
	return &Writer{w: w, specs: specs}, nil
}

// WriteTensor writes the next declared tensor's bytes (little-endian elements).
func (w *Writer) WriteTensor(data []byte) error {
	if w.next >= len(w.specs) {
		return fmt.Errorf("write safetensors: more tensors than declared")
	}
	s := w.specs[w.next]
	if int64(len(data)) != s.bytes() {
		return fmt.Errorf("write safetensors: tensor %q has %d bytes, want %d", s.Name, len(data), s.bytes())
	}
	if _, err := w.w.Write(data); err != nil {
		return fmt.Errorf("write safetensors tensor %q: %w", s.Name, err)
	}
	w.next++
	return nil
}

// Close checks every declared tensor was written.
func (w *Writer) Close() error {
	if w.next != len(w.specs) {
		return fmt.Errorf("write safetensors: %d of %d tensors written", w.next, len(w.specs))
	}
	return nil
}
