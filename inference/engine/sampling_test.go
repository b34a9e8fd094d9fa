package engine

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func randomLogits(r *rand.Rand, n int) []float32 {
	l := make([]float32, n)
	for i := range l {
		l[i] = float32(r.NormFloat64() * 3)
	}
	return l
}

func draw(t *testing.T, p SamplingParams, seed uint64, steps int) []int32 {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	s := NewSampler(p, []int32{1, 2, 3}, seed)
	var out []int32
	for range steps {
		tok, _, _, err := s.Sample(randomLogits(r, 64))
		if err != nil {
			t.Fatal(err)
		}
		s.Observe(tok)
		out = append(out, tok)
	}
	return out
}

func TestSeedDeterminism(t *testing.T) {
	seed := uint64(42)
	p := SamplingParams{MaxNewTokens: 1, Temperature: 1, TopP: 0.9, TopK: 40, Seed: &seed, FrequencyPenalty: 0.5}
	a, b := draw(t, p, 1, 200), draw(t, p, 2, 200) // fallback seeds differ; the request seed wins
	if !slicesEqual(a, b) {
		t.Fatalf("same seed gave different tokens:\n%v\n%v", a, b)
	}
	other := uint64(43)
	p.Seed = &other
	if slicesEqual(a, draw(t, p, 1, 200)) {
		t.Fatal("different seeds gave identical 200-token outputs")
	}
}

func slicesEqual(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGreedyAndTopK1(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		l := randomLogits(r, 50)
		want := int32(argmax(l))
		g := NewSampler(SamplingParams{MaxNewTokens: 1}, nil, 9)
		tok, _, _, _ := g.Sample(append([]float32(nil), l...))
		k1 := NewSampler(SamplingParams{MaxNewTokens: 1, Temperature: 1.5, TopK: 1}, nil, 9)
		tok2, _, _, _ := k1.Sample(append([]float32(nil), l...))
		mp := NewSampler(SamplingParams{MaxNewTokens: 1, Temperature: 1, MinP: 1}, nil, 9)
		tok3, _, _, _ := mp.Sample(append([]float32(nil), l...))
		if tok != want || tok2 != want || tok3 != want {
			t.Fatalf("greedy %d, top-k 1 %d, min-p 1 %d, want %d", tok, tok2, tok3, want)
		}
	}
}

// Sampling at temperature 1 with no truncation follows softmax(logits): a chi-square-free sanity check
// with a loose bound on a 3-token distribution.
func TestSamplingDistribution(t *testing.T) {
	l := []float32{0, float32(math.Log(2)), float32(math.Log(5))} // probs 1/8, 2/8, 5/8
	s := NewSampler(SamplingParams{MaxNewTokens: 1, Temperature: 1}, nil, 3)
	var n [3]int
	const N = 20000
	for range N {
		tok, _, _, _ := s.Sample(append([]float32(nil), l...))
		n[tok]++
	}
	for i, want := range []float64{1.0 / 8, 2.0 / 8, 5.0 / 8} {
		if got := float64(n[i]) / N; math.Abs(got-want) > 0.02 {
			t.Fatalf("token %d frequency %.3f, want %.3f", i, got, want)
		}
	}
	// top-p 0.5 keeps only the 5/8 token.
	s = NewSampler(SamplingParams{MaxNewTokens: 1, Temperature: 1, TopP: 0.5}, nil, 3)
	for range 1000 {
		if tok, _, _, _ := s.Sample(append([]float32(nil), l...)); tok != 2 {
			t.Fatalf("top-p 0.5 drew %d", tok)
		}
	}
}

func TestPenalties(t *testing.T) {
	l := []float32{1, 1.5, 1}
	s := NewSampler(SamplingParams{MaxNewTokens: 1, PresencePenalty: 1}, nil, 0)
	s.Observe(1)
	if tok, _, _, _ := s.Sample(append([]float32(nil), l...)); tok != 0 {
		t.Fatalf("presence penalty: got %d, want 0", tok)
	}
	s = NewSampler(SamplingParams{MaxNewTokens: 1, RepetitionPenalty: 2}, []int32{1}, 0)
	if tok, _, _, _ := s.Sample(append([]float32(nil), l...)); tok != 0 {
		t.Fatalf("repetition penalty over the prompt: got %d, want 0", tok)
	}
	s = NewSampler(SamplingParams{MaxNewTokens: 1, FrequencyPenalty: 0.3}, nil, 0)
	s.Observe(1)
	if tok, _, _, _ := s.Sample(append([]float32(nil), l...)); tok != 1 {
		t.Fatal("one occurrence at 0.3 should not outweigh a 0.5 lead")
	}
	s.Observe(1)
	if tok, _, _, _ := s.Sample(append([]float32(nil), l...)); tok != 0 {
		t.Fatal("two occurrences at 0.3 should outweigh a 0.5 lead")
	}
}

