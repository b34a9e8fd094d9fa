package engine

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// SamplingParams are the per-request knobs of OpenAI/SGLang sampling. The zero value is greedy decoding
// until a stop token or MaxNewTokens.
type SamplingParams struct {
	MaxNewTokens int     // required > 0 (the server fills its default)
	Temperature  float64 // 0: greedy
	TopP         float64 // 0 or 1: off
	TopK         int     // 0 or -1: off
	MinP         float64 // 0: off

	PresencePenalty   float64 // OpenAI: subtracted once from every token already generated
	FrequencyPenalty  float64 // OpenAI: subtracted per occurrence in the output
	RepetitionPenalty float64 // HF/SGLang: divide positive (multiply negative) logits of seen tokens; 0 or 1: off

	Seed         *uint64 // same seed, same prompt, same params ⇒ same output
	StopTokenIDs []int32 // besides the model's own EOS ids (unless IgnoreEOS)
	IgnoreEOS    bool

	// TopLogprobs > 0 asks for that many alternatives per token; Logprobs asks for the chosen token's.
	Logprobs    bool
	TopLogprobs int
}

// Validate checks the ranges the OpenAI API documents; the server turns the error into a 400.
func (p SamplingParams) Validate() error {
	switch {
	case p.MaxNewTokens <= 0:
		return fmt.Errorf("max_tokens must be positive, got %d", p.MaxNewTokens)
	case p.Temperature < 0 || p.Temperature > 2 || math.IsNaN(p.Temperature):
		return fmt.Errorf("temperature must be in [0, 2], got %v", p.Temperature)
	case p.TopP < 0 || p.TopP > 1 || math.IsNaN(p.TopP):
		return fmt.Errorf("top_p must be in [0, 1], got %v", p.TopP)
	case p.TopK < -1:
		return fmt.Errorf("top_k must be -1, 0 or positive, got %d", p.TopK)
	case p.MinP < 0 || p.MinP > 1 || math.IsNaN(p.MinP):
		return fmt.Errorf("min_p must be in [0, 1], got %v", p.MinP)
	case p.PresencePenalty < -2 || p.PresencePenalty > 2 || math.IsNaN(p.PresencePenalty):
		return fmt.Errorf("presence_penalty must be in [-2, 2], got %v", p.PresencePenalty)
	case p.FrequencyPenalty < -2 || p.FrequencyPenalty > 2 || math.IsNaN(p.FrequencyPenalty):
		return fmt.Errorf("frequency_penalty must be in [-2, 2], got %v", p.FrequencyPenalty)
	case p.RepetitionPenalty < 0 || p.RepetitionPenalty > 2 || math.IsNaN(p.RepetitionPenalty):
		return fmt.Errorf("repetition_penalty must be in (0, 2], got %v", p.RepetitionPenalty)
	case p.TopLogprobs < 0 || p.TopLogprobs > 20:
		return fmt.Errorf("top_logprobs must be in [0, 20], got %d", p.TopLogprobs)
	}
	return nil
}

// TokenLogprob is one token and its log-probability under the (penalised, untempered) distribution.
type TokenLogprob struct {
	Token   int32
	Logprob float32
}

// ErrBadLogits is returned when the model produced no usable logits (empty, or all NaN/-Inf).
var ErrBadLogits = errors.New("engine: logits have no finite value")

// Sampler is one request's sampling state: its RNG and the token counts penalties need. Not safe for
// concurrent use; the scheduler loop owns it.
type Sampler struct {
	p      SamplingParams
	rng    *rand.Rand
	counts map[int32]int  // output token -> occurrences (presence/frequency)
	seen   map[int32]bool // prompt and output tokens (repetition)

	idx   []int32   // scratch: candidate ids
	probs []float64 // scratch: candidate probabilities
}

// NewSampler prepares sampling for one request. Without a seed the RNG is seeded from fallbackSeed (the
// engine passes a per-request random value).
func NewSampler(p SamplingParams, prompt []int32, fallbackSeed uint64) *Sampler {
	seed := fallbackSeed
	if p.Seed != nil {
		seed = *p.Seed
	}
	s := &Sampler{p: p, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), counts: map[int32]int{}}
	if p.RepetitionPenalty > 0 && p.RepetitionPenalty != 1 {
		s.seen = make(map[int32]bool, len(prompt))
		for _, t := range prompt {
			s.seen[t] = true
		}
	}
	return s
}

// Reset returns the sampler to its state right after NewSampler (used when a retracted request is
// recomputed: the same seed must give the same tokens).
func (s *Sampler) Reset(prompt []int32, fallbackSeed uint64) {
	*s = *NewSampler(s.p, prompt, fallbackSeed)
}

