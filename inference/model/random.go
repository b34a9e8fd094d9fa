package model

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/radixops/radix/inference/model/gguf"
	"github.com/radixops/radix/inference/model/kernels"
	"github.com/radixops/radix/inference/model/safetensors"
	"github.com/radixops/radix/inference/tokenizer"
)

// shapes are the named random-model shapes per architecture.
var shapes = map[string]map[string]Config{
	ArchLlama: {
		// Llama 3 style: GQA, untied head, llama3 RoPE scaling with a short original context so the
		// high-, mid- and low-frequency bands all occur at head dim 16.
		"tiny": {Layers: 2, Hidden: 64, Heads: 4, KVHeads: 2, HeadDim: 16, FFN: 128, Vocab: 512, ContextLen: 256,
			RopeTheta: 500000, NormEps: 1e-5, RopeScaling: &RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPos: 64}},
		// Llama 2 style: multi-head attention, tied embeddings, plain RoPE.
		"tiny-llama2": {Layers: 2, Hidden: 64, Heads: 4, KVHeads: 4, HeadDim: 16, FFN: 160, Vocab: 512, ContextLen: 256,
			RopeTheta: 10000, NormEps: 1e-6, Tied: true},
		// The smallest the synthetic tokenizer allows (256 bytes + 5 specials): seeds for fuzzing.
		"micro": {Layers: 1, Hidden: 32, Heads: 2, KVHeads: 1, HeadDim: 16, FFN: 32, Vocab: 261, ContextLen: 64,
			RopeTheta: 10000, NormEps: 1e-5},
		// A few million parameters: big enough that the matrices dominate a step, small enough for benchmarks
		// that write the model first.
		"small": {Layers: 4, Hidden: 512, Heads: 8, KVHeads: 4, HeadDim: 64, FFN: 1408, Vocab: 4096, ContextLen: 1024,
			RopeTheta: 500000, NormEps: 1e-5},
		"tinyllama-1.1b": {Layers: 22, Hidden: 2048, Heads: 32, KVHeads: 4, HeadDim: 64, FFN: 5632, Vocab: 32000, ContextLen: 2048,
			RopeTheta: 10000, NormEps: 1e-5},
	},
	ArchQwen3: {
		// Qwen3 style: q/k norms, head_dim*heads != hidden, tied embeddings.
		"tiny": {Layers: 2, Hidden: 64, Heads: 4, KVHeads: 2, HeadDim: 32, FFN: 96, Vocab: 512, ContextLen: 256,
			RopeTheta: 1000000, NormEps: 1e-6, Tied: true, QKNorm: true},
		"micro": {Layers: 1, Hidden: 32, Heads: 2, KVHeads: 1, HeadDim: 16, FFN: 32, Vocab: 261, ContextLen: 64,
			RopeTheta: 1000000, NormEps: 1e-6, Tied: true, QKNorm: true},
		"qwen3-0.6b": {Layers: 28, Hidden: 1024, Heads: 16, KVHeads: 8, HeadDim: 128, FFN: 3072, Vocab: 151936, ContextLen: 40960,
			RopeTheta: 1000000, NormEps: 1e-6, Tied: true, QKNorm: true},
	},
}

