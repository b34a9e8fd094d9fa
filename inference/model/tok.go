package model

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/radixops/radix/inference/model/gguf"
	"github.com/radixops/radix/inference/tokenizer"
)

// Tokenizer returns the model's tokenizer (nil for a directory without tokenizer.json).
func (m *Model) Tokenizer() *tokenizer.Tokenizer { return m.tok }

func (m *Model) loadHFTokenizer(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); os.IsNotExist(err) {
		return nil // weights-only directories still run from token ids
	}
	t, err := tokenizer.Load(dir)
	if err != nil {
		return fmt.Errorf("load model %s: %w", dir, err)
	}
	m.tok = t
	return nil
}

// ggufVocab collects the tokenizer.ggml.* metadata.
func ggufVocab(f *gguf.File) (tokenizer.GGUFVocab, bool) {
	v := tokenizer.GGUFVocab{BOS: -1, EOS: -1, Unknown: -1, Padding: -1}
	var ok bool
	if v.Tokens, ok = f.Strings("tokenizer.ggml.tokens"); !ok {
		return v, false
	}
	v.Model, _ = f.String("tokenizer.ggml.model")
	v.Scores, _ = f.Float32s("tokenizer.ggml.scores")
	v.TokenTypes, _ = f.Int32s("tokenizer.ggml.token_type")
	v.Merges, _ = f.Strings("tokenizer.ggml.merges")
	v.Pre, _ = f.String("tokenizer.ggml.pre")
	v.ChatTemplate, _ = f.String("tokenizer.chat_template")
	id := func(key string, dst *int32) {
		if n, ok := f.Uint(key); ok && n < 1<<31 {
			*dst = int32(n)
		}
	}
	id("tokenizer.ggml.bos_token_id", &v.BOS)
	id("tokenizer.ggml.eos_token_id", &v.EOS)
	id("tokenizer.ggml.unknown_token_id", &v.Unknown)
	id("tokenizer.ggml.padding_token_id", &v.Padding)
	// llama.cpp adds BOS for SentencePiece vocabularies unless told otherwise.
	v.AddBOS = v.Model == "llama"
	if b, ok := f.Bool("tokenizer.ggml.add_bos_token"); ok {
		v.AddBOS = b
	}
	v.AddEOS, _ = f.Bool("tokenizer.ggml.add_eos_token")
	return v, true
}

func (m *Model) loadGGUFTokenizer(f *gguf.File) error {
	v, ok := ggufVocab(f)
	if !ok {
		return nil
	}
	t, err := tokenizer.FromGGUF(v)
	if err != nil {
		return err
	}
	m.tok = t
	return nil
}
