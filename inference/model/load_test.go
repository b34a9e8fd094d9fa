package model

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/radixops/radix/inference/model/safetensors"
)

// copyModel copies a committed test model into a temp dir so a test can damage it.
func copyModel(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	os.MkdirAll(dir, 0o755)
	entries, _ := os.ReadDir(filepath.Join("testdata", name))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata", name, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
	}
	return dir
}

func editConfig(t *testing.T, dir string, edit func(map[string]any)) {
	t.Helper()
	raw, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	var c map[string]any
	json.Unmarshal(raw, &c)
	edit(c)
	raw, _ = json.Marshal(c)
	os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644)
}

func TestLoadRefusals(t *testing.T) {
	cases := map[string]struct {
		damage func(t *testing.T, dir string)
		want   string
	}{
		"other architecture": {func(t *testing.T, dir string) {
			editConfig(t, dir, func(c map[string]any) {
				c["architectures"] = []string{"MistralForCausalLM"}
				c["model_type"] = "mistral"
			})
		}, `unsupported architecture "MistralForCausalLM"`},
		"other rope scaling": {func(t *testing.T, dir string) {
			editConfig(t, dir, func(c map[string]any) { c["rope_scaling"] = map[string]any{"rope_type": "yarn", "factor": 4.0} })
		}, `rope scaling type "yarn"`},
		"attention bias": {func(t *testing.T, dir string) {
			editConfig(t, dir, func(c map[string]any) { c["attention_bias"] = true })
		}, "attention_bias"},
		"bad head split": {func(t *testing.T, dir string) {
			editConfig(t, dir, func(c map[string]any) { c["num_key_value_heads"] = 3 })
		}, "not a multiple"},
		"wrong shape": {func(t *testing.T, dir string) {
			editConfig(t, dir, func(c map[string]any) { c["intermediate_size"] = 64 })
		}, "want [64][64]"},
		"garbage config": {func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte("{nope"), 0o644)
		}, "config.json"},
		"truncated weights": {func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model.safetensors")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o644)
		}, "model.safetensors"},
		"missing tensor": {func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model.safetensors")
			set, err := safetensors.OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var specs []safetensors.Spec
			var data [][]byte
			for _, n := range set.Names() {
				if n == "model.layers.1.mlp.up_proj.weight" {
					continue
				}
				ten := set.Tensor(n)
				specs = append(specs, safetensors.Spec{Name: n, DType: ten.DType, Shape: ten.Shape})
				data = append(data, append([]byte(nil), ten.Data...))
			}
			set.Close()
			f, _ := os.Create(p)
			w, _ := safetensors.NewWriter(f, specs, nil)
			for _, d := range data {
				w.WriteTensor(d)
			}
			f.Close()
		}, "missing tensor blk.1.ffn_up.weight"},
	}
	for name, c := range cases {
		dir := copyModel(t, "llama3-tiny")
		c.damage(t, dir)
		_, err := Load(dir, LoadOptions{DType: "f32"})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, c.want)
		}
	}
	if _, err := Load(filepath.Join("testdata", "llama3-tiny"), LoadOptions{DType: "f8"}); err == nil {
		t.Error("unknown compute type accepted")
	}
	// llama2-tiny-tied has ffn 160: whole blocks, so q8_0 works; an odd width refuses q8_0 by name.
	if _, err := Load(filepath.Join("testdata", "llama2-tiny-tied"), LoadOptions{DType: "q8_0"}); err != nil {
		t.Errorf("q8_0 refused: %v", err)
	}
}

// Every truncation of a GGUF model is refused with an error, never a panic.
func TestGGUFTruncatedModel(t *testing.T) {
	dir := writeTemp(t, ArchQwen3, "tiny", true, "bf16")
	b, err := os.ReadFile(filepath.Join(dir, "model.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cut.gguf")
	for _, n := range []int{0, 3, 24, 100, 1000, len(b) / 3, len(b) - 1} {
		os.WriteFile(p, b[:n], 0o644)
		if _, err := Load(p, LoadOptions{}); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("cut to %d bytes: %v", n, err)
		}
	}
	// A GGUF of another architecture is refused naming it.
	os.WriteFile(p, []byte(strings.Replace(string(b), "qwen3", "gemma", 1)), 0o644)
	if _, err := Load(p, LoadOptions{}); err == nil || !strings.Contains(err.Error(), `"gemma"`) {
		t.Errorf("gemma: %v", err)
	}
}

func TestConfigParsing(t *testing.T) {
	// Transformers 5 spells RoPE settings rope_parameters; a list of eos ids takes the first.
	c, err := ParseHFConfig([]byte(`{"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":128,
		"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":512,"rms_norm_eps":1e-5,
		"rope_parameters":{"rope_type":"llama3","rope_theta":500000,"factor":8,"low_freq_factor":1,"high_freq_factor":4,
		"original_max_position_embeddings":8192},"eos_token_id":[7,9],"tie_word_embeddings":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.RopeTheta != 500000 || c.RopeScaling == nil || c.RopeScaling.OriginalMaxPos != 8192 || c.EOS != 7 || !c.Tied || c.HeadDim != 16 {
		t.Fatalf("%+v %+v", c, c.RopeScaling)
	}
	// Llama 3 scaling leaves high frequencies, divides low ones by the factor, blends between.
	f := c.invFreq()
	plain := c
	plain.RopeScaling = nil
	p := plain.invFreq()
	if f[0] != p[0] || f[len(f)-1] != p[len(p)-1]/8 {
		t.Fatalf("scaled %v plain %v", f, p)
	}
}

// A sharded checkpoint (model.safetensors.index.json) loads and computes exactly like the single file.
func TestShardedCheckpoint(t *testing.T) {
	src := filepath.Join("testdata", "llama3-tiny")
	dir := copyModel(t, "llama3-tiny")
	os.Remove(filepath.Join(dir, "model.safetensors"))
	set, err := safetensors.OpenDir(src)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	weightMap := map[string]string{}
	names := set.Names()
	for shard, part := range [][]string{names[:len(names)/2], names[len(names)/2:]} {
		file := []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[shard]
		var specs []safetensors.Spec
		for _, n := range part {
			ten := set.Tensor(n)
			specs = append(specs, safetensors.Spec{Name: n, DType: ten.DType, Shape: ten.Shape})
			weightMap[n] = file
		}
		f, _ := os.Create(filepath.Join(dir, file))
		w, err := safetensors.NewWriter(f, specs, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range part {
			if err := w.WriteTensor(set.Tensor(n).Data); err != nil {
				t.Fatal(err)
			}
		}
		f.Close()
	}
	idx, _ := json.Marshal(map[string]any{"metadata": map[string]any{}, "weight_map": weightMap})
	os.WriteFile(filepath.Join(dir, safetensors.IndexFile), idx, 0o644)
	a, b := mustLoad(t, src, "f32"), mustLoad(t, dir, "f32")
	prompt := []int32{507, 3, 99, 250, 12}
	p1, _ := a.NewKVPool(16, 16)
	p2, _ := b.NewKVPool(16, 16)
	la := runChunks(t, a, p1, prompt, contiguous(5), []int{5})
	lb := runChunks(t, b, p2, prompt, contiguous(5), []int{5})
	if d, _ := maxAbsDiff(la, lb); d != 0 {
		t.Fatalf("sharded logits differ by %g", d)
	}
}
