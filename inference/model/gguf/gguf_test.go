package gguf

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sample(t testing.TB) []byte {
	var buf bytes.Buffer
	kvs := []KV{
		{"general.architecture", TypeString, "llama"},
		{"llama.block_count", TypeUint32, uint32(2)},
		{"llama.rope.freq_base", TypeFloat32, float32(10000)},
		{"tokenizer.ggml.tokens", TypeArray, []string{"<unk>", "a", "b"}},
		{"tokenizer.ggml.scores", TypeArray, []float32{0, -1, -2}},
		{"tokenizer.ggml.token_type", TypeArray, []int32{2, 1, 1}},
		{"tokenizer.ggml.add_bos_token", TypeBool, true},
		{"general.big", TypeUint64, uint64(1 << 40)},
	}
	specs := []TensorSpec{
		{"a", F32, []uint64{3}},
		{"q", Q8_0, []uint64{32, 2}},
		{"h", F16, []uint64{5}},
	}
	w, err := NewWriter(&buf, kvs, specs)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteTensor(make([]byte, 12))
	q := make([]byte, 68)
	q[67] = 7
	w.WriteTensor(q)
	if err := w.WriteTensor(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	os.WriteFile(path, sample(t), 0o644)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if s, _ := f.String("general.architecture"); s != "llama" {
		t.Errorf("arch %q", s)
	}
	if n, _ := f.Uint("llama.block_count"); n != 2 {
		t.Errorf("block_count %d", n)
	}
	if n, _ := f.Uint("general.big"); n != 1<<40 {
		t.Errorf("big %d", n)
	}
	if v, _ := f.Float("llama.rope.freq_base"); v != 10000 {
		t.Errorf("freq_base %v", v)
	}
	if toks, _ := f.Strings("tokenizer.ggml.tokens"); strings.Join(toks, ",") != "<unk>,a,b" {
		t.Errorf("tokens %v", toks)
	}
	if tt, _ := f.Int32s("tokenizer.ggml.token_type"); len(tt) != 3 || tt[0] != 2 {
		t.Errorf("token types %v", tt)
	}
	if b, ok := f.Bool("tokenizer.ggml.add_bos_token"); !b || !ok {
		t.Error("add_bos_token")
	}
	q := f.Tensor("q")
	if q == nil || q.Type != Q8_0 || q.Elems() != 64 || len(q.Data) != 68 || q.Data[67] != 7 {
		t.Fatalf("q = %+v", q)
	}
	if q.Offset%32 != 0 || f.Tensor("h").Offset%32 != 0 {
		t.Error("tensor offsets not aligned")
	}
}

// Every truncation of a valid file is refused with an error, never a panic.
func TestTruncations(t *testing.T) {
	b := sample(t)
	for n := 0; n < len(b)-10; n++ {
		if _, err := Parse(b[:n]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: accepted", n, len(b))
		}
	}
}

func TestCorrupt(t *testing.T) {
	le := binary.LittleEndian
	head := func(version uint32, nt, nkv uint64) []byte {
		var b []byte
		b = le.AppendUint32(b, Magic)
		b = le.AppendUint32(b, version)
		b = le.AppendUint64(b, nt)
		return le.AppendUint64(b, nkv)
	}
	kvStr := func(b []byte, key string, t ValueType) []byte {
		b = appendString(b, key)
		return le.AppendUint32(b, uint32(t))
	}
	tensor := func(b []byte, name string, dims []uint64, typ GGMLType, off uint64) []byte {
		b = appendString(b, name)
		b = le.AppendUint32(b, uint32(len(dims)))
		for _, d := range dims {
			b = le.AppendUint64(b, d)
		}
		b = le.AppendUint32(b, uint32(typ))
		return le.AppendUint64(b, off)
	}
	pad := func(b []byte, n int) []byte { return append(b, make([]byte, n)...) }
	cases := map[string]struct {
		b    []byte
		want string
	}{
		"bad magic":         {[]byte("GGML000000000000000000000000"), "bad magic"},
		"version 1":         {head(1, 0, 0), "version 1"},
		"version 9":         {head(9, 0, 0), "version 9"},
		"huge tensor count": {head(3, 1<<60, 0), "tensor count"},
		"huge kv count":     {head(3, 0, 1<<60), "metadata count"},
		"huge string":       {pad(le.AppendUint64(head(3, 0, 1), 1<<62), 16), "truncated"},
		"huge array":        {le.AppendUint64(le.AppendUint32(kvStr(head(3, 0, 1), "k", TypeArray), uint32(TypeUint32)), 1<<61), "array length"},
		"bad value type":    {pad(kvStr(head(3, 0, 1), "k", 99), 8), "unknown value type"},
		"bad elem type":     {pad(le.AppendUint32(kvStr(head(3, 0, 1), "k", TypeArray), 77), 16), "unknown array element type"},
		"zero dims":         {pad(tensor(head(3, 1, 0), "t", nil, F32, 0), 64), "dimensions"},
		"five dims":         {pad(tensor(head(3, 1, 0), "t", []uint64{1, 1, 1, 1, 1}, F32, 0), 64), "dimensions"},
		"unknown type":      {pad(tensor(head(3, 1, 0), "t", []uint64{4}, 200, 0), 64), "unknown ggml type"},
		"partial block":     {pad(tensor(head(3, 1, 0), "t", []uint64{31}, Q8_0, 0), 64), "not a multiple"},
		"overflow dims":     {pad(tensor(head(3, 1, 0), "t", []uint64{1 << 40, 1 << 40}, F32, 0), 64), "overflow"},
		"past end":          {pad(tensor(head(3, 1, 0), "t", []uint64{1000}, F32, 0), 64), "run past"},
		"misaligned":        {pad(tensor(head(3, 1, 0), "t", []uint64{1}, F32, 4), 64), "not aligned"},
		"overlap":           {pad(tensor(tensor(head(3, 2, 0), "a", []uint64{16}, F32, 0), "b", []uint64{16}, F32, 32), 200), "overlap"},
		"duplicate tensor":  {pad(tensor(tensor(head(3, 2, 0), "a", []uint64{1}, F32, 0), "a", []uint64{1}, F32, 32), 200), "twice"},
		"bad alignment":     {pad(le.AppendUint32(kvStr(head(3, 0, 1), "general.alignment", TypeUint32), 3), 8), "alignment"},
		"deep arrays": {func() []byte {
			b := kvStr(head(3, 0, 1), "k", TypeArray)
			for i := 0; i < 6; i++ {
				b = le.AppendUint64(le.AppendUint32(b, uint32(TypeArray)), 1)
			}
			return pad(b, 64)
		}(), "nested"},
	}
	dir := t.TempDir()
	for name, c := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".gguf")
		os.WriteFile(path, c.b, 0o644)
		_, err := Open(path)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q should name the file and say %q", name, err, c.want)
		}
	}
}

func FuzzGGUFHeader(f *testing.F) {
	f.Add(sample(f))
	f.Add([]byte("GGUF"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			return
		}
		for _, ten := range file.Tensors {
			size, err := tensorBytes(ten)
			if err != nil || uint64(len(ten.Data)) != size {
				t.Fatalf("tensor %q: data %d bytes, size %d, %v", ten.Name, len(ten.Data), size, err)
			}
		}
	})
}
