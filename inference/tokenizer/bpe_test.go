package tokenizer

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"
)

// naiveMerge is the reference BPE: repeatedly merge the lowest-ranked pair, leftmost among equals,
// rescanning the whole word each time (quadratic, obviously right).
func naiveMerge(m *bpe, ids []int32) []int32 {
	ids = slices.Clone(ids)
	for {
		best, bestRank, bestID := -1, int32(0), int32(0)
		for i := 0; i+1 < len(ids); i++ {
			if r, ok := m.rule(ids[i], ids[i+1]); ok && (best < 0 || r.rank < bestRank) {
				best, bestRank, bestID = i, r.rank, r.id
			}
		}
		if best < 0 {
			return ids
		}
		ids = append(ids[:best+1], ids[best+2:]...)
		ids[best] = bestID
	}
}

func syntheticTokenizer(t testing.TB, vocab int) *Tokenizer {
	t.Helper()
	b, err := SyntheticByteLevel(vocab)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := SyntheticTokenizerConfig()
	if err != nil {
		t.Fatal(err)
	}
	tk, err := FromJSON(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// The heap-based merge agrees with the quadratic reference on arbitrary words, for ranked merges
// (byte-level) and merges by score (SentencePiece).
func TestMergeMatchesReference(t *testing.T) {
	bl := syntheticTokenizer(t, 1200)
	sp, err := FromGGUF(ggufFromHF(t, "spm.json", "llama"))
	if err != nil {
		t.Fatal(err)
	}
	alphabet := []rune("the cache tree prefix token eeee aaaa ssss  \n\t你好😀é▁")
	rapid.Check(t, func(rt *rapid.T) {
		rs := rapid.SliceOfN(rapid.SampledFrom(alphabet), 0, 200).Draw(rt, "runes")
		word := string(rs)
		for _, tk := range []*Tokenizer{bl, sp} {
			w := word
			if tk == bl {
				w = byteLevelEncode(word)
			}
			init := tk.model.initial(w)
			want := naiveMerge(tk.model, init)
			if got := tk.model.mergeHeap(slices.Clone(init)); !slices.Equal(got, want) {
				rt.Fatalf("mergeHeap(%q) = %v, reference %v", w, got, want)
			}
			if got := tk.model.merge(slices.Clone(init)); !slices.Equal(got, want) {
				rt.Fatalf("merge(%q) = %v, reference %v", w, got, want)
			}
		}
	})
}

// Encoding a long run of one character stays fast (n log n) and is cached only for short words.
func TestLongInputs(t *testing.T) {
	tk := syntheticTokenizer(t, 1000)
	for _, s := range []string{strings.Repeat(" ", 200000), strings.Repeat("a", 200000), strings.Repeat("ab1 ", 50000),
		strings.Repeat("😀", 50000), strings.Repeat("\n", 100000)} {
		ids := tk.Encode(s, false)
		if got := tk.Decode(ids); got != s {
			t.Fatalf("round trip of %d bytes failed", len(s))
		}
	}
}

func TestRoundTripProperty(t *testing.T) {
	tk := syntheticTokenizer(t, 800)
	rapid.Check(t, func(rt *rapid.T) {
		s := rapid.String().Draw(rt, "s")
		ids := tk.Encode(s, false)
		for _, id := range ids {
			if id < 0 || int(id) >= tk.VocabSize() {
				rt.Fatalf("id %d out of range", id)
			}
		}
		if utf8.ValidString(s) {
			if got := tk.Decode(ids); got != s {
				rt.Fatalf("Decode(Encode(%q)) = %q", s, got)
			}
		}
	})
}

func TestInvalidUTF8(t *testing.T) {
	tk := syntheticTokenizer(t, 800)
	s := "ok \xff\xfe bad \xe4\xb8 cut"
	ids := tk.Encode(s, false)
	// Byte-level tokens carry the raw bytes; Decode replaces invalid sequences like Rust's from_utf8_lossy.
	if got, want := tk.Decode(ids), "ok \uFFFD\uFFFD bad \uFFFD cut"; got != want {
		t.Fatalf("Decode = %q, want %q", got, want)
	}
	raw := tk.decode(ids, false, true)
	if raw != s {
		t.Fatalf("raw decode = %q, want %q", raw, s)
	}
}

func TestLossy(t *testing.T) {
	cases := map[string]string{
		"abc":                   "abc",
		"\xff":                  "\uFFFD",
		"\xff\xff":              "\uFFFD\uFFFD",
		"\xe2\x82":              "\uFFFD",
		"\xe2\x82A":             "\uFFFDA",
		"\xf0\x9f\x98":          "\uFFFD",
		"\xf0\x9f\x98\x80":      "😀",
		"\xed\xa0\x80":          "\uFFFD\uFFFD\uFFFD", // surrogate: E D is a lead whose second byte must be < A0
		"\xc0\x80":              "\uFFFD\uFFFD",
		"a\xe4\xb8\xe4\xb8\xad": "a\uFFFD中",
	}
	for in, want := range cases {
		if got := lossy([]byte(in)); got != want {
			t.Errorf("lossy(%q) = %q, want %q", in, got, want)
		}
	}
}

// Encode and Decode are used from many request goroutines at once (run under -race).
func TestConcurrentUse(t *testing.T) {
	tk := loadTestTokenizer(t, "bytelevel.json")
	texts := []string{"the cache tree", "你好 😀 123456", "def f(x):\n    return x\n", "I'm here <|eot_id|>"}
	want := make([][]int32, len(texts))
	for i, s := range texts {
		want[i] = tk.Encode(s, true)
	}
	tk2 := loadTestTokenizer(t, "bytelevel.json") // fresh cache, filled concurrently
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func(g int) {
			for k := 0; k < 200; k++ {
				i := (g + k) % len(texts)
				if got := tk2.Encode(texts[i], true); !slices.Equal(got, want[i]) {
					done <- fmt.Errorf("goroutine %d: Encode(%q) = %v, want %v", g, texts[i], got, want[i])
					return
				}
				_ = tk2.Decode(want[i])
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
