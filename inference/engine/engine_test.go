package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/radixops/radix/inference/telemetry"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type harness struct {
	e      *Engine
	log    *syncBuf
	cancel context.CancelFunc
	done   chan error
}

func startEngine(t *testing.T, poolTokens, pageSize int, cfg Config) *harness {
	t.Helper()
	h := &harness{log: &syncBuf{}, done: make(chan error, 1)}
	if cfg.ContextLen == 0 {
		cfg.ContextLen = 4096
	}
	if cfg.StopTokenIDs == nil {
		cfg.StopTokenIDs = []int32{0}
	}
	cfg.Logger = telemetry.NewLogger(h.log, "radix::scheduler")
	e, err := New(&checkModel{vocab: 97}, newCheckPool(poolTokens, pageSize), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-h.done
	})
	return h
}

type result struct {
	tokens []int32
	last   Output
	err    error
}

func collect(ctx context.Context, s *Stream) result {
	var r result
	for {
		o, err := s.Recv(ctx)
		if errors.Is(err, io.EOF) {
			return r
		}
		if err != nil {
			r.err = err
			return r
		}
		if o.HasToken && !o.StopToken {
			r.tokens = append(r.tokens, o.Token)
		}
		if o.Finish != "" {
			r.last = o
		}
	}
}

func (h *harness) generate(t *testing.T, prompt []int32, maxNew int) result {
	t.Helper()
	s, err := h.e.Submit(context.Background(), Request{Tokens: prompt, Params: SamplingParams{MaxNewTokens: maxNew}})
	if err != nil {
		t.Fatal(err)
	}
	r := collect(context.Background(), s)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.last.Finish == FinishAbort {
		t.Fatalf("request aborted: %v", r.last.Err)
	}
	return r
}

func (h *harness) check(t *testing.T, idle bool) {
	t.Helper()
	if err := h.e.CheckInvariant(context.Background()); err != nil {
		t.Fatal(err)
	}
	if idle {
		u := h.e.Pool().Usage()
		if u.InFlightPages != 0 || u.ProtectedPages != 0 {
			t.Fatalf("idle engine holds pages: %+v", u)
		}
	}
}

func seqTokens(r *rand.Rand, n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = 1 + int32(r.IntN(96))
	}
	return out
}

// The cache test of the blueprint README at the scheduler level: the second and third identical
// requests report cached tokens and skip that prefill, and generate the same tokens.
func TestIdenticalRequestsHitCache(t *testing.T) {
	h := startEngine(t, 4096, 16, Config{})
	prompt := seqTokens(rand.New(rand.NewPCG(1, 1)), 100)
	var outs []result
	var computed []uint64
	for range 3 {
		before := h.e.Stats().PrefillTokens
		outs = append(outs, h.generate(t, prompt, 20))
		computed = append(computed, h.e.Stats().PrefillTokens-before)
	}
	if outs[0].last.CachedTokens != 0 {
		t.Fatalf("first request reported %d cached tokens", outs[0].last.CachedTokens)
	}
	for i := 1; i < 3; i++ {
		if outs[i].last.CachedTokens != 96 { // page-aligned prefix of the 99 matchable tokens
			t.Fatalf("request %d: cached %d, want 96", i+1, outs[i].last.CachedTokens)
		}
		if computed[i] != 4 {
			t.Fatalf("request %d computed %d prefill tokens, want 4 (the rest skipped)", i+1, computed[i])
		}
		if !equal(outs[i].tokens, outs[0].tokens) {
			t.Fatalf("cached run differs:\n%v\n%v", outs[i].tokens, outs[0].tokens)
		}
	}
	if computed[0] != 100 {
		t.Fatalf("first request computed %d prefill tokens, want 100", computed[0])
	}
	st := h.e.Stats()
	if st.CachedTokens != 192 || st.PromptTokens != 300 {
		t.Fatalf("counters: cached %d prompt %d", st.CachedTokens, st.PromptTokens)
	}
	var cs telemetry.CacheStats
	for _, l := range strings.Split(h.log.String(), "\n") {
		cs.AddLine(l)
	}
	if cs.PrefillBatches != 3 || cs.CachedTokens != 192 || cs.MaxTotalTokens != 4096 {
		t.Fatalf("log-derived stats %+v\n%s", cs, h.log.String())
	}
	h.check(t, true)
}

