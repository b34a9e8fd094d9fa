package engine

import (
	"fmt"
	"hash/fnv"
	"math"

	"github.com/radixops/radix/inference/kvcache"
)

// checkModel is a Runner for scheduler tests that makes KV mistakes visible. Forward writes each new
// token's (token id, position) into its K slot, then reads back every earlier position through Slots:
// a slot holding the wrong position (a page mapped wrongly, freed and reused, or never written) fails
// the step. The logits are a hash of the whole history read from the pool, so the generated tokens
// depend on every cached token being right, and cache on/off runs must agree token for token.
type checkModel struct {
	vocab int
	calls int
}

func (m *checkModel) VocabSize() int { return m.vocab }

func (m *checkModel) Forward(batch []Seq, kv *kvcache.Pool, logits [][]float32) error {
	m.calls++
	k, _ := kv.F32(0)
	for i, s := range batch {
		if len(s.Slots) != s.Pos+len(s.Tokens) {
			return fmt.Errorf("seq %d: %d slots for %d positions", i, len(s.Slots), s.Pos+len(s.Tokens))
		}
		for j, t := range s.Tokens {
			slot := s.Slots[s.Pos+j]
			k[2*slot], k[2*slot+1] = float32(t), float32(s.Pos+j)
		}
		h := fnv.New64a()
		var b [8]byte
		for p, slot := range s.Slots {
			if got := k[2*slot+1]; got != float32(p) {
				return fmt.Errorf("seq %d position %d: slot %d holds position %v", i, p, slot, got)
			}
			t := uint32(k[2*slot])
			b[0], b[1], b[2], b[3] = byte(t), byte(t>>8), byte(t>>16), byte(t>>24)
			h.Write(b[:4])
		}
		x := h.Sum64()
		for v := range logits[i] {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			logits[i][v] = float32(x%1000) / 100
		}
		if math.IsNaN(float64(logits[i][0])) {
			return fmt.Errorf("nan")
		}
	}
	return nil
}

func newCheckPool(tokens, pageSize int) *kvcache.Pool {
	p, err := kvcache.NewPool(kvcache.PoolConfig{Layers: 1, KVHeads: 1, HeadDim: 2, Tokens: tokens, PageSize: pageSize})
	if err != nil {
		panic(err)
	}
	return p
}