// Shapes lists the shape names of an architecture.
func Shapes(arch string) []string {
	var out []string
	for n := range shapes[arch] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// RandomOptions describe a seeded random model.
type RandomOptions struct {
	Arch  string // ArchLlama or ArchQwen3
	Shape string // see Shapes
	Seed  uint64
	DType string // "bf16" (default) or "f32": element type of the safetensors weights
	GGUF  bool   // also write model.gguf in the directory
	// GGUFType quantises the GGUF's weight matrices: "" keeps DType, "q8_0" or "q4_0" store ggml blocks
	// (norms stay as DType, as llama.cpp keeps them unquantised).
	GGUFType string
}

// ShapeConfig returns the Config of a named shape.
func ShapeConfig(arch, shape string) (Config, error) {
	byName, ok := shapes[arch]
	if !ok {
		return Config{}, fmt.Errorf("unknown architecture %q (llama, qwen3)", arch)
	}
	c, ok := byName[shape]
	if !ok {
		return Config{}, fmt.Errorf("unknown %s shape %q (%s)", arch, shape, strings.Join(Shapes(arch), ", "))
	}
	c.Arch = arch
	return c, nil
}

// randTensor is one tensor of a random model under its GGUF-style name.
type randTensor struct {
	name       string
	rows, cols int     // rows == 1 for vectors
	std, mean  float64 // normal(mean, std)
}

func (c Config) randTensors() []randTensor {
	H, q, kv := c.Hidden, c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	lin := func(name string, rows, cols int) randTensor {
		return randTensor{name, rows, cols, 1 / math.Sqrt(float64(cols)), 0}
	}
	norm := func(name string, n int) randTensor { return randTensor{name, 1, n, 0.1, 1} }
	ts := []randTensor{{"token_embd.weight", c.Vocab, H, 1, 0}}
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("blk.%d.", i)
		ts = append(ts, norm(p+"attn_norm.weight", H), lin(p+"attn_q.weight", q, H), lin(p+"attn_k.weight", kv, H),
			lin(p+"attn_v.weight", kv, H), lin(p+"attn_output.weight", H, q))
		if c.QKNorm {
			ts = append(ts, norm(p+"attn_q_norm.weight", c.HeadDim), norm(p+"attn_k_norm.weight", c.HeadDim))
		}
		ts = append(ts, norm(p+"ffn_norm.weight", H), lin(p+"ffn_gate.weight", c.FFN, H), lin(p+"ffn_up.weight", c.FFN, H),
			lin(p+"ffn_down.weight", H, c.FFN))
	}
	// Logits of standard deviation about 3: decisive enough that greedy decoding has no near-ties,
	// soft enough that every step's distribution is not one-hot. A tied head reuses the embedding, which
	// is then kept small so the layers, not the input token's own embedding, dominate the residual
	// stream (else the model only repeats its last token); the final norm makes up the scale.
	final := randTensor{"output_norm.weight", 1, H, 0.1, 1}
	if c.Tied {
		const embStd = 0.05
		ts[0].std = embStd
		final.mean, final.std = 0, 3/(embStd*math.Sqrt(float64(H)))
	}
	ts = append(ts, final)
	if !c.Tied {
		ts = append(ts, randTensor{"output.weight", c.Vocab, H, 3 / math.Sqrt(float64(H)), 0})
	}
	return ts
}

const randChunk = 1 << 16

// generate fills the tensor's values, deterministic in (seed, index) whatever the number of threads:
// each chunk of 64Ki values has its own generator.
func (t randTensor) generate(seed uint64, index int, dt safetensors.DType) []byte {
	n := t.rows * t.cols
	es := dt.Size()
	out := make([]byte, n*es)
	chunks := (n + randChunk - 1) / randChunk
	var wg sync.WaitGroup
	workers := min(kernels.Threads(), chunks)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for ch := w; ch < chunks; ch += workers {
				r := rand.New(rand.NewPCG(seed, uint64(index)<<32|uint64(ch)))
				for i := ch * randChunk; i < min(n, (ch+1)*randChunk); i++ {
					v := float32(t.mean + t.std*r.NormFloat64())
					if dt == safetensors.BF16 {
						binary.LittleEndian.PutUint16(out[2*i:], kernels.F32ToBF16(v))
					} else {
						binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
					}
				}
			}
		}(w)
	}
	wg.Wait()
	return out
}