func equal(a, b []int32) bool {
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

type workItem struct {
	prompt []int32
	maxNew int
}

func sharedPrefixWork(seed uint64, groups, perGroup, sysLen, qLen, maxNew int) []workItem {
	r := rand.New(rand.NewPCG(seed, 3))
	var w []workItem
	for range groups {
		sys := seqTokens(r, sysLen)
		for range perGroup {
			p := append(append([]int32(nil), sys...), seqTokens(r, 1+r.IntN(qLen))...)
			w = append(w, workItem{p, 1 + r.IntN(maxNew)})
		}
	}
	r.Shuffle(len(w), func(i, j int) { w[i], w[j] = w[j], w[i] })
	return w
}

func runConcurrent(t *testing.T, h *harness, w []workItem) []result {
	t.Helper()
	out := make([]result, len(w))
	var wg sync.WaitGroup
	for i, it := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = h.generate(t, it.prompt, it.maxNew)
		}()
	}
	wg.Wait()
	return out
}

// With the cache on, chunked prefill, a tight pool (retractions) and either policy, every request
// generates exactly what it generates alone with the cache off and a roomy pool: the cached and
// recomputed KV is right. Afterwards every page is accounted for.
func TestSchedulerMatchesReference(t *testing.T) {
	w := sharedPrefixWork(7, 4, 6, 70, 30, 40)
	ref := startEngine(t, 1<<14, 16, Config{DisableRadixCache: true, MaxRunningRequests: 1})
	want := make([]result, len(w))
	for i, it := range w {
		want[i] = ref.generate(t, it.prompt, it.maxNew)
	}
	ref.check(t, true)
	cases := []struct {
		name  string
		pool  int
		page  int
		cfg   Config
		retry bool
	}{
		{"lpm", 4096, 16, Config{}, false},
		{"fcfs page1", 4096, 1, Config{Policy: PolicyFCFS}, false},
		{"chunked", 4096, 16, Config{ChunkedPrefillSize: 32}, false},
		{"nocache", 4096, 16, Config{DisableRadixCache: true}, false},
		{"tight pool", 320, 16, Config{ChunkedPrefillSize: 64}, true},
		{"tight pool page4", 300, 4, Config{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := startEngine(t, c.pool, c.page, c.cfg)
			got := runConcurrent(t, h, w)
			for i := range w {
				if !equal(got[i].tokens, want[i].tokens) || got[i].last.Finish != want[i].last.Finish {
					t.Fatalf("request %d: got %v (%s), want %v (%s)", i, got[i].tokens, got[i].last.Finish, want[i].tokens, want[i].last.Finish)
				}
			}
			h.check(t, true)
			st := h.e.Stats()
			if !c.cfg.DisableRadixCache && st.CachedTokens == 0 {
				t.Fatal("shared prefixes produced no cache hits")
			}
			if c.retry && st.Retracted > 0 && !strings.Contains(h.log.String(), "KV cache pool is full. Retract requests.") {
				t.Fatal("retracted without logging it")
			}
			t.Logf("%s: hit rate %.2f, retracted %d, steps %d", c.name, st.HitRate(), st.Retracted, st.Steps)
		})
	}
}

func TestRejectsAtOnce(t *testing.T) {
	h := startEngine(t, 64, 16, Config{ContextLen: 100})
	ctx := context.Background()
	p := SamplingParams{MaxNewTokens: 4}
	if _, err := h.e.Submit(ctx, Request{Tokens: make([]int32, 100), Params: p}); !errors.Is(err, ErrPromptTooLong) {
		t.Fatalf("prompt at context length: %v", err)
	}
	if _, err := h.e.Submit(ctx, Request{Tokens: make([]int32, 64), Params: p}); !errors.Is(err, ErrNeverFits) {
		t.Fatalf("prompt larger than the pool: %v", err)
	}
	if _, err := h.e.Submit(ctx, Request{Params: p}); !errors.Is(err, ErrEmptyPrompt) {
		t.Fatalf("empty prompt: %v", err)
	}
	if _, err := h.e.Submit(ctx, Request{Tokens: []int32{1}, Params: SamplingParams{}}); err == nil {
		t.Fatal("max_tokens 0 accepted")
	}
	// A request that fits the pool only alone still completes (ending with length when the pool is full).
	r := h.generate(t, seqTokens(rand.New(rand.NewPCG(2, 2)), 50), 40)
	if r.last.Finish != FinishLength && r.last.Finish != FinishStop {
		t.Fatalf("finish %q", r.last.Finish)
	}
	h.check(t, true)
}

