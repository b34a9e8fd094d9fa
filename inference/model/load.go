package model

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/radixops/radix/inference/kvcache"
	"github.com/radixops/radix/inference/model/gguf"
	"github.com/radixops/radix/inference/model/kernels"
	"github.com/radixops/radix/inference/model/safetensors"
	"github.com/radixops/radix/inference/tokenizer"
)

// LoadOptions choose how a model is loaded.
type LoadOptions struct {
	// DType is the compute type of the weight matrices: "f32", "bf16", "q8_0", "q4_0", or "" / "auto":
	// quantised GGUF tensors stay as they are, others become q8_0 when every matrix's width is a whole
	// number of 32-weight blocks, else bf16.
	DType string
	// KVDType is the KV cache element type: "f32" (default) or "bf16".
	KVDType string
}

// layer holds one decoder block's weights.
type layer struct {
	attnNorm, ffnNorm []float32
	qNorm, kNorm      []float32 // Qwen3 only
	wq, wk, wv, wo    *kernels.Matrix
	wgate, wup, wdown *kernels.Matrix
}

// Model is a loaded model. Forward is not safe for concurrent use (one engine loop drives a model); the
// other methods are.
type Model struct {
	cfg         Config
	path        string
	wtype       string // compute type of the matrices, as chosen
	kvType      kvcache.DType
	embed       *kernels.Matrix
	output      *kernels.Matrix
	norm        []float32
	layers      []layer
	invFreq     []float64
	ropeFactors []float32 // GGUF rope_freqs.weight: divisors of invFreq
	closers     []io.Closer
	tok         *tokenizer.Tokenizer
	fw          forwardState
}

// Config returns the model's shape.
func (m *Model) Config() Config { return m.cfg }

// WeightType names the compute type the matrices were loaded as (f32, bf16, q8_0, q4_0; mixed GGUF files
// report the output head's).
func (m *Model) WeightType() string { return m.wtype }

// WeightBytes is the size of every weight matrix a decode step streams (embedding lookups excluded,
// the output head included).
func (m *Model) WeightBytes() int64 {
	n := m.output.Bytes()
	for _, l := range m.layers {
		for _, w := range []*kernels.Matrix{l.wq, l.wk, l.wv, l.wo, l.wgate, l.wup, l.wdown} {
			n += w.Bytes()
		}
	}
	return n
}

// Close releases the file mappings; the model must not be used afterwards.
func (m *Model) Close() error {
	var first error
	for _, c := range m.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	m.closers = nil
	return first
}

// NewKVPool makes a KV pool shaped for this model with tokens slots in pages of pageSize.
func (m *Model) NewKVPool(tokens, pageSize int) (*kvcache.Pool, error) {
	return kvcache.NewPool(kvcache.PoolConfig{Layers: m.cfg.Layers, KVHeads: m.cfg.KVHeads, HeadDim: m.cfg.HeadDim,
		Tokens: tokens, PageSize: pageSize, DType: m.kvType})
}

// source yields a model's tensors under radix's own names (see tensorNames).
type source interface {
	tensor(name string) (*rawTensor, error) // nil, nil when absent
	where() string
}

// Load reads a Hugging Face model directory or a GGUF file.
func Load(path string, opts LoadOptions) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	m := &Model{path: path}
	switch opts.KVDType {
	case "", "f32":
		m.kvType = kvcache.F32
	case "bf16":
		m.kvType = kvcache.BF16
	case "f16":
		m.kvType = kvcache.F16
	default:
		return nil, fmt.Errorf("load model: KV type %q not supported (f32, bf16, f16)", opts.KVDType)
	}
	var src source
	if st.IsDir() {
		src, err = m.openHF(path)
	} else {
		src, err = m.openGGUF(path)
	}
	if err != nil {
		m.Close()
		return nil, err
	}
	if err := m.loadWeights(src, opts.DType); err != nil {
		m.Close()
		return nil, fmt.Errorf("load model %s: %w", src.where(), err)
	}
	m.invFreq = m.cfg.invFreq()
	for i, f := range m.ropeFactors {
		m.invFreq[i] /= float64(f)
	}
	return m, nil
}

func (m *Model) openHF(dir string) (source, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	cfg, err := ParseHFConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	m.cfg = cfg
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	m.closers = append(m.closers, set)
	if err := m.loadHFTokenizer(dir); err != nil {
		return nil, err
	}
	return &hfSource{set: set}, nil
}

