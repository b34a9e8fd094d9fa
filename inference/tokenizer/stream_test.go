package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"
)

func streamAll(tk *Tokenizer, ids []int32) (chunks []string) {
	st := tk.NewStream()
	for _, id := range ids {
		chunks = append(chunks, st.Add(id))
	}
	return append(chunks, st.Flush())
}

// checkStream: every chunk is valid UTF-8; when the whole decoding is valid UTF-8 the chunks add up to it.
func checkStream(t interface{ Fatalf(string, ...any) }, tk *Tokenizer, ids []int32) {
	chunks := streamAll(tk, ids)
	for _, c := range chunks {
		if !utf8.ValidString(c) {
			t.Fatalf("stream of %v emitted invalid UTF-8 %q", ids, c)
		}
	}
	if raw := tk.decode(ids, true, true); utf8.ValidString(raw) {
		if got, want := strings.Join(chunks, ""), tk.DecodeSkipSpecial(ids); got != want {
			t.Fatalf("stream of %v = %q, want %q", ids, got, want)
		}
	}
}

func TestStreamProperty(t *testing.T) {
	tks := map[string]*Tokenizer{"bytelevel": loadTestTokenizer(t, "bytelevel.json"), "spm": loadTestTokenizer(t, "spm.json"),
		"spm_metaspace": loadTestTokenizer(t, "spm_metaspace.json")}
	for name, tk := range tks {
		t.Run(name, func(t *testing.T) {
			rapid.Check(t, func(rt *rapid.T) {
				ids := rapid.SliceOfN(rapid.Int32Range(0, int32(tk.VocabSize()-1)), 0, 40).Draw(rt, "ids")
				checkStream(rt, tk, ids)
			})
			// Ids of real text: the stream reproduces it, whatever splits characters across tokens.
			for _, set := range loadGoldens(t) {
				if set.Tokenizer != name+".json" {
					continue
				}
				for _, c := range set.Cases {
					checkStream(t, tk, c.IDsSpecial)
				}
			}
		})
	}
}

// A character split over byte tokens is held back until complete; an impossible byte becomes U+FFFD at
// once; the SentencePiece leading space is stripped only at the start of the stream.
func TestStreamHoldsIncomplete(t *testing.T) {
	sp := loadTestTokenizer(t, "spm.json")
	id := func(tok string) int32 {
		i, ok := sp.TokenID(tok)
		if !ok {
			t.Fatalf("no token %q", tok)
		}
		return i
	}
	st := sp.NewStream()
	steps := []struct {
		id   int32
		want string
	}{
		{id("▁"), ""}, // the leading space is stripped
		{id("a"), "a"},
		{id("<0xF0>"), ""}, {id("<0x9F>"), ""}, {id("<0x98>"), ""}, {id("<0x80>"), "😀"},
		{id("▁b"), " b"},
		{id("<0xFF>"), "\uFFFD"},
		{id("<0xE4>"), ""}, {id("<s>"), ""},
	}
	for i, s := range steps {
		if got := st.Add(s.id); got != s.want {
			t.Fatalf("step %d: Add(%q) = %q, want %q", i, sp.Token(s.id), got, s.want)
		}
	}
	if got := st.Flush(); got != "\uFFFD" {
		t.Fatalf("Flush = %q, want U+FFFD for the incomplete byte", got)
	}
	if got := st.Add(id("▁t")); got != " t" {
		t.Fatalf("after Flush: %q", got)
	}

	bl := syntheticTokenizer(t, 600)
	ids := bl.Encode("x 你好👍🏽 y", false)
	var out strings.Builder
	st = bl.NewStream()
	for _, id := range ids {
		s := st.Add(id)
		if !utf8.ValidString(s) {
			t.Fatalf("invalid chunk %q", s)
		}
		out.WriteString(s)
	}
	out.WriteString(st.Flush())
	if out.String() != "x 你好👍🏽 y" {
		t.Fatalf("stream = %q", out.String())
	}
}