// Cancelling requests at random points (queued, prefilling, decoding) frees everything they held.
func TestCancellationFreesEverything(t *testing.T) {
	h := startEngine(t, 2048, 16, Config{ChunkedPrefillSize: 48})
	w := sharedPrefixWork(11, 3, 10, 60, 40, 200)
	rng := rand.New(rand.NewPCG(5, 5))
	var wg sync.WaitGroup
	for _, it := range w {
		ctx, cancel := context.WithCancel(context.Background())
		s, err := h.e.Submit(ctx, Request{Tokens: it.prompt, Params: SamplingParams{MaxNewTokens: it.maxNew, Temperature: 1}})
		if err != nil {
			t.Fatal(err)
		}
		after := rng.IntN(20)
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for {
				o, err := s.Recv(context.Background())
				if err != nil {
					return
				}
				n++
				if n == after {
					if after%2 == 0 {
						cancel()
					} else {
						s.Cancel()
					}
				}
				if o.Finish != "" {
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	h.check(t, true)
	if h.e.Stats().Aborted == 0 {
		t.Fatal("no request was cancelled")
	}
}

func TestSeededSamplingThroughEngine(t *testing.T) {
	h := startEngine(t, 4096, 16, Config{})
	seed := uint64(99)
	p := SamplingParams{MaxNewTokens: 30, Temperature: 0.9, TopP: 0.95, Seed: &seed}
	prompt := seqTokens(rand.New(rand.NewPCG(3, 3)), 40)
	var first []int32
	for i := range 3 {
		s, err := h.e.Submit(context.Background(), Request{Tokens: prompt, Params: p})
		if err != nil {
			t.Fatal(err)
		}
		r := collect(context.Background(), s)
		if i == 0 {
			first = r.tokens
		} else if !equal(first, r.tokens) {
			t.Fatalf("same seed, different output:\n%v\n%v", first, r.tokens)
		}
	}
}

func TestDrain(t *testing.T) {
	h := startEngine(t, 4096, 16, Config{})
	s, err := h.e.Submit(context.Background(), Request{Tokens: []int32{1, 2, 3}, Params: SamplingParams{MaxNewTokens: 50, IgnoreEOS: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.e.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := collect(context.Background(), s); len(r.tokens) != 50 || r.last.Finish != FinishLength {
		t.Fatalf("drained request ended with %d tokens, %q", len(r.tokens), r.last.Finish)
	}
	if _, err := h.e.Submit(context.Background(), Request{Tokens: []int32{1}, Params: SamplingParams{MaxNewTokens: 1}}); !errors.Is(err, ErrDraining) {
		t.Fatalf("submit while draining: %v", err)
	}
}

// Long generations on a small pool: once the new-token ratio has decayed, admission overcommits and
// decode runs out of pages, so requests are retracted (logged), re-queued and recomputed from the
// cache — and still generate exactly what they generate alone.
func TestRetractionKeepsOutputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	var prompts [][]int32
	for range 24 {
		prompts = append(prompts, seqTokens(rng, 20+rng.IntN(30)))
	}
	p := SamplingParams{MaxNewTokens: 300, IgnoreEOS: true}
	ref := startEngine(t, 1<<14, 16, Config{DisableRadixCache: true})
	want := make([][]int32, len(prompts))
	for i, pr := range prompts {
		s, _ := ref.e.Submit(context.Background(), Request{Tokens: pr, Params: p})
		want[i] = collect(context.Background(), s).tokens
	}
	h := startEngine(t, 1024, 16, Config{})
	var wg sync.WaitGroup
	got := make([][]int32, len(prompts))
	for i, pr := range prompts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := h.e.Submit(context.Background(), Request{Tokens: pr, Params: p})
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = collect(context.Background(), s).tokens
		}()
	}
	wg.Wait()
	for i := range prompts {
		if !equal(got[i], want[i]) {
			t.Fatalf("request %d differs after retraction:\n%v\n%v", i, got[i], want[i])
		}
	}
	st := h.e.Stats()
	if st.Retracted == 0 {
		t.Fatal("the pool never ran out: no retraction exercised")
	}
	var cs telemetry.CacheStats
	for _, l := range strings.Split(h.log.String(), "\n") {
		cs.AddLine(l)
	}
	if cs.Retracted != int(st.Retracted) {
		t.Fatalf("log says %d retracted, counter %d", cs.Retracted, st.Retracted)
	}
	h.check(t, true)
}