type hfSource struct{ set *safetensors.Set }

func (s *hfSource) where() string { return s.set.Dir }

// hfName maps radix's tensor names (GGUF's) to Hugging Face's.
func hfName(name string) string {
	if rest, ok := strings.CutPrefix(name, "blk."); ok {
		i := strings.IndexByte(rest, '.')
		n, w := rest[:i], rest[i+1:]
		p := "model.layers." + n + "."
		return p + map[string]string{
			"attn_norm.weight": "input_layernorm.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
			"attn_q.weight": "self_attn.q_proj.weight", "attn_k.weight": "self_attn.k_proj.weight",
			"attn_v.weight": "self_attn.v_proj.weight", "attn_output.weight": "self_attn.o_proj.weight",
			"attn_q_norm.weight": "self_attn.q_norm.weight", "attn_k_norm.weight": "self_attn.k_norm.weight",
			"ffn_gate.weight": "mlp.gate_proj.weight", "ffn_up.weight": "mlp.up_proj.weight", "ffn_down.weight": "mlp.down_proj.weight",
		}[w]
	}
	return map[string]string{"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight", "output.weight": "lm_head.weight"}[name]
}

func (s *hfSource) tensor(name string) (*rawTensor, error) {
	hn := hfName(name)
	t := s.set.Tensor(hn)
	if t == nil {
		return nil, nil
	}
	r := &rawTensor{name: hn, data: t.Data}
	switch t.DType {
	case safetensors.F32:
		r.typ = kernels.F32
	case safetensors.F16:
		r.typ = kernels.F16
	case safetensors.BF16:
		r.typ = kernels.BF16
	default:
		return nil, fmt.Errorf("tensor %s: dtype %s not supported (F32, F16, BF16)", hn, t.DType)
	}
	switch len(t.Shape) {
	case 1:
		r.rows, r.cols = 1, t.Shape[0]
	case 2:
		r.rows, r.cols = t.Shape[0], t.Shape[1]
	default:
		return nil, fmt.Errorf("tensor %s: rank %d, want a vector or matrix", hn, len(t.Shape))
	}
	return r, nil
}

func (m *Model) openGGUF(path string) (source, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	m.closers = append(m.closers, f)
	cfg, err := ggufConfig(f)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	m.cfg = cfg
	if err := m.loadGGUFTokenizer(f); err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return &ggufSource{f: f, cfg: cfg}, nil
}

// ggufConfig reads the hyper-parameters from a GGUF file's metadata.
func ggufConfig(f *gguf.File) (Config, error) {
	arch, _ := f.String("general.architecture")
	c := Config{BOS: -1, EOS: -1}
	switch arch {
	case "llama":
		c.Arch = ArchLlama
	case "qwen3":
		c.Arch, c.QKNorm = ArchQwen3, true
	case "":
		return c, fmt.Errorf("GGUF has no general.architecture")
	default:
		return c, fmt.Errorf("unsupported architecture %q (radix runs llama and qwen3)", arch)
	}
	u := func(key string, dst *int, required bool) error {
		v, ok := f.Uint(arch + "." + key)
		if !ok {
			if required {
				return fmt.Errorf("GGUF lacks %s.%s", arch, key)
			}
			return nil
		}
		if v > 1<<31 {
			return fmt.Errorf("GGUF %s.%s = %d is implausible", arch, key, v)
		}
		*dst = int(v)
		return nil
	}
	for _, k := range []struct {
		key string
		dst *int
		req bool
	}{
		{"block_count", &c.Layers, true}, {"embedding_length", &c.Hidden, true}, {"feed_forward_length", &c.FFN, true},
		{"attention.head_count", &c.Heads, true}, {"attention.head_count_kv", &c.KVHeads, false},
		{"attention.key_length", &c.HeadDim, false}, {"context_length", &c.ContextLen, false}, {"vocab_size", &c.Vocab, false},
	} {
		if err := u(k.key, k.dst, k.req); err != nil {
			return c, err
		}
	}
	if c.KVHeads == 0 {
		c.KVHeads = c.Heads
	}
	if c.HeadDim == 0 && c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	if c.ContextLen == 0 {
		c.ContextLen = 2048
	}
	if c.Vocab == 0 {
		if toks, ok := f.Strings("tokenizer.ggml.tokens"); ok {
			c.Vocab = len(toks)
		}
		if t := f.Tensor("token_embd.weight"); t != nil && len(t.Dims) == 2 {
			c.Vocab = int(t.Dims[1])
		}
	}
	c.RopeTheta, _ = f.Float(arch + ".rope.freq_base")
	if c.RopeTheta == 0 {
		c.RopeTheta = 10000
	}
	c.NormEps, _ = f.Float(arch + ".attention.layer_norm_rms_epsilon")
	if st, ok := f.String(arch + ".rope.scaling.type"); ok && st != "none" {
		return c, fmt.Errorf("GGUF rope scaling type %q is not supported", st)
	}
	if n, ok := f.Uint(arch + ".expert_count"); ok && n > 0 {
		return c, fmt.Errorf("%s with %d experts (mixture of experts) is not supported", arch, n)
	}
	if n, ok := f.Uint(arch + ".rope.dimension_count"); ok && int(n) != c.HeadDim {
		return c, fmt.Errorf("partial rotary embedding (%d of %d head dimensions) is not supported", n, c.HeadDim)
	}
	c.Tied = f.Tensor("output.weight") == nil
	if v, ok := f.Uint("tokenizer.ggml.bos_token_id"); ok && v < 1<<31 {
		c.BOS = int32(v)
	}
	if v, ok := f.Uint("tokenizer.ggml.eos_token_id"); ok && v < 1<<31 {
		c.EOS = int32(v)
	}
	return c, c.Validate()
}