// hfConfigJSON renders a config.json transformers can load.
func (c Config) hfConfigJSON(dtype string) ([]byte, error) {
	doc := map[string]any{
		"hidden_size": c.Hidden, "intermediate_size": c.FFN, "num_hidden_layers": c.Layers,
		"num_attention_heads": c.Heads, "num_key_value_heads": c.KVHeads, "head_dim": c.HeadDim,
		"vocab_size": c.Vocab, "max_position_embeddings": c.ContextLen, "rms_norm_eps": c.NormEps,
		"rope_theta": c.RopeTheta, "tie_word_embeddings": c.Tied, "hidden_act": "silu",
		"attention_bias": false, "attention_dropout": 0.0, "initializer_range": 0.02, "use_cache": true,
		"bos_token_id": c.BOS, "eos_token_id": c.EOS, "torch_dtype": map[string]string{"bf16": "bfloat16", "f32": "float32"}[dtype],
	}
	switch c.Arch {
	case ArchLlama:
		doc["architectures"], doc["model_type"], doc["mlp_bias"], doc["pretraining_tp"] = []string{"LlamaForCausalLM"}, "llama", false, 1
	case ArchQwen3:
		doc["architectures"], doc["model_type"] = []string{"Qwen3ForCausalLM"}, "qwen3"
		doc["use_sliding_window"], doc["sliding_window"], doc["max_window_layers"] = false, nil, c.Layers
	}
	if s := c.RopeScaling; s != nil {
		doc["rope_scaling"] = map[string]any{"rope_type": s.Type, "factor": s.Factor, "low_freq_factor": s.LowFreqFactor,
			"high_freq_factor": s.HighFreqFactor, "original_max_position_embeddings": s.OriginalMaxPos}
	} else {
		doc["rope_scaling"] = nil
	}
	return json.MarshalIndent(doc, "", "  ")
}

// WriteRandom writes a seeded random model directory at dir: config.json, model.safetensors,
// tokenizer.json and tokenizer_config.json (with a chat template), and with opts.GGUF a model.gguf
// holding the same weights (q/k rows permuted as llama.cpp's converter does) and tokenizer. Tensors are
// generated and written one at a time, so large shapes never sit in memory whole.
func WriteRandom(dir string, opts RandomOptions) error {
	c, err := ShapeConfig(opts.Arch, opts.Shape)
	if err != nil {
		return err
	}
	dt := safetensors.BF16
	switch opts.DType {
	case "", "bf16":
		opts.DType = "bf16"
	case "f32":
		dt = safetensors.F32
	default:
		return fmt.Errorf("random model: weight type %q not supported (bf16, f32)", opts.DType)
	}
	tokJSON, err := tokenizer.SyntheticByteLevel(c.Vocab)
	if err != nil {
		return fmt.Errorf("random model: %w", err)
	}
	tokCfg, err := tokenizer.SyntheticTokenizerConfig()
	if err != nil {
		return fmt.Errorf("random model: %w", err)
	}
	// The synthetic tokenizer puts its five specials last: begin_of_text, end_of_text, eot_id, ...
	c.BOS, c.EOS = int32(c.Vocab-5), int32(c.Vocab-3)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("random model: %w", err)
	}
	cfgJSON, err := c.hfConfigJSON(opts.DType)
	if err != nil {
		return fmt.Errorf("random model: %w", err)
	}
	for name, data := range map[string][]byte{"config.json": cfgJSON, "tokenizer.json": tokJSON, "tokenizer_config.json": tokCfg} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("random model: %w", err)
		}
	}
	ts := c.randTensors()
	specs := make([]safetensors.Spec, len(ts))
	for i, t := range ts {
		specs[i] = safetensors.Spec{Name: hfName(t.name), DType: dt, Shape: []int{t.rows, t.cols}}
		if t.rows == 1 {
			specs[i].Shape = []int{t.cols}
		}
	}
	if err := writeFile(filepath.Join(dir, "model.safetensors"), func(f *os.File) error {
		w, err := safetensors.NewWriter(f, specs, map[string]string{"format": "pt"})
		if err != nil {
			return err
		}
		for i, t := range ts {
			if err := w.WriteTensor(t.generate(opts.Seed, i, dt)); err != nil {
				return err
			}
		}
		return w.Close()
	}); err != nil {
		return fmt.Errorf("random model: %w", err)
	}
	if opts.GGUF {
		if err := writeRandomGGUF(filepath.Join(dir, "model.gguf"), c, ts, opts.Seed, dt, opts.GGUFType, tokJSON); err != nil {
			return fmt.Errorf("random model: %w", err)
		}
	}
	return nil
}

