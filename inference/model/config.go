package model

import (
	"encoding/json"
	"fmt"
	"math"
)

// Architectures radix runs.
const (
	ArchLlama = "llama"
	ArchQwen3 = "qwen3"
)

// RopeScaling is Llama 3's frequency-dependent RoPE scaling (rope_type "llama3").
type RopeScaling struct {
	Type                          string
	Factor                        float64
	LowFreqFactor, HighFreqFactor float64
	OriginalMaxPos                int
}

// Config is a model's shape and hyper-parameters.
type Config struct {
	Arch        string // ArchLlama or ArchQwen3
	Layers      int
	Hidden      int
	Heads       int
	KVHeads     int
	HeadDim     int
	FFN         int
	Vocab       int
	ContextLen  int
	RopeTheta   float64
	RopeScaling *RopeScaling // nil: plain RoPE
	NormEps     float64
	Tied        bool  // the output head is the token embedding
	QKNorm      bool  // per-head RMSNorm of q and k before RoPE (Qwen3)
	BOS, EOS    int32 // -1 when unknown
}

// Validate checks the shape is one the forward pass can run.
func (c Config) Validate() error {
	switch {
	case c.Arch != ArchLlama && c.Arch != ArchQwen3:
		return fmt.Errorf("unsupported architecture %q (radix runs llama and qwen3)", c.Arch)
	case c.Layers <= 0 || c.Hidden <= 0 || c.Heads <= 0 || c.KVHeads <= 0 || c.HeadDim <= 0 || c.FFN <= 0 || c.Vocab <= 0:
		return fmt.Errorf("config has a non-positive dimension: %+v", c)
	case c.Layers > 1024 || c.Hidden > 1<<17 || c.Heads > 1024 || c.HeadDim > 1024 || c.FFN > 1<<19 || c.Vocab > 1<<22:
		return fmt.Errorf("config dimensions are implausibly large: %+v", c)
	case c.Heads%c.KVHeads != 0:
		return fmt.Errorf("%d attention heads are not a multiple of %d KV heads", c.Heads, c.KVHeads)
	case c.HeadDim%2 != 0:
		return fmt.Errorf("head dimension %d is odd; RoPE needs pairs", c.HeadDim)
	case !(c.NormEps > 0) || !(c.RopeTheta > 0) || math.IsInf(c.RopeTheta, 0):
		return fmt.Errorf("rms_norm_eps %v and rope_theta %v must be positive", c.NormEps, c.RopeTheta)
	}
	if s := c.RopeScaling; s != nil {
		if s.Type != "llama3" {
			return fmt.Errorf("rope scaling type %q is not supported (radix supports llama3)", s.Type)
		}
		if !(s.Factor > 0) || !(s.LowFreqFactor > 0) || !(s.HighFreqFactor > s.LowFreqFactor) || s.OriginalMaxPos <= 0 {
			return fmt.Errorf("llama3 rope scaling needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0, got %+v", *s)
		}
	}
	return nil
}

// hfConfig is the subset of a Hugging Face config.json radix reads.
type hfConfig struct {
	Architectures     []string        `json:"architectures"`
	ModelType         string          `json:"model_type"`
	HiddenSize        int             `json:"hidden_size"`
	IntermediateSize  int             `json:"intermediate_size"`
	NumLayers         int             `json:"num_hidden_layers"`
	NumHeads          int             `json:"num_attention_heads"`
	NumKVHeads        int             `json:"num_key_value_heads"`
	HeadDim           int             `json:"head_dim"`
	VocabSize         int             `json:"vocab_size"`
	MaxPos            int             `json:"max_position_embeddings"`
	RMSNormEps        float64         `json:"rms_norm_eps"`
	RopeTheta         float64         `json:"rope_theta"`
	RopeScaling       json.RawMessage `json:"rope_scaling"`
	RopeParameters    json.RawMessage `json:"rope_parameters"` // transformers 5 spelling
	TieWordEmbeddings *bool           `json:"tie_word_embeddings"`
	AttentionBias     bool            `json:"attention_bias"`
	MLPBias           bool            `json:"mlp_bias"`
	HiddenAct         string          `json:"hidden_act"`
	BOSTokenID        json.RawMessage `json:"bos_token_id"`
	EOSTokenID        json.RawMessage `json:"eos_token_id"`
}

type hfRope struct {
	RopeType       string  `json:"rope_type"`
	Type           string  `json:"type"`
	RopeTheta      float64 `json:"rope_theta"`
	Factor         float64 `json:"factor"`
	LowFreqFactor  float64 `json:"low_freq_factor"`
	HighFreqFactor float64 `json:"high_freq_factor"`
	OriginalMaxPos int     `json:"original_max_position_embeddings"`
}

