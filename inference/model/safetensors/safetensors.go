package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"syscall"
)

// DType is a safetensors element type name as written in the header ("F32", "BF16", ...).
type DType string

// The element types radix reads. Others are reported by name when a tensor of that type is used.
const (
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
)

// Size is the element size in bytes, 0 when radix does not know the type.
func (d DType) Size() int {
	switch d {
	case F32, "I32", "U32":
		return 4
	case F16, BF16, "I16", "U16":
		return 2
	case "F64", "I64", "U64":
		return 8
	case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2":
		return 1
	}
	return 0
}

// MaxHeaderSize bounds the JSON header; real headers are a few hundred kilobytes at most.
const MaxHeaderSize = 100 << 20

// maxDims bounds a tensor's rank; no weight has more than a handful of dimensions.
const maxDims = 8

// Tensor is one named tensor; Data is a slice of the file's mapping (read-only: writing faults).
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// Elems is the number of elements (product of the shape; 1 for a scalar).
func (t *Tensor) Elems() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is one open safetensors file.
type File struct {
	Path     string
	Metadata map[string]string
	tensors  map[string]*Tensor
	names    []string
	mapping  []byte
}

// headerEntry is one tensor's header record.
type headerEntry struct {
	DType       DType   `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// Header is a parsed and validated safetensors header: tensors with offsets relative to the data
// section, which starts at DataStart.
type Header struct {
	Metadata  map[string]string
	Tensors   map[string]HeaderTensor
	DataStart int64
}

// HeaderTensor is one validated header entry; Begin/End are offsets into the data section.
type HeaderTensor struct {
	DType      DType
	Shape      []int
	Begin, End int64
}

// ParseHeader parses and validates the header of a safetensors file whose first bytes are prefix
// (at least the 8-byte length and the JSON header) and whose total size is fileSize. Every tensor's
// byte range must lie inside the data section and match its shape and element type. It never reads
// beyond prefix and never allocates more than the header's length.
func ParseHeader(prefix []byte, fileSize int64) (*Header, error) {
	if fileSize < 8 || len(prefix) < 8 {
		return nil, fmt.Errorf("file is %d bytes, shorter than the 8-byte header length", fileSize)
	}
	n := binary.LittleEndian.Uint64(prefix[:8])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if int64(n) > fileSize-8 {
		return nil, fmt.Errorf("header length %d runs past the end of the %d-byte file (truncated?)", n, fileSize)
	}
	if uint64(len(prefix)-8) < n {
		return nil, fmt.Errorf("header length %d but only %d header bytes available", n, len(prefix)-8)
	}
	raw := prefix[8 : 8+n]
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("header is not a JSON object: %w", err)
	}
	h := &Header{Tensors: make(map[string]HeaderTensor, len(entries)), DataStart: 8 + int64(n)}
	dataLen := fileSize - h.DataStart
	type span struct {
		b, e int64
		name string
	}
	var spans []span
	for name, msg := range entries {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &h.Metadata); err != nil {
				return nil, fmt.Errorf("__metadata__ is not a string map: %w", err)
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("tensor %q: bad header entry: %w", name, err)
		}
		es := e.DType.Size()
		if es == 0 {
			return nil, fmt.Errorf("tensor %q: unknown dtype %q", name, e.DType)
		}
		if len(e.Shape) > maxDims {
			return nil, fmt.Errorf("tensor %q: rank %d exceeds %d", name, len(e.Shape), maxDims)
		}
		if len(e.DataOffsets) != 2 {
			return nil, fmt.Errorf("tensor %q: data_offsets has %d values, want 2", name, len(e.DataOffsets))
		}
		elems := int64(1)
		shape := make([]int, len(e.Shape))
		for i, d := range e.Shape {
			if d < 0 {
				return nil, fmt.Errorf("tensor %q: negative dimension %d", name, d)
			}
			if d > 0 && elems > math.MaxInt64/int64(es)/d {
				return nil, fmt.Errorf("tensor %q: shape %v overflows", name, e.Shape)
			}
			elems *= d
			shape[i] = int(d)
		}
		b, end := e.DataOffsets[0], e.DataOffsets[1]
		if b < 0 || end < b || end > dataLen {
			return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] outside the %d-byte data section", name, b, end, dataLen)
		}
		if end-b != elems*int64(es) {
			return nil, fmt.Errorf("tensor %q: %d bytes for shape %v of %s, want %d", name, end-b, e.Shape, e.DType, elems*int64(es))
		}
		h.Tensors[name] = HeaderTensor{DType: e.DType, Shape: shape, Begin: b, End: end}
		if end > b {
			spans = append(spans, span{b, end, name})
		}
	}
	// Overlapping tensors would alias weights; the format forbids them.
	sort.Slice(spans, func(i, j int) bool { return spans[i].b < spans[j].b })
	for i := 1; i < len(spans); i++ {
		if spans[i].b < spans[i-1].e {
			return nil, fmt.Errorf("tensors %q and %q overlap", spans[i-1].name, spans[i].name)
		}
	}
	return h, nil
}

// Open memory-maps a safetensors file and validates its header.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	size := st.Size()
	if size < 8 {
		return nil, fmt.Errorf("safetensors %s: file is %d bytes, shorter than the 8-byte header length", path, size)
	}
	if size > math.MaxInt {
		return nil, fmt.Errorf("safetensors %s: file too large to map", path)
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	h, err := ParseHeader(m, size)
	if err != nil {
		syscall.Munmap(m)
		return nil, fmt.Errorf("safetensors %s: %w", path, err)
	}
	sf := &File{Path: path, Metadata: h.Metadata, tensors: make(map[string]*Tensor, len(h.Tensors)), mapping: m}
	for name, t := range h.Tensors {
		b, e := h.DataStart+t.Begin, h.DataStart+t.End
		sf.tensors[name] = &Tensor{Name: name, DType: t.DType, Shape: t.Shape, Data: m[b:e:e]}
		sf.names = append(sf.names, name)
	}
	sort.Strings(sf.names)
	return sf, nil
}

// Names lists the tensor names in sorted order.
func (f *File) Names() []string { return f.names }

// Tensor returns the named tensor, or nil.
func (f *File) Tensor(name string) *Tensor { return f.tensors[name] }

// Close unmaps the file; tensors' Data must not be used afterwards.
func (f *File) Close() error {
	if f.mapping == nil {
		return nil
	}
	err := syscall.Munmap(f.mapping)
	f.mapping = nil
	return err
}

// ErrNotFound is returned by Set.Tensor for a name no file holds.
var ErrNotFound = errors.New("tensor not found")
