package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

func benchText(t testing.TB) string {
	var sb strings.Builder
	for _, set := range loadGoldens(t) {
		if set.Tokenizer == "bytelevel.json" {
			for _, c := range set.Cases {
				sb.WriteString(c.Text)
				sb.WriteByte('\n')
			}
		}
	}
	return sb.String()
}

// BenchmarkEncode: encode throughput on the golden corpus (mixed scripts, emoji, code), with the word
// cache warm and, as the baseline, with the cache off.
func BenchmarkEncode(b *testing.B) {
	text := benchText(b)
	for _, name := range []string{"bytelevel", "spm"} {
		for _, cached := range []bool{true, false} {
			tk := loadTestTokenizer(b, name+".json")
			tk.model.noCache = !cached
			label := name + "/cached"
			if !cached {
				label = name + "/nocache"
			}
			b.Run(label, func(b *testing.B) {
				b.SetBytes(int64(len(text)))
				b.ReportAllocs()
				n := 0
				for i := 0; i < b.N; i++ {
					n = len(tk.Encode(text, false))
				}
				b.ReportMetric(float64(n), "tokens/op")
			})
		}
	}
}

// BenchmarkMergeLongWord: the heap merge against the quadratic reference on one 2,000-character word.
func BenchmarkMergeLongWord(b *testing.B) {
	tk := syntheticTokenizer(b, 1000)
	word := byteLevelEncode(strings.Repeat("the cache tree ", 134)[:2000])
	init := tk.model.initial(word)
	b.Run("heap", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			tk.model.mergeHeap(slices.Clone(init))
		}
	})
	b.Run("naive", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			naiveMerge(tk.model, init)
		}
	})
}

// BenchmarkStream: cost per generated token of the streaming detokeniser.
func BenchmarkStream(b *testing.B) {
	text := benchText(b)
	for _, name := range []string{"bytelevel", "spm"} {
		tk := loadTestTokenizer(b, name+".json")
		ids := tk.Encode(text, false)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			st := tk.NewStream()
			for i := 0; i < b.N; i++ {
				st.Add(ids[i%len(ids)])
			}
		})
	}
}