type ggufSource struct {
	f   *gguf.File
	cfg Config
}

func (s *ggufSource) where() string { return s.f.Path }

func (s *ggufSource) tensor(name string) (*rawTensor, error) {
	t := s.f.Tensor(name)
	if t == nil {
		return nil, nil
	}
	r := &rawTensor{name: name, data: t.Data}
	switch t.Type {
	case gguf.F32:
		r.typ = kernels.F32
	case gguf.F16:
		r.typ = kernels.F16
	case gguf.BF16:
		r.typ = kernels.BF16
	case gguf.Q8_0:
		r.typ = kernels.Q8_0
	case gguf.Q4_0:
		r.typ = kernels.Q4_0
	default:
		return nil, fmt.Errorf("tensor %s: GGUF type %s not supported (F32, F16, BF16, Q8_0, Q4_0)", name, t.Type)
	}
	switch len(t.Dims) {
	case 1:
		r.rows, r.cols = 1, int(t.Dims[0])
	case 2:
		r.rows, r.cols = int(t.Dims[1]), int(t.Dims[0])
	default:
		return nil, fmt.Errorf("tensor %s: %d dimensions, want a vector or matrix", name, len(t.Dims))
	}
	// llama.cpp's Llama converter interleaves q/k rows for its RoPE; radix rotates halves.
	if s.cfg.Arch == ArchLlama {
		if strings.HasSuffix(name, ".attn_q.weight") {
			return r, r.unpermuteRows(s.cfg.Heads)
		}
		if strings.HasSuffix(name, ".attn_k.weight") {
			return r, r.unpermuteRows(s.cfg.KVHeads)
		}
	}
	return r, nil
}

