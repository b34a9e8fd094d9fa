package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hfFile is the part of a tokenizer.json needed to build the equivalent GGUF metadata.
type hfFile struct {
	AddedTokens []addedToken `json:"added_tokens"`
	Model       struct {
		Vocab  map[string]int32 `json:"vocab"`
		Merges [][]string       `json:"merges"`
	} `json:"model"`
}

// ggufFromHF builds the GGUF metadata a converter would write for one of the test tokenizers: control
// tokens for the special added tokens, byte tokens typed as bytes, and for "llama" scores that give every
// token the priority of the merge that created it.
func ggufFromHF(t *testing.T, name, model string) GGUFVocab {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var f hfFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, id := range f.Model.Vocab {
		n = max(n, int(id)+1)
	}
	for _, a := range f.AddedTokens {
		n = max(n, int(a.ID)+1)
	}
	v := GGUFVocab{Model: model, Tokens: make([]string, n), Scores: make([]float32, n), TokenTypes: make([]int32, n),
		BOS: -1, EOS: -1, Unknown: -1, Padding: -1, Pre: "llama-bpe"}
	for tok, id := range f.Model.Vocab {
		v.Tokens[id] = tok
		v.TokenTypes[id] = ggufNormal
		v.Scores[id] = -1e9
		if _, ok := byteToken(tok); ok && model == "llama" {
			v.TokenTypes[id] = ggufByte
		}
	}
	for i, m := range f.Model.Merges {
		v.Merges = append(v.Merges, m[0]+" "+m[1])
		if id, ok := f.Model.Vocab[m[0]+m[1]]; ok && v.Scores[id] == -1e9 {
			v.Scores[id] = -float32(i)
		}
	}
	for _, a := range f.AddedTokens {
		v.Tokens[a.ID] = a.Content
		v.TokenTypes[a.ID] = ggufUserDefined
		if a.Special {
			v.TokenTypes[a.ID] = ggufControl
		}
		switch a.Content {
		case "<|begin_of_text|>", "<s>":
			v.BOS = a.ID
		case "<|end_of_text|>", "</s>":
			v.EOS = a.ID
		case "<unk>":
			v.Unknown = a.ID
			v.TokenTypes[a.ID] = ggufUnknown
		}
	}
	v.AddBOS = true
	return v
}

// Texts using added tokens with lstrip/rstrip/single_word/normalized flags, which GGUF cannot express.
func ggufComparable(s string) bool {
	return !strings.Contains(s, "<tool_call>") && !strings.Contains(s, "radix_cache") &&
		!strings.Contains(s, "ÄÖÜ") && !strings.Contains(s, "[[x]]")
}

func TestGGUFByteLevelMatchesHF(t *testing.T) {
	tk, err := FromGGUF(ggufFromHF(t, "bytelevel.json", "gpt2"))
	if err != nil {
		t.Fatal(err)
	}
	checkGGUFAgainstGoldens(t, tk, "bytelevel.json")
}

// The SentencePiece merge-by-score algorithm and HF's ranked merges agree on this vocabulary because every
// token is created by exactly one merge whose score is that merge's rank.
func TestGGUFSentencePieceMatchesHF(t *testing.T) {
	v := ggufFromHF(t, "spm.json", "llama")
	tk, err := FromGGUF(v)
	if err != nil {
		t.Fatal(err)
	}
	if tk.BOS() != 1 || tk.EOS() != 2 {
		t.Fatalf("BOS/EOS = %d/%d, want 1/2", tk.BOS(), tk.EOS())
	}
	checkGGUFAgainstGoldens(t, tk, "spm.json")
}

func checkGGUFAgainstGoldens(t *testing.T, tk *Tokenizer, name string) {
	t.Helper()
	n, match := 0, 0
	for _, set := range loadGoldens(t) {
		if set.Tokenizer != name {
			continue
		}
		for _, c := range set.Cases {
			if !ggufComparable(c.Text) {
				continue
			}
			n++
			got := tk.Encode(c.Text, true)
			if !slices.Equal(got, c.IDsSpecial) {
				t.Errorf("Encode(%q) = %v, want %v", c.Text, got, c.IDsSpecial)
				continue
			}
			if d := tk.Decode(got); d != c.Decode {
				t.Errorf("Decode(%v) = %q, want %q", got, d, c.Decode)
				continue
			}
			match++
		}
	}
	if n < 150 {
		t.Fatalf("only %d comparable cases", n)
	}
	t.Logf("%s via GGUF: %d/%d match", name, match, n)
}

