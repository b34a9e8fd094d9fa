package demo

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestExtractIsCompleteAndIdempotent(t *testing.T) {
	dir := t.TempDir()
	a, err := Extract(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} {
		if st, err := os.Stat(filepath.Join(a, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s missing or empty: %v", f, err)
		}
	}
	b, err := Extract(dir)
	if err != nil || a != b {
		t.Fatalf("second extract: %s %v (first %s)", b, err, a)
	}
	var cfg struct {
		Architectures []string `json:"architectures"`
		VocabSize     int      `json:"vocab_size"`
	}
	raw, _ := os.ReadFile(filepath.Join(a, "config.json"))
	if err := json.Unmarshal(raw, &cfg); err != nil || cfg.Architectures[0] != "LlamaForCausalLM" || cfg.VocabSize > 4096 {
		t.Fatalf("config: %+v %v", cfg, err)
	}
	var tc struct {
		ChatTemplate string `json:"chat_template"`
	}
	raw, _ = os.ReadFile(filepath.Join(a, "tokenizer_config.json"))
	if err := json.Unmarshal(raw, &tc); err != nil || tc.ChatTemplate == "" {
		t.Fatalf("tokenizer_config has no chat template: %v", err)
	}
	// The committed model stays within the budget of 10 MB on disk.
	st, _ := os.Stat(filepath.Join(a, "model.safetensors"))
	if st.Size() > 10<<20 {
		t.Fatalf("model.safetensors is %d bytes", st.Size())
	}
}