// loadWeights fetches, checks and converts every tensor.
func (m *Model) loadWeights(src source, dtype string) error {
	c := m.cfg
	var target kernels.DType
	auto := false
	switch dtype {
	case "", "auto":
		auto = true
		target = kernels.Q8_0
		for _, cols := range []int{c.Hidden, c.FFN, c.Heads * c.HeadDim} {
			if cols%kernels.BlockSize != 0 {
				target = kernels.BF16
			}
		}
	default:
		t, err := kernels.ParseDType(dtype)
		if err != nil || t == kernels.F16 {
			return fmt.Errorf("compute type %q not supported (f32, bf16, q8_0, q4_0 or auto)", dtype)
		}
		target = t
	}
	m.wtype = target.String()
	get := func(name string, rows, cols int, optional bool) (*rawTensor, error) {
		t, err := src.tensor(name)
		if err != nil {
			return nil, err
		}
		if t == nil {
			if optional {
				return nil, nil
			}
			return nil, fmt.Errorf("missing tensor %s", name)
		}
		if t.rows != rows || t.cols != cols {
			return nil, fmt.Errorf("tensor %s is [%d][%d], want [%d][%d]", t.name, t.rows, t.cols, rows, cols)
		}
		return t, nil
	}
	mat := func(name string, rows, cols int) (*kernels.Matrix, error) {
		t, err := get(name, rows, cols, false)
		if err != nil {
			return nil, err
		}
		w, err := t.matrix()
		if err != nil {
			return nil, err
		}
		to := target
		if auto && (w.Type == kernels.Q8_0 || w.Type == kernels.Q4_0) {
			to = w.Type
		}
		if w.Type == to {
			return w, nil
		}
		if (to == kernels.Q8_0 || to == kernels.Q4_0) && cols%kernels.BlockSize != 0 {
			return nil, fmt.Errorf("tensor %s: %d columns are not whole blocks of %d, so it cannot be %s", t.name, cols, kernels.BlockSize, to)
		}
		q, err := kernels.Quantize(w, to)
		if err != nil {
			return nil, fmt.Errorf("tensor %s: convert to %s: %w", t.name, to, err)
		}
		return q, nil
	}
	vec := func(name string, n int) ([]float32, error) {
		t, err := get(name, 1, n, false)
		if err != nil {
			return nil, err
		}
		return t.vector()
	}
	var err error
	if m.embed, err = mat("token_embd.weight", c.Vocab, c.Hidden); err != nil {
		return err
	}
	if m.norm, err = vec("output_norm.weight", c.Hidden); err != nil {
		return err
	}
	out, err := get("output.weight", c.Vocab, c.Hidden, true)
	if err != nil {
		return err
	}
	switch {
	case c.Tied:
		m.output = m.embed
	case out != nil:
		if m.output, err = mat("output.weight", c.Vocab, c.Hidden); err != nil {
			return err
		}
	default:
		return fmt.Errorf("missing tensor output.weight (lm_head) and the embeddings are not tied")
	}
	if m.output.Type == kernels.Q8_0 || m.output.Type == kernels.Q4_0 || m.output.Type == kernels.BF16 || m.output.Type == kernels.F32 {
		m.wtype = m.output.Type.String()
	}
	q, kv := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	m.layers = make([]layer, c.Layers)
	loadLayer := func(i int) error {
		var err error
		l := &m.layers[i]
		p := fmt.Sprintf("blk.%d.", i)
		steps := []struct {
			dst        **kernels.Matrix
			name       string
			rows, cols int
		}{
			{&l.wq, "attn_q.weight", q, c.Hidden}, {&l.wk, "attn_k.weight", kv, c.Hidden}, {&l.wv, "attn_v.weight", kv, c.Hidden},
			{&l.wo, "attn_output.weight", c.Hidden, q}, {&l.wgate, "ffn_gate.weight", c.FFN, c.Hidden},
			{&l.wup, "ffn_up.weight", c.FFN, c.Hidden}, {&l.wdown, "ffn_down.weight", c.Hidden, c.FFN},
		}
		for _, s := range steps {
			if *s.dst, err = mat(p+s.name, s.rows, s.cols); err != nil {
				return err
			}
		}
		if l.attnNorm, err = vec(p+"attn_norm.weight", c.Hidden); err != nil {
			return err
		}
		if l.ffnNorm, err = vec(p+"ffn_norm.weight", c.Hidden); err != nil {
			return err
		}
		if c.QKNorm {
			if l.qNorm, err = vec(p+"attn_q_norm.weight", c.HeadDim); err != nil {
				return err
			}
			if l.kNorm, err = vec(p+"attn_k_norm.weight", c.HeadDim); err != nil {
				return err
			}
		}
		return nil
	}
	// Layers convert in parallel: quantising a billion weights on one core takes most of a minute.
	errs := make([]error, c.Layers)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < max(1, kernels.Threads()); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = loadLayer(i)
			}
		}()
	}
	for i := range m.layers {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	// llama.cpp stores Llama 3's RoPE scaling as per-frequency divisors.
	if t, err := get("rope_freqs.weight", 1, c.HeadDim/2, true); err != nil {
		return err
	} else if t != nil {
		f, err := t.vector()
		if err != nil {
			return err
		}
		m.ropeFactors = f
	}
	return nil
}