func TestLogprobs(t *testing.T) {
	l := []float32{0, float32(math.Log(3)), -1e30}
	s := NewSampler(SamplingParams{MaxNewTokens: 1, Logprobs: true, TopLogprobs: 2}, nil, 0)
	tok, lp, top, err := s.Sample(l)
	if err != nil || tok != 1 || math.Abs(float64(lp)-math.Log(0.75)) > 1e-5 {
		t.Fatalf("tok %d lp %v err %v", tok, lp, err)
	}
	if len(top) != 2 || top[0].Token != 1 || top[1].Token != 0 || math.Abs(float64(top[1].Logprob)-math.Log(0.25)) > 1e-5 {
		t.Fatalf("top %+v", top)
	}
	if _, _, _, err := NewSampler(SamplingParams{MaxNewTokens: 1}, nil, 0).Sample([]float32{float32(math.Inf(-1))}); err == nil {
		t.Fatal("all -Inf logits accepted")
	}
}

func TestValidate(t *testing.T) {
	ok := SamplingParams{MaxNewTokens: 1, Temperature: 0.7, TopP: 0.9}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []SamplingParams{{}, {MaxNewTokens: 1, Temperature: 3}, {MaxNewTokens: 1, TopP: 1.1},
		{MaxNewTokens: 1, TopK: -2}, {MaxNewTokens: 1, PresencePenalty: 3}, {MaxNewTokens: 1, TopLogprobs: 21},
		{MaxNewTokens: 1, Temperature: math.NaN()}} {
		if bad.Validate() == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

// Reference: cut the whole text at the first occurrence of any stop string.
func refStop(text string, stops []string) (string, bool) {
	cut := -1
	for _, s := range stops {
		if s == "" {
			continue
		}
		if i := strings.Index(text, s); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut < 0 {
		return text, false
	}
	return text[:cut], true
}

// However the text is chunked, what the matcher emits equals the reference cut of the whole text, and
// no emitted prefix ever contains the start of a stop string that later completes.
func TestStopMatcherAcrossChunks(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		alpha := rapid.SampledFrom([]string{"a", "b", "c", "é", "\n"})
		word := func(label string, min, max int) string {
			parts := rapid.SliceOfN(alpha, min, max).Draw(t, label)
			return strings.Join(parts, "")
		}
		text := word("text", 0, 40)
		stops := []string{word("stop1", 1, 4), word("stop2", 0, 3)}
		var chunks []string
		rest := text
		for len(rest) > 0 {
			n := rapid.IntRange(1, len(rest)).Draw(t, "n")
			for n < len(rest) && !utf8Start(rest[n]) {
				n++
			}
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		m := NewStopMatcher(stops)
		var got strings.Builder
		stopped := false
		for _, c := range chunks {
			e, s := m.Push(c)
			got.WriteString(e)
			if s {
				stopped = true
				break
			}
		}
		if !stopped {
			got.WriteString(m.Flush())
		}
		want, wantStop := refStop(text, stops)
		if got.String() != want || stopped != wantStop {
			t.Fatalf("chunks %q stops %q: got %q (stop %v), want %q (stop %v)", chunks, stops, got.String(), stopped, want, wantStop)
		}
	})
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

func TestStopMatcherSplitExample(t *testing.T) {
	m := NewStopMatcher([]string{"</s>"})
	var out []string
	for _, c := range []string{"Hello <", "/", "s> world"} {
		e, _ := m.Push(c)
		out = append(out, e)
	}
	if strings.Join(out, "|") != "Hello ||" || !m.Stopped() {
		t.Fatalf("emitted %q", out)
	}
}