func writeFile(path string, fill func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// ggufTokenizer turns a byte-level tokenizer.json into tokenizer.ggml.* arrays ("gpt2" model).
func ggufTokenizer(tokJSON []byte) (tokens []string, types []int32, merges []string, err error) {
	var doc struct {
		Model struct {
			Vocab  map[string]int    `json:"vocab"`
			Merges []json.RawMessage `json:"merges"`
		} `json:"model"`
		Added []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
			Special bool   `json:"special"`
		} `json:"added_tokens"`
	}
	if err := json.Unmarshal(tokJSON, &doc); err != nil {
		return nil, nil, nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	n := len(doc.Model.Vocab)
	for _, a := range doc.Added {
		n = max(n, a.ID+1)
	}
	tokens, types = make([]string, n), make([]int32, n)
	for t, id := range doc.Model.Vocab {
		if id < 0 || id >= n {
			return nil, nil, nil, fmt.Errorf("tokenizer.json: token id %d out of range", id)
		}
		tokens[id], types[id] = t, 1
	}
	for _, a := range doc.Added {
		tokens[a.ID], types[a.ID] = a.Content, 4
		if a.Special {
			types[a.ID] = 3
		}
	}
	for _, raw := range doc.Model.Merges {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			merges = append(merges, s)
			continue
		}
		var pair []string
		if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
			return nil, nil, nil, fmt.Errorf("tokenizer.json: bad merge %s", raw)
		}
		merges = append(merges, pair[0]+" "+pair[1])
	}
	return tokens, types, merges, nil
}