// Observe records a generated token for the penalties.
func (s *Sampler) Observe(tok int32) {
	s.counts[tok]++
	if s.seen != nil {
		s.seen[tok] = true
	}
}

// Sample picks the next token from logits (which it modifies in place: penalties applied). It returns
// the token, its logprob, and the top alternatives when asked for.
func (s *Sampler) Sample(logits []float32) (int32, float32, []TokenLogprob, error) {
	if len(logits) == 0 {
		return 0, 0, nil, ErrBadLogits
	}
	s.penalise(logits)
	best := argmax(logits)
	if math.IsNaN(float64(logits[best])) || math.IsInf(float64(logits[best]), -1) {
		return 0, 0, nil, ErrBadLogits
	}
	var tok int32
	if s.p.Temperature == 0 {
		tok = int32(best)
	} else {
		tok = s.sampleTempered(logits, best)
	}
	var lp float32
	var top []TokenLogprob
	if s.p.Logprobs || s.p.TopLogprobs > 0 {
		lse := logSumExp(logits, logits[best])
		lp = float32(float64(logits[tok]) - lse)
		if s.p.TopLogprobs > 0 {
			top = topK(logits, s.p.TopLogprobs, lse)
		}
	}
	return tok, lp, top, nil
}

func (s *Sampler) penalise(logits []float32) {
	p := s.p
	if p.PresencePenalty != 0 || p.FrequencyPenalty != 0 {
		for t, n := range s.counts {
			if int(t) < len(logits) {
				logits[t] -= float32(p.FrequencyPenalty*float64(n) + p.PresencePenalty)
			}
		}
	}
	if s.seen != nil {
		rp := float32(p.RepetitionPenalty)
		for t := range s.seen {
			if int(t) < 0 || int(t) >= len(logits) {
				continue
			}
			if logits[t] > 0 {
				logits[t] /= rp
			} else {
				logits[t] *= rp
			}
		}
	}
}

// sampleTempered applies temperature, top-k, top-p and min-p, then draws. Candidates are kept sorted by
// probability descending, ties by id, so the draw depends only on the logits and the RNG.
func (s *Sampler) sampleTempered(logits []float32, best int) int32 {
	p := s.p
	maxL := float64(logits[best])
	s.idx = s.idx[:0]
	for i, l := range logits {
		if !math.IsNaN(float64(l)) && !math.IsInf(float64(l), -1) {
			s.idx = append(s.idx, int32(i))
		}
	}
	sort.Slice(s.idx, func(a, b int) bool {
		la, lb := logits[s.idx[a]], logits[s.idx[b]]
		if la != lb {
			return la > lb
		}
		return s.idx[a] < s.idx[b]
	})
	if p.TopK > 0 && p.TopK < len(s.idx) {
		s.idx = s.idx[:p.TopK]
	}
	s.probs = s.probs[:0]
	var sum float64
	for _, i := range s.idx {
		e := math.Exp((float64(logits[i]) - maxL) / p.Temperature)
		s.probs = append(s.probs, e)
		sum += e
	}
	n := len(s.idx)
	if p.TopP > 0 && p.TopP < 1 {
		var cum float64
		for k, e := range s.probs {
			cum += e / sum
			if cum >= p.TopP {
				n = k + 1
				break
			}
		}
	}
	if p.MinP > 0 {
		floor := p.MinP * s.probs[0] // probs[0] is the largest
		for k := 1; k < n; k++ {
			if s.probs[k] < floor {
				n = k
				break
			}
		}
	}
	var total float64
	for _, e := range s.probs[:n] {
		total += e
	}
	r := s.rng.Float64() * total
	for k, e := range s.probs[:n] {
		r -= e
		if r < 0 {
			return s.idx[k]
		}
	}
	return s.idx[n-1]
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] || math.IsNaN(float64(x[best])) {
			best = i
		}
	}
	return best
}

func logSumExp(x []float32, maxV float32) float64 {
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v - maxV))
	}
	return float64(maxV) + math.Log(sum)
}

// topK returns the k highest logits as logprobs, highest first, ties by id.
func topK(logits []float32, k int, lse float64) []TokenLogprob {
	if k > len(logits) {
		k = len(logits)
	}
	out := make([]TokenLogprob, 0, k+1)
	for i, l := range logits {
		if math.IsNaN(float64(l)) {
			continue
		}
		lp := float32(float64(l) - lse)
		if len(out) == k && lp <= out[k-1].Logprob {
			continue
		}
		j := len(out)
		if j < k {
			out = append(out, TokenLogprob{})
		} else {
			j = k - 1
		}
		for j > 0 && out[j-1].Logprob < lp {
			out[j] = out[j-1]
			j--
		}
		out[j] = TokenLogprob{Token: int32(i), Logprob: lp}
	}
	return out
}
