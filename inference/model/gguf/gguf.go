package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"sort"
	"syscall"
)

// Magic is "GGUF" read as a little-endian uint32.
const Magic = 0x46554747

// DefaultAlignment is the data alignment when general.alignment is absent.
const DefaultAlignment = 32

// ValueType is a metadata value's type tag.
type ValueType uint32

// The GGUF metadata value types.
const (
	TypeUint8 ValueType = iota
	TypeInt8
	TypeUint16
	TypeInt16
	TypeUint32
	TypeInt32
	TypeFloat32
	TypeBool
	TypeString
	TypeArray
	TypeUint64
	TypeInt64
	TypeFloat64
)

// fixedSize is the encoded size of scalar types (strings and arrays vary).
func (t ValueType) fixedSize() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// GGMLType is a tensor's element type.
type GGMLType uint32

// The tensor types with known block layouts (radix computes with F32, F16, BF16, Q8_0 and Q4_0; the
// others are recognised so their files can be parsed and refused by name).
const (
	F32  GGMLType = 0
	F16  GGMLType = 1
	Q4_0 GGMLType = 2
	Q4_1 GGMLType = 3
	Q5_0 GGMLType = 6
	Q5_1 GGMLType = 7
	Q8_0 GGMLType = 8
	Q8_1 GGMLType = 9
	Q2_K GGMLType = 10
	Q3_K GGMLType = 11
	Q4_K GGMLType = 12
	Q5_K GGMLType = 13
	Q6_K GGMLType = 14
	Q8_K GGMLType = 15
	I8   GGMLType = 24
	I16  GGMLType = 25
	I32  GGMLType = 26
	I64  GGMLType = 27
	F64  GGMLType = 28
	BF16 GGMLType = 30
)

type typeInfo struct {
	name        string
	block, size int // elements per block, bytes per block
}

var typeInfos = map[GGMLType]typeInfo{
	F32: {"F32", 1, 4}, F16: {"F16", 1, 2}, BF16: {"BF16", 1, 2},
	Q4_0: {"Q4_0", 32, 18}, Q4_1: {"Q4_1", 32, 20}, Q5_0: {"Q5_0", 32, 22}, Q5_1: {"Q5_1", 32, 24},
	Q8_0: {"Q8_0", 32, 34}, Q8_1: {"Q8_1", 32, 36},
	Q2_K: {"Q2_K", 256, 84}, Q3_K: {"Q3_K", 256, 110}, Q4_K: {"Q4_K", 256, 144}, Q5_K: {"Q5_K", 256, 176},
	Q6_K: {"Q6_K", 256, 210}, Q8_K: {"Q8_K", 256, 292},
	I8: {"I8", 1, 1}, I16: {"I16", 1, 2}, I32: {"I32", 1, 4}, I64: {"I64", 1, 8}, F64: {"F64", 1, 8},
}

func (t GGMLType) String() string {
	if ti, ok := typeInfos[t]; ok {
		return ti.name
	}
	return fmt.Sprintf("type%d", uint32(t))
}

// BlockSize is the number of elements per block and the bytes per block (0, 0 if unknown).
func (t GGMLType) BlockSize() (elems, bytes int) {
	ti := typeInfos[t]
	return ti.block, ti.size
}

// MaxDims is the largest tensor rank GGUF (ggml) allows.
const MaxDims = 4

// Tensor is one tensor: Dims[0] is the innermost (contiguous) dimension, as in ggml, so a row-major
// matrix [rows][cols] has Dims {cols, rows}. Data is a slice of the mapping.
type Tensor struct {
	Name   string
	Type   GGMLType
	Dims   []uint64
	Offset uint64 // relative to the data section
	Data   []byte
}

// Elems is the number of elements.
func (t *Tensor) Elems() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// KV is one metadata key/value pair; Value holds a Go value of the matching type: uint8, int8, uint16,
// int16, uint32, int32, float32, bool, string, uint64, int64, float64, or for arrays a typed slice of
// those ([]string, []float32, []int32, ...) or []any for arrays of arrays.
type KV struct {
	Key   string
	Type  ValueType
	Value any
}

// File is a parsed GGUF file.
type File struct {
	Path      string
	Version   uint32
	KVs       []KV
	Tensors   []*Tensor
	Alignment uint64
	DataStart uint64
	kv        map[string]*KV
	byName    map[string]*Tensor
	mapping   []byte
}