func TestGGUFErrors(t *testing.T) {
	base := GGUFVocab{Model: "gpt2", Tokens: []string{"a", "b", "ab"}, Merges: []string{"a b"}, BOS: -1, EOS: -1, Unknown: -1}
	cases := map[string]func(v *GGUFVocab){
		"no tokens":       func(v *GGUFVocab) { v.Tokens = nil },
		"unknown model":   func(v *GGUFVocab) { v.Model = "bert" },
		"unknown pre":     func(v *GGUFVocab) { v.Pre = "mystery" },
		"bad merge":       func(v *GGUFVocab) { v.Merges = []string{"ab"} },
		"merge not vocab": func(v *GGUFVocab) { v.Merges = []string{"a c"} },
		"types length":    func(v *GGUFVocab) { v.TokenTypes = []int32{1} },
		"scores length":   func(v *GGUFVocab) { v.Model = "llama"; v.Scores = []float32{1} },
		"bad template":    func(v *GGUFVocab) { v.ChatTemplate = "{% for %}" },
	}
	for name, mut := range cases {
		v := base
		mut(&v)
		if _, err := FromGGUF(v); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := FromGGUF(base); err != nil {
		t.Fatalf("valid vocab: %v", err)
	}
}

// A hand-checked SentencePiece example: merges follow the scores of the merged pieces, leftmost first on
// ties, unknown characters fall back to bytes, and decoding strips the prepended space.
func TestGGUFSentencePieceByScore(t *testing.T) {
	toks := []string{"<unk>", "<s>", "</s>", "▁", "a", "b", "c", "▁a", "ab", "▁ab", "bc", "<0xC3>", "<0xA9>"}
	scores := []float32{0, 0, 0, -1, -1, -1, -1, -5, -2, -3, -2, 0, 0}
	types := []int32{2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6, 6}
	tk, err := FromGGUF(GGUFVocab{Model: "llama", Tokens: toks, Scores: scores, TokenTypes: types, BOS: 1, EOS: 2, Unknown: 0, AddBOS: true})
	if err != nil {
		t.Fatal(err)
	}
	// "▁abc": pairs ▁a(-5) ab(-2) bc(-2): ab and bc tie, ab is leftmost -> ▁ ab c; then ▁ab(-3) -> ▁ab c.
	// "é" is not in the vocabulary: bytes C3 A9.
	cases := []struct {
		text string
		ids  []int32
	}{
		{"abc", []int32{1, 9, 6}},
		{"é", []int32{1, 3, 11, 12}},
		{"a<s>b", []int32{1, 7, 1, 3, 5}},
	}
	for _, c := range cases {
		if got := tk.Encode(c.text, true); !slices.Equal(got, c.ids) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.ids)
		}
	}
	if got := tk.Decode([]int32{1, 9, 6, 3, 11, 12}); got != "<s> abc é" { // the strip only removes a space at the very start
		t.Errorf("Decode = %q", got)
	}
	if got := tk.DecodeSkipSpecial([]int32{1, 9, 6}); got != "abc" {
		t.Errorf("DecodeSkipSpecial = %q", got)
	}
	noPrefix, err := FromGGUF(GGUFVocab{Model: "llama", Tokens: toks, Scores: scores, TokenTypes: types, BOS: 1, EOS: 2, Unknown: 0, NoSpacePrefix: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := noPrefix.Encode("ab c", false); !slices.Equal(got, []int32{8, 3, 6}) {
		t.Errorf("without space prefix: %v", got)
	}
	if got := noPrefix.Decode([]int32{3, 8}); got != " ab" {
		t.Errorf("without space prefix, Decode = %q", got)
	}
}