// ParseHFConfig reads a Hugging Face config.json.
func ParseHFConfig(data []byte) (Config, error) {
	var h hfConfig
	if err := json.Unmarshal(data, &h); err != nil {
		return Config{}, fmt.Errorf("config.json: %w", err)
	}
	c := Config{BOS: -1, EOS: -1}
	arch := h.ModelType
	if len(h.Architectures) > 0 {
		arch = h.Architectures[0]
	}
	switch {
	case arch == "LlamaForCausalLM" || (len(h.Architectures) == 0 && h.ModelType == "llama"):
		c.Arch = ArchLlama
	case arch == "Qwen3ForCausalLM" || (len(h.Architectures) == 0 && h.ModelType == "qwen3"):
		c.Arch, c.QKNorm = ArchQwen3, true
	case arch == "":
		return Config{}, fmt.Errorf("config.json names no architecture (neither architectures nor model_type)")
	default:
		return Config{}, fmt.Errorf("unsupported architecture %q (radix runs LlamaForCausalLM and Qwen3ForCausalLM)", arch)
	}
	if h.AttentionBias || h.MLPBias {
		return Config{}, fmt.Errorf("%s with attention_bias or mlp_bias is not supported", arch)
	}
	if h.HiddenAct != "" && h.HiddenAct != "silu" {
		return Config{}, fmt.Errorf("hidden_act %q is not supported (radix runs silu)", h.HiddenAct)
	}
	c.Layers, c.Hidden, c.FFN, c.Heads = h.NumLayers, h.HiddenSize, h.IntermediateSize, h.NumHeads
	c.KVHeads, c.HeadDim, c.Vocab, c.ContextLen = h.NumKVHeads, h.HeadDim, h.VocabSize, h.MaxPos
	if c.KVHeads == 0 {
		c.KVHeads = c.Heads
	}
	if c.HeadDim == 0 && c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	if c.ContextLen <= 0 {
		c.ContextLen = 2048
	}
	c.NormEps = h.RMSNormEps
	if c.NormEps == 0 {
		c.NormEps = 1e-6
	}
	c.RopeTheta = h.RopeTheta
	// Defaults of the transformers config classes: Llama and Qwen3 tie nothing unless told.
	c.Tied = h.TieWordEmbeddings != nil && *h.TieWordEmbeddings
	for _, raw := range []json.RawMessage{h.RopeScaling, h.RopeParameters} {
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		var r hfRope
		if err := json.Unmarshal(raw, &r); err != nil {
			return Config{}, fmt.Errorf("config.json rope scaling: %w", err)
		}
		if r.RopeTheta > 0 {
			c.RopeTheta = r.RopeTheta
		}
		t := r.RopeType
		if t == "" {
			t = r.Type
		}
		switch t {
		case "", "default":
		case "llama3":
			c.RopeScaling = &RopeScaling{Type: t, Factor: r.Factor, LowFreqFactor: r.LowFreqFactor, HighFreqFactor: r.HighFreqFactor, OriginalMaxPos: r.OriginalMaxPos}
		default:
			return Config{}, fmt.Errorf("rope scaling type %q is not supported (radix supports llama3)", t)
		}
	}
	if c.RopeTheta == 0 {
		c.RopeTheta = 10000
	}
	c.BOS, c.EOS = firstID(h.BOSTokenID), firstID(h.EOSTokenID)
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// firstID reads a token id that config.json may give as a number, a list or null.
func firstID(raw json.RawMessage) int32 {
	var n int32
	if json.Unmarshal(raw, &n) == nil {
		return n
	}
	var l []int32
	if json.Unmarshal(raw, &l) == nil && len(l) > 0 {
		return l[0]
	}
	return -1
}

// invFreq returns RoPE's inverse frequencies (one per pair), Llama 3 scaling applied, as Hugging Face
// computes them: base^(-2i/d) in float32, then the scaling.
func (c Config) invFreq() []float64 {
	half := c.HeadDim / 2
	f := make([]float64, half)
	for i := range f {
		// float32 exponent and power mirror torch's float32 arange/pow.
		e := float32(2*i) / float32(c.HeadDim)
		f[i] = float64(float32(1) / float32(math.Pow(c.RopeTheta, float64(e))))
	}
	if s := c.RopeScaling; s != nil {
		lowWave := float64(s.OriginalMaxPos) / s.LowFreqFactor
		highWave := float64(s.OriginalMaxPos) / s.HighFreqFactor
		for i, fr := range f {
			wave := 2 * math.Pi / fr
			switch {
			case wave < highWave:
			case wave > lowWave:
				f[i] = fr / s.Factor
			default:
				smooth := (float64(s.OriginalMaxPos)/wave - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor)
				f[i] = (1-smooth)*fr/s.Factor + smooth*fr
			}
		}
	}
	return f
}