func writeRandomGGUF(path string, c Config, ts []randTensor, seed uint64, dt safetensors.DType, quant string, tokJSON []byte) error {
	var qt kernels.DType
	var qg gguf.GGMLType
	switch quant {
	case "":
	case "q8_0":
		qt, qg = kernels.Q8_0, gguf.Q8_0
	case "q4_0":
		qt, qg = kernels.Q4_0, gguf.Q4_0
	default:
		return fmt.Errorf("GGUF weight type %q not supported (q8_0, q4_0)", quant)
	}
	quantised := func(t randTensor) bool { return quant != "" && t.rows > 1 && t.cols%kernels.BlockSize == 0 }
	tokens, types, merges, err := ggufTokenizer(tokJSON)
	if err != nil {
		return err
	}
	a := c.Arch
	kvs := []gguf.KV{
		{Key: "general.architecture", Type: gguf.TypeString, Value: a},
		{Key: "general.name", Type: gguf.TypeString, Value: "radix random " + a},
		{Key: "general.alignment", Type: gguf.TypeUint32, Value: uint32(32)},
		{Key: a + ".block_count", Type: gguf.TypeUint32, Value: uint32(c.Layers)},
		{Key: a + ".context_length", Type: gguf.TypeUint32, Value: uint32(c.ContextLen)},
		{Key: a + ".embedding_length", Type: gguf.TypeUint32, Value: uint32(c.Hidden)},
		{Key: a + ".feed_forward_length", Type: gguf.TypeUint32, Value: uint32(c.FFN)},
		{Key: a + ".attention.head_count", Type: gguf.TypeUint32, Value: uint32(c.Heads)},
		{Key: a + ".attention.head_count_kv", Type: gguf.TypeUint32, Value: uint32(c.KVHeads)},
		{Key: a + ".attention.key_length", Type: gguf.TypeUint32, Value: uint32(c.HeadDim)},
		{Key: a + ".attention.value_length", Type: gguf.TypeUint32, Value: uint32(c.HeadDim)},
		{Key: a + ".rope.dimension_count", Type: gguf.TypeUint32, Value: uint32(c.HeadDim)},
		{Key: a + ".rope.freq_base", Type: gguf.TypeFloat32, Value: float32(c.RopeTheta)},
		{Key: a + ".attention.layer_norm_rms_epsilon", Type: gguf.TypeFloat32, Value: float32(c.NormEps)},
		{Key: a + ".vocab_size", Type: gguf.TypeUint32, Value: uint32(c.Vocab)},
		{Key: "tokenizer.ggml.model", Type: gguf.TypeString, Value: "gpt2"},
		{Key: "tokenizer.ggml.pre", Type: gguf.TypeString, Value: "llama-bpe"},
		{Key: "tokenizer.ggml.tokens", Type: gguf.TypeArray, Value: tokens},
		{Key: "tokenizer.ggml.token_type", Type: gguf.TypeArray, Value: types},
		{Key: "tokenizer.ggml.merges", Type: gguf.TypeArray, Value: merges},
		{Key: "tokenizer.ggml.bos_token_id", Type: gguf.TypeUint32, Value: uint32(c.BOS)},
		{Key: "tokenizer.ggml.eos_token_id", Type: gguf.TypeUint32, Value: uint32(c.EOS)},
		{Key: "tokenizer.ggml.add_bos_token", Type: gguf.TypeBool, Value: true},
		{Key: "tokenizer.chat_template", Type: gguf.TypeString, Value: tokenizer.SyntheticChatTemplate},
	}
	gt := gguf.BF16
	if dt == safetensors.F32 {
		gt = gguf.F32
	}
	specs := make([]gguf.TensorSpec, 0, len(ts)+1)
	for _, t := range ts {
		dims := []uint64{uint64(t.cols), uint64(t.rows)}
		if t.rows == 1 {
			dims = dims[:1]
		}
		ty := gt
		if quantised(t) {
			ty = qg
		}
		specs = append(specs, gguf.TensorSpec{Name: t.name, Type: ty, Dims: dims})
	}
	// Llama 3 RoPE scaling travels as per-frequency divisors, as llama.cpp's converter writes it.
	var ropeFreqs []float32
	if c.RopeScaling != nil {
		plain := c
		plain.RopeScaling = nil
		base, scaled := plain.invFreq(), c.invFreq()
		for i := range base {
			ropeFreqs = append(ropeFreqs, float32(base[i]/scaled[i]))
		}
		specs = append(specs, gguf.TensorSpec{Name: "rope_freqs.weight", Type: gguf.F32, Dims: []uint64{uint64(len(ropeFreqs))}})
	}
	return writeFile(path, func(f *os.File) error {
		w, err := gguf.NewWriter(f, kvs, specs)
		if err != nil {
			return err
		}
		for i, t := range ts {
			data := t.generate(seed, i, dt)
			if quantised(t) {
				kt := kernels.BF16
				if dt == safetensors.F32 {
					kt = kernels.F32
				}
				src, err := (&rawTensor{name: t.name, typ: kt, rows: t.rows, cols: t.cols, data: data}).matrix()
				if err != nil {
					return err
				}
				q, err := kernels.Quantize(src, qt)
				if err != nil {
					return err
				}
				data = ggmlBlocks(q)
			}
			if a == ArchLlama {
				if strings.HasSuffix(t.name, ".attn_q.weight") {
					data = permuteRows(data, t.rows, c.Heads)
				} else if strings.HasSuffix(t.name, ".attn_k.weight") {
					data = permuteRows(data, t.rows, c.KVHeads)
				}
			}
			if err := w.WriteTensor(data); err != nil {
				return err
			}
		}
		if ropeFreqs != nil {
			b := make([]byte, 4*len(ropeFreqs))
			for i, v := range ropeFreqs {
				binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
			}
			if err := w.WriteTensor(b); err != nil {
				return err
			}
		}
		return w.Close()
	})
}

// ggmlBlocks packs a Q8_0 or Q4_0 matrix into ggml's interleaved blocks: an f16 scale, then the block's
// 32 int8 quants (Q8_0) or 16 nibble-pair bytes (Q4_0).
func ggmlBlocks(m *kernels.Matrix) []byte {
	nb := len(m.Scales)
	per := 34
	if m.Type == kernels.Q4_0 {
		per = 18
	}
	out := make([]byte, nb*per)
	for b := 0; b < nb; b++ {
		blk := out[b*per : (b+1)*per]
		binary.LittleEndian.PutUint16(blk, kernels.F32ToF16(m.Scales[b]))
		if m.Type == kernels.Q8_0 {
			for j, q := range m.Q8[b*32 : b*32+32] {
				blk[2+j] = byte(q)
			}
		} else {
			copy(blk[2:], m.Q4[b*16:b*16+16])
		}
	}
	return out
}
