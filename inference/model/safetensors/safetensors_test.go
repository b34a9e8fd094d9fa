package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path string, specs []Spec, data [][]byte) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, specs, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range data {
		if err := w.WriteTensor(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func f32bytes(v ...float32) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, v)
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	writeFile(t, path, []Spec{
		{"a", F32, []int{2, 3}},
		{"b", BF16, []int{4}},
		{"s", F32, nil},
	}, [][]byte{f32bytes(1, 2, 3, 4, 5, 6), {1, 2, 3, 4, 5, 6, 7, 8}, f32bytes(9)})
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Names(); strings.Join(got, ",") != "a,b,s" {
		t.Fatalf("names %v", got)
	}
	a := s.Tensor("a")
	if a.DType != F32 || a.Elems() != 6 || !bytes.Equal(a.Data, f32bytes(1, 2, 3, 4, 5, 6)) {
		t.Fatalf("a = %+v", a)
	}
	if b := s.Tensor("b"); b.DType != BF16 || len(b.Data) != 8 || b.Data[7] != 8 {
		t.Fatalf("b = %+v", b)
	}
	if sc := s.Tensor("s"); sc.Elems() != 1 || len(sc.Shape) != 0 {
		t.Fatalf("scalar = %+v", sc)
	}
	if s.Files()[0].Metadata["format"] != "pt" {
		t.Fatalf("metadata %v", s.Files()[0].Metadata)
	}
}

func TestSharded(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "model-00001-of-00002.safetensors"), []Spec{{"x", F32, []int{1}}}, [][]byte{f32bytes(1)})
	writeFile(t, filepath.Join(dir, "model-00002-of-00002.safetensors"), []Spec{{"y", F32, []int{1}}}, [][]byte{f32bytes(2)})
	idx := map[string]any{"weight_map": map[string]string{"x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}}
	js, _ := json.Marshal(idx)
	os.WriteFile(filepath.Join(dir, IndexFile), js, 0o644)
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !bytes.Equal(s.Tensor("y").Data, f32bytes(2)) || !bytes.Equal(s.Tensor("x").Data, f32bytes(1)) {
		t.Fatal("wrong shard data")
	}
	// An index pointing a tensor at a shard that lacks it, or outside the directory, is refused.
	for _, wm := range []map[string]string{
		{"x": "model-00002-of-00002.safetensors"},
		{"x": "../model-00001-of-00002.safetensors"},
		{"x": "missing.safetensors"},
	} {
		js, _ := json.Marshal(map[string]any{"weight_map": wm})
		os.WriteFile(filepath.Join(dir, IndexFile), js, 0o644)
		if _, err := OpenDir(dir); err == nil {
			t.Errorf("index %v accepted", wm)
		}
	}
}

// header builds a raw file from a header JSON string and n data bytes.
func header(js string, n int) []byte {
	b := make([]byte, 8, 8+len(js)+n)
	binary.LittleEndian.PutUint64(b, uint64(len(js)))
	b = append(b, js...)
	return append(b, make([]byte, n)...)
}

func TestCorrupt(t *testing.T) {
	good := header(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}`, 16)
	cases := map[string]struct {
		file []byte
		want string
	}{
		"empty":            {nil, "shorter than the 8-byte"},
		"short length":     {[]byte{1, 2, 3}, "shorter than the 8-byte"},
		"truncated data":   {good[:len(good)-1], "outside"},
		"truncated header": {good[:20], "past the end"},
		"huge header":      {append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, good[8:]...), "exceeds"},
		"not json":         {header(`{"w":`, 0), "not a JSON object"},
		"json array":       {header(`[1,2]`, 0), "not a JSON object"},
		"bad dtype":        {header(`{"w":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}}`, 4), "unknown dtype"},
		"size mismatch":    {header(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}`, 16), "want 16"},
		"negative dim":     {header(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), "negative"},
		"overflow shape":   {header(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, 4), "overflows"},
		"begin after end":  {header(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}`, 8), "outside"},
		"negative offset":  {header(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, 8), "outside"},
		"one offset":       {header(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, 8), "2"},
		"overlap":          {header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12), "overlap"},
		"bad metadata":     {header(`{"__metadata__":{"a":1}}`, 0), "__metadata__"},
		"deep rank":        {header(`{"w":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}}`, 4), "rank"},
	}
	dir := t.TempDir()
	for name, c := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".safetensors")
		os.WriteFile(path, c.file, 0o644)
		_, err := Open(path)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q should name the file and say %q", name, err, c.want)
		}
	}
	p := filepath.Join(dir, "good.safetensors")
	os.WriteFile(p, good, 0o644)
	f, err := Open(p)
	if err != nil {
		t.Fatalf("good file refused: %v", err)
	}
	f.Close()
}

func FuzzSafetensorsHeader(f *testing.F) {
	f.Add(header(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}`, 16))
	f.Add(header(`{"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[3],"data_offsets":[0,6]},"b":{"dtype":"F16","shape":[],"data_offsets":[6,8]}}`, 8))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b, int64(len(b)))
		if err != nil {
			return
		}
		dataLen := int64(len(b)) - h.DataStart
		for name, ten := range h.Tensors {
			if ten.Begin < 0 || ten.End > dataLen || ten.Begin > ten.End {
				t.Fatalf("tensor %q range [%d,%d] escapes %d bytes", name, ten.Begin, ten.End, dataLen)
			}
			_ = b[h.DataStart+ten.Begin : h.DataStart+ten.End]
		}
	})
}