// Open memory-maps and parses a GGUF file.
func Open(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open gguf: %w", err)
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Size() < 24 {
		return nil, fmt.Errorf("gguf %s: file is %d bytes, too short for a GGUF header", path, st.Size())
	}
	if st.Size() > math.MaxInt {
		return nil, fmt.Errorf("gguf %s: file too large to map", path)
	}
	m, err := syscall.Mmap(int(fd.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	f, err := Parse(m)
	if err != nil {
		syscall.Munmap(m)
		return nil, fmt.Errorf("gguf %s: %w", path, err)
	}
	f.Path = path
	f.mapping = m
	return f, nil
}

// Close unmaps the file; tensor Data must not be used afterwards.
func (f *File) Close() error {
	if f.mapping == nil {
		return nil
	}
	err := syscall.Munmap(f.mapping)
	f.mapping = nil
	return err
}

// reader is a bounds-checked cursor over the file bytes.
type reader struct {
	b   []byte
	off uint64
	err error
}

func (r *reader) remaining() uint64 { return uint64(len(r.b)) - r.off }

func (r *reader) take(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > r.remaining() {
		r.err = fmt.Errorf("truncated at byte %d reading %s (%d bytes needed, %d left)", r.off, what, n, r.remaining())
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8(what string) uint8 {
	if b := r.take(1, what); b != nil {
		return b[0]
	}
	return 0
}
func (r *reader) u16(what string) uint16 {
	if b := r.take(2, what); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}
func (r *reader) u32(what string) uint32 {
	if b := r.take(4, what); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}
func (r *reader) u64(what string) uint64 {
	if b := r.take(8, what); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *reader) str(what string) string {
	n := r.u64(what + " length")
	return string(r.take(n, what))
}

// count reads an element count and checks that count elements of at least minSize bytes each could fit
// in what remains, so a hostile count can never drive a large allocation.
func (r *reader) count(what string, minSize uint64) uint64 {
	n := r.u64(what)
	if r.err == nil && minSize > 0 && n > r.remaining()/minSize {
		r.err = fmt.Errorf("%s %d cannot fit in the %d bytes left in the file", what, n, r.remaining())
		return 0
	}
	return n
}

const maxArrayDepth = 4

func (r *reader) value(t ValueType, what string, depth int) any {
	if r.err != nil {
		return nil
	}
	switch t {
	case TypeUint8:
		return r.u8(what)
	case TypeInt8:
		return int8(r.u8(what))
	case TypeBool:
		return r.u8(what) != 0
	case TypeUint16:
		return r.u16(what)
	case TypeInt16:
		return int16(r.u16(what))
	case TypeUint32:
		return r.u32(what)
	case TypeInt32:
		return int32(r.u32(what))
	case TypeFloat32:
		return math.Float32frombits(r.u32(what))
	case TypeUint64:
		return r.u64(what)
	case TypeInt64:
		return int64(r.u64(what))
	case TypeFloat64:
		return math.Float64frombits(r.u64(what))
	case TypeString:
		return r.str(what)
	case TypeArray:
		if depth >= maxArrayDepth {
			r.err = fmt.Errorf("%s: arrays nested deeper than %d", what, maxArrayDepth)
			return nil
		}
		et := ValueType(r.u32(what + " element type"))
		min := uint64(et.fixedSize())
		if et == TypeString || et == TypeArray {
			min = 8 // a length or a type+count prefix at least
		}
		if min == 0 && r.err == nil {
			r.err = fmt.Errorf("%s: unknown array element type %d", what, et)
			return nil
		}
		n := r.count(what+" array length", min)
		if r.err != nil {
			return nil
		}
		return r.array(et, n, what, depth)
	}
	r.err = fmt.Errorf("%s: unknown value type %d", what, t)
	return nil
}

func (r *reader) array(et ValueType, n uint64, what string, depth int) any {
	switch et {
	case TypeString:
		out := make([]string, n)
		for i := range out {
			out[i] = r.str(what)
		}
		return out
	case TypeFloat32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(r.u32(what))
		}
		return out
	case TypeInt32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(r.u32(what))
		}
		return out
	case TypeUint32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = r.u32(what)
		}
		return out
	case TypeUint8:
		return append([]uint8(nil), r.take(n, what)...)
	case TypeInt8:
		out := make([]int8, n)
		for i, b := range r.take(n, what) {
			out[i] = int8(b)
		}
		return out
	case TypeBool:
		out := make([]bool, n)
		for i, b := range r.take(n, what) {
			out[i] = b != 0
		}
		return out
	case TypeUint64:
		out := make([]uint64, n)
		for i := range out {
			out[i] = r.u64(what)
		}
		return out
	case TypeInt64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(r.u64(what))
		}
		return out
	case TypeFloat64:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(r.u64(what))
		}
		return out
	}
	// Remaining element kinds (16-bit ints, nested arrays) go through the generic path.
	out := make([]any, 0, min(n, 1024))
	for i := uint64(0); i < n && r.err == nil; i++ {
		out = append(out, r.value(et, what, depth+1))
	}
	return out
}

