package model

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/radixops/radix/inference/kvcache"
)

// GenerateOptions control Generate.
type GenerateOptions struct {
	MaxTokens   int     // new tokens at most (default 128)
	Temperature float64 // 0: greedy; else sample from softmax(logits / Temperature)
	Seed        uint64  // sampling seed
	Stop        []int32 // token ids that end generation (not emitted)
	PageSize    int     // KV page size (default 16)
}

// GenerateStats reports what Generate did.
type GenerateStats struct {
	PromptTokens, NewTokens int
	StoppedByToken          bool
}

// Generate runs one sequence: prefills prompt in one step, then decodes until MaxTokens, a stop
// token or ctx ends, handing each new token to emit as it is chosen. It uses its own KV pool sized for
// the sequence. It is the single-request path of `radix generate`; the engine batches many requests.
func (m *Model) Generate(ctx context.Context, prompt []int32, opts GenerateOptions, emit func(int32) error) (GenerateStats, error) {
	st := GenerateStats{PromptTokens: len(prompt)}
	if len(prompt) == 0 {
		return st, fmt.Errorf("generate: empty prompt")
	}
	if opts.MaxTokens <= 0 {
		opts.MaxTokens = 128
	}
	if opts.PageSize <= 0 {
		opts.PageSize = kvcache.DefaultPageSize
	}
	if opts.Temperature < 0 || math.IsNaN(opts.Temperature) {
		return st, fmt.Errorf("generate: temperature %v must be >= 0", opts.Temperature)
	}
	total := min(len(prompt)+opts.MaxTokens, m.cfg.ContextLen)
	if len(prompt) >= total {
		return st, fmt.Errorf("generate: prompt of %d tokens leaves no room in the model's context of %d", len(prompt), m.cfg.ContextLen)
	}
	pages := (total + opts.PageSize - 1) / opts.PageSize
	pool, err := m.NewKVPool(pages*opts.PageSize, opts.PageSize)
	if err != nil {
		return st, fmt.Errorf("generate: %w", err)
	}
	table, err := pool.Alloc(pages)
	if err != nil {
		return st, fmt.Errorf("generate: %w", err)
	}
	slots := make([]int32, total)
	for i := range slots {
		slots[i] = table[i/opts.PageSize]*int32(opts.PageSize) + int32(i%opts.PageSize)
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x9e3779b97f4a7c15))
	logits := make([][]float32, 1)
	seq := Seq{Tokens: prompt, Pos: 0, Slots: slots}
	for pos := len(prompt); ; pos++ {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if err := m.Forward([]Seq{seq}, pool, logits); err != nil {
			return st, fmt.Errorf("generate: %w", err)
		}
		tok := Sample(logits[0], opts.Temperature, rng)
		if slices.Contains(opts.Stop, tok) {
			st.StoppedByToken = true
			return st, nil
		}
		st.NewTokens++
		if err := emit(tok); err != nil {
			return st, err
		}
		if st.NewTokens >= opts.MaxTokens || pos+1 >= total {
			return st, nil
		}
		seq = Seq{Tokens: []int32{tok}, Pos: pos, Slots: slots}
	}
}

// Sample picks a token: the argmax at temperature 0 (lowest id on ties), else a draw from
// softmax(logits/temperature). logits is not modified.
func Sample(logits []float32, temperature float64, rng *rand.Rand) int32 {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	if temperature == 0 {
		return int32(best)
	}
	mx := float64(logits[best])
	sum := 0.0
	for _, v := range logits {
		sum += math.Exp((float64(v) - mx) / temperature)
	}
	r := rng.Float64() * sum
	for i, v := range logits {
		r -= math.Exp((float64(v) - mx) / temperature)
		if r <= 0 {
			return int32(i)
		}
	}
	return int32(best)
}
