package tokenizer

import (
	"fmt"
	"sort"
)

// GGUFVocab is the tokenizer.ggml.* metadata of a GGUF file.
type GGUFVocab struct {
	Model        string // tokenizer.ggml.model: "llama" (SentencePiece BPE) or "gpt2" (byte-level BPE)
	Tokens       []string
	Scores       []float32 // "llama": merge priority (higher merges first)
	TokenTypes   []int32   // 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
	Merges       []string  // "gpt2": "a b", in priority order
	BOS, EOS     int32     // -1 when absent
	Unknown      int32
	Padding      int32
	AddBOS       bool
	AddEOS       bool
	Pre          string // tokenizer.ggml.pre: pre-tokenizer name for "gpt2"
	ChatTemplate string // tokenizer.chat_template, optional
	// NoSpacePrefix is tokenizer.ggml.add_space_prefix == false: "llama" vocabularies then do not get
	// a "▁" prepended to the text.
	NoSpacePrefix bool
}

// GGUF token types.
const (
	ggufNormal      = 1
	ggufUnknown     = 2
	ggufControl     = 3
	ggufUserDefined = 4
	ggufUnused      = 5
	ggufByte        = 6
)

// ggufPre maps tokenizer.ggml.pre names to split patterns.
var ggufPre = map[string]string{
	"":                 patGPT2,
	"default":          patGPT2,
	"gpt-2":            patGPT2,
	"gpt2":             patGPT2,
	"llama3":           contractCI + fmt.Sprintf(cl100kRest, `\p{N}{1,3}`),
	"llama-v3":         contractCI + fmt.Sprintf(cl100kRest, `\p{N}{1,3}`),
	"llama-bpe":        contractCI + fmt.Sprintf(cl100kRest, `\p{N}{1,3}`),
	"smaug-bpe":        contractCI + fmt.Sprintf(cl100kRest, `\p{N}{1,3}`),
	"qwen2":            contractCI + fmt.Sprintf(cl100kRest, `\p{N}`),
	"deepseek-r1-qwen": contractCI + fmt.Sprintf(cl100kRest, `\p{N}`),
}

// FromGGUF builds a Tokenizer from GGUF metadata. "llama" vocabularies are SentencePiece BPE merged by
// score with byte fallback (text gets a leading "▁" and spaces become "▁"); "gpt2" vocabularies are
// byte-level BPE with ranked merges and the pre-tokenizer named by Pre.
func FromGGUF(v GGUFVocab) (*Tokenizer, error) {
	n := len(v.Tokens)
	if n == 0 {
		return nil, fmt.Errorf("gguf tokenizer: no tokens")
	}
	if n > maxVocab {
		return nil, fmt.Errorf("gguf tokenizer: %d tokens is too many", n)
	}
	if v.TokenTypes != nil && len(v.TokenTypes) != n {
		return nil, fmt.Errorf("gguf tokenizer: %d token types for %d tokens", len(v.TokenTypes), n)
	}
	typ := func(i int) int32 {
		if v.TokenTypes == nil {
			return ggufNormal
		}
		return v.TokenTypes[i]
	}
	m := &bpe{vocab: make(map[string]int32, n), tokens: append([]string(nil), v.Tokens...), unk: -1}
	for i, tok := range v.Tokens {
		m.vocab[tok] = int32(i)
	}
	inRange := func(id int32) bool { return id >= 0 && int(id) < n }
	if inRange(v.Unknown) {
		m.unk = v.Unknown
	}
	m.initByteIDs()
	t := &Tokenizer{model: m, vocabSize: n, bos: -1, eos: -1, addBOS: v.AddBOS, addEOS: v.AddEOS}
	switch v.Model {
	case "llama":
		if len(v.Scores) != n {
			return nil, fmt.Errorf("gguf tokenizer: %d scores for %d tokens", len(v.Scores), n)
		}
		m.byScore, m.byteFallback = true, true
		m.rankOf = denseRank(v.Scores)
		t.normalizer = normSeq{normPrepend("\u2581"), normReplace{lit: " ", content: "\u2581"}}
		t.dec = decSeq{decReplace{"\u2581", " "}, decByteFallback{}, decFuse{}, decStrip{content: ' ', start: 1}}
		if v.NoSpacePrefix {
			t.normalizer = normReplace{lit: " ", content: "\u2581"}
			t.dec = decSeq{decReplace{"\u2581", " "}, decByteFallback{}, decFuse{}}
		}
	case "gpt2":
		pat, ok := ggufPre[v.Pre]
		if !ok {
			return nil, fmt.Errorf("gguf tokenizer: unsupported pre-tokenizer %q", v.Pre)
		}
		mt, err := compilePattern(pat)
		if err != nil {
			return nil, fmt.Errorf("gguf tokenizer: %w", err)
		}
		pairs, err := parseMergeStrings(v.Merges)
		if err != nil {
			return nil, fmt.Errorf("gguf tokenizer: %w", err)
		}
		if err := m.setMerges(pairs); err != nil {
			return nil, fmt.Errorf("gguf tokenizer: %w", err)
		}
		t.pre = preSeq{preSplit{m: mt, beh: behIsolated}, preByteLevel{}}
		t.dec = decByteLevel{}
	default:
		return nil, fmt.Errorf("gguf tokenizer: unsupported tokenizer model %q (want llama or gpt2)", v.Model)
	}
	for i := range v.Tokens {
		switch typ(i) {
		case ggufControl, ggufUserDefined, ggufUnknown: // matched in text as llama.cpp does
			t.addAdded(addedToken{ID: int32(i), Content: v.Tokens[i], Special: typ(i) != ggufUserDefined})
		}
	}
	t.buildTries()
	if inRange(v.BOS) {
		t.bos = v.BOS
	}
	if inRange(v.EOS) {
		t.eos = v.EOS
	}
	t.finishSpecials("", "")
	if v.ChatTemplate != "" {
		if err := t.setChatTemplate(v.ChatTemplate); err != nil {
			return nil, fmt.Errorf("gguf tokenizer: %w", err)
		}
	}
	return t, nil
}

func parseMergeStrings(ms []string) ([][2]string, error) {
	out := make([][2]string, len(ms))
	for i, s := range ms {
		k := -1
		for j := 0; j < len(s); j++ {
			if s[j] == ' ' {
				k = j
				break
			}
		}
		if k < 0 {
			return nil, fmt.Errorf("merge %d %q: want two tokens separated by a space", i, s)
		}
		out[i] = [2]string{s[:k], s[k+1:]}
	}
	return out, nil
}

// denseRank ranks scores highest first; equal scores share a rank so that ties fall to the leftmost
// pair, as in SentencePiece.
func denseRank(scores []float32) []int32 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	rank := make([]int32, len(scores))
	r := int32(-1)
	for k, i := range idx {
		if k == 0 || scores[i] != scores[idx[k-1]] {
			r++
		}
		rank[i] = r
	}
	return rank
}
