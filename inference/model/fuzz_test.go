package model

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadGGUF feeds damaged GGUF models to Load: whatever the bytes, it returns a model or an error,
// never panics, and a model it returns runs a forward step.
func FuzzLoadGGUF(f *testing.F) {
	for _, seed := range []RandomOptions{
		{Arch: ArchQwen3, Shape: "micro", Seed: 1, GGUF: true, GGUFType: "q8_0"},
		{Arch: ArchLlama, Shape: "micro", Seed: 1, GGUF: true, GGUFType: "q4_0"},
	} {
		dir := filepath.Join(f.TempDir(), seed.Arch)
		if err := WriteRandom(dir, seed); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "model.gguf"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "m.gguf")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Load(p, LoadOptions{})
		if err != nil {
			return
		}
		defer m.Close()
		pool, err := m.NewKVPool(16, 16)
		if err != nil {
			return
		}
		logits := make([][]float32, 1)
		if err := m.Forward([]Seq{{Tokens: []int32{0, 1}, Slots: []int32{0, 1}}}, pool, logits); err != nil && m.Config().Vocab > 1 {
			t.Fatalf("forward on a loaded model: %v", err)
		}
	})
}