// Parse parses a whole GGUF file held in b (normally a mapping); tensor Data slice into b.
func Parse(b []byte) (*File, error) {
	r := &reader{b: b}
	if r.u32("magic") != Magic {
		if r.err != nil {
			return nil, r.err
		}
		return nil, fmt.Errorf("not a GGUF file (bad magic)")
	}
	f := &File{Version: r.u32("version"), Alignment: DefaultAlignment, kv: map[string]*KV{}, byName: map[string]*Tensor{}}
	if r.err == nil && f.Version != 2 && f.Version != 3 {
		return nil, fmt.Errorf("GGUF version %d not supported (want 2 or 3)", f.Version)
	}
	// Minimal encoded sizes: a tensor info is a name length, n_dims, type and offset (8+4+4+8); a KV is a
	// key length, a type and a 1-byte value.
	nTensors := r.count("tensor count", 24)
	nKV := r.count("metadata count", 13)
	if r.err != nil {
		return nil, r.err
	}
	f.KVs = make([]KV, 0, nKV)
	for i := uint64(0); i < nKV; i++ {
		key := r.str(fmt.Sprintf("metadata key %d", i))
		t := ValueType(r.u32("value type of " + key))
		v := r.value(t, key, 0)
		if r.err != nil {
			return nil, r.err
		}
		if _, dup := f.kv[key]; dup {
			return nil, fmt.Errorf("metadata key %q appears twice", key)
		}
		f.KVs = append(f.KVs, KV{Key: key, Type: t, Value: v})
		f.kv[key] = &f.KVs[len(f.KVs)-1]
	}
	if kv, ok := f.kv["general.alignment"]; ok {
		a, ok := asUint(kv.Value)
		if !ok || a == 0 || a&(a-1) != 0 || a > 1<<20 {
			return nil, fmt.Errorf("general.alignment %v is not a power of two up to 1 MiB", kv.Value)
		}
		f.Alignment = a
	}
	f.Tensors = make([]*Tensor, 0, nTensors)
	for i := uint64(0); i < nTensors; i++ {
		t := &Tensor{Name: r.str(fmt.Sprintf("tensor %d name", i))}
		nd := r.u32("dimension count of " + t.Name)
		if r.err != nil {
			return nil, r.err
		}
		if nd == 0 || nd > MaxDims {
			return nil, fmt.Errorf("tensor %q: %d dimensions (want 1..%d)", t.Name, nd, MaxDims)
		}
		t.Dims = make([]uint64, nd)
		for d := range t.Dims {
			t.Dims[d] = r.u64("dimension of " + t.Name)
		}
		t.Type = GGMLType(r.u32("type of " + t.Name))
		t.Offset = r.u64("offset of " + t.Name)
		if r.err != nil {
			return nil, r.err
		}
		if _, dup := f.byName[t.Name]; dup {
			return nil, fmt.Errorf("tensor %q appears twice", t.Name)
		}
		f.Tensors = append(f.Tensors, t)
		f.byName[t.Name] = t
	}
	f.DataStart = (r.off + f.Alignment - 1) / f.Alignment * f.Alignment
	if f.DataStart > uint64(len(b)) {
		if nTensors == 0 {
			f.DataStart = uint64(len(b))
		} else {
			return nil, fmt.Errorf("truncated: data section would start at byte %d of %d", f.DataStart, len(b))
		}
	}
	dataLen := uint64(len(b)) - f.DataStart
	type span struct {
		b, e uint64
		name string
	}
	spans := make([]span, 0, len(f.Tensors))
	for _, t := range f.Tensors {
		size, err := tensorBytes(t)
		if err != nil {
			return nil, err
		}
		if t.Offset%f.Alignment != 0 {
			return nil, fmt.Errorf("tensor %q: offset %d not aligned to %d", t.Name, t.Offset, f.Alignment)
		}
		if t.Offset > dataLen || size > dataLen-t.Offset {
			return nil, fmt.Errorf("tensor %q: %d bytes at offset %d run past the %d-byte data section (truncated?)", t.Name, size, t.Offset, dataLen)
		}
		s := f.DataStart + t.Offset
		t.Data = b[s : s+size : s+size]
		if size > 0 {
			spans = append(spans, span{t.Offset, t.Offset + size, t.Name})
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].b < spans[j].b })
	for i := 1; i < len(spans); i++ {
		if spans[i].b < spans[i-1].e {
			return nil, fmt.Errorf("tensors %q and %q overlap", spans[i-1].name, spans[i].name)
		}
	}
	return f, nil
}

