package model

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkForward times decode steps at batch 1 and 8 and a 64-token prefill on the "small" random
// shape (q8_0 and bf16 weights). Compare ns/token across sub-benchmarks of the same run: batching reads
// the weights once for all sequences, so a batch-8 token should cost a fraction of a batch-1 token.
func BenchmarkForward(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "small")
	if err := WriteRandom(dir, RandomOptions{Arch: ArchLlama, Shape: "small", Seed: 1}); err != nil {
		b.Fatal(err)
	}
	for _, dt := range []string{"q8_0", "bf16"} {
		m := mustLoad(b, dir, dt)
		const ctx = 128
		for _, batch := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/decode-batch%d", dt, batch), func(b *testing.B) {
				pool, _ := m.NewKVPool(batch*(ctx+64), 16)
				seqs := make([]Seq, batch)
				logits := make([][]float32, batch)
				for i := range seqs {
					slots := make([]int32, ctx+64)
					for j := range slots {
						slots[j] = int32(i*(ctx+64) + j)
					}
					prompt := make([]int32, ctx)
					for j := range prompt {
						prompt[j] = int32((i*31 + j*7) % 4000)
					}
					seqs[i] = Seq{Tokens: prompt, Slots: slots}
				}
				if err := m.Forward(seqs, pool, logits); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for n := 0; n < b.N; n++ {
					for i := range seqs {
						seqs[i].Pos, seqs[i].Tokens = ctx+n%64, []int32{int32(n % 4000)}
					}
					if err := m.Forward(seqs, pool, logits); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/token")
			})
		}
		b.Run(dt+"/prefill-64", func(b *testing.B) {
			pool, _ := m.NewKVPool(64, 16)
			prompt := make([]int32, 64)
			for j := range prompt {
				prompt[j] = int32(j * 13 % 4000)
			}
			logits := make([][]float32, 1)
			b.ReportAllocs()
			for n := 0; n < b.N; n++ {
				if err := m.Forward([]Seq{{Tokens: prompt, Slots: contiguous(64)}}, pool, logits); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64), "ns/token")
		})
	}
}