// tensorBytes is the byte size of a tensor, checking the type is known, the innermost dimension is a
// whole number of blocks and nothing overflows.
func tensorBytes(t *Tensor) (uint64, error) {
	ti, ok := typeInfos[t.Type]
	if !ok {
		return 0, fmt.Errorf("tensor %q: unknown ggml type %d", t.Name, uint32(t.Type))
	}
	if t.Dims[0]%uint64(ti.block) != 0 {
		return 0, fmt.Errorf("tensor %q: innermost dimension %d is not a multiple of the %s block of %d", t.Name, t.Dims[0], ti.name, ti.block)
	}
	n := uint64(1)
	for _, d := range t.Dims {
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("tensor %q: dimensions %v overflow", t.Name, t.Dims)
		}
		n *= d
	}
	blocks := n / uint64(ti.block)
	if blocks > math.MaxInt64/uint64(ti.size) {
		return 0, fmt.Errorf("tensor %q: dimensions %v overflow", t.Name, t.Dims)
	}
	return blocks * uint64(ti.size), nil
}

func asUint(v any) (uint64, bool) {
	switch x := v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8:
		return uint64(x), x >= 0
	case int16:
		return uint64(x), x >= 0
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}

// Has reports whether key is present.
func (f *File) Has(key string) bool { _, ok := f.kv[key]; return ok }

// Value returns the raw value of key.
func (f *File) Value(key string) (any, bool) {
	kv, ok := f.kv[key]
	if !ok {
		return nil, false
	}
	return kv.Value, true
}

// String returns a string value.
func (f *File) String(key string) (string, bool) {
	v, _ := f.Value(key)
	s, ok := v.(string)
	return s, ok
}

// Uint returns a non-negative integer value of any integer type.
func (f *File) Uint(key string) (uint64, bool) {
	v, ok := f.Value(key)
	if !ok {
		return 0, false
	}
	return asUint(v)
}

// Float returns a numeric value as float64.
func (f *File) Float(key string) (float64, bool) {
	v, ok := f.Value(key)
	if !ok {
		return 0, false
	}
	switch x := v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	if u, ok := asUint(v); ok {
		return float64(u), true
	}
	return 0, false
}

// Bool returns a bool value.
func (f *File) Bool(key string) (bool, bool) {
	v, _ := f.Value(key)
	b, ok := v.(bool)
	return b, ok
}

// Strings returns a string array value.
func (f *File) Strings(key string) ([]string, bool) {
	v, _ := f.Value(key)
	s, ok := v.([]string)
	return s, ok
}

// Float32s returns a float32 array value.
func (f *File) Float32s(key string) ([]float32, bool) {
	v, _ := f.Value(key)
	s, ok := v.([]float32)
	return s, ok
}

// Int32s returns an integer array value converted to int32 (token types are int32 in practice, but
// some writers use other integer widths).
func (f *File) Int32s(key string) ([]int32, bool) {
	v, _ := f.Value(key)
	switch x := v.(type) {
	case []int32:
		return x, true
	case []uint32:
		out := make([]int32, len(x))
		for i, u := range x {
			out[i] = int32(u)
		}
		return out, true
	case []uint8:
		out := make([]int32, len(x))
		for i, u := range x {
			out[i] = int32(u)
		}
		return out, true
	}
	return nil, false
}

// Tensor returns the named tensor, or nil.
func (f *File) Tensor(name string) *Tensor { return f.byName[name] }
