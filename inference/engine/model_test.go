package engine

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/radixops/radix/inference/model"
	"github.com/radixops/radix/inference/telemetry"
)

func loadTiny(t *testing.T) *model.Model {
	t.Helper()
	dir := t.TempDir()
	if err := model.WriteRandom(dir, model.RandomOptions{Arch: "llama", Shape: "tiny", Seed: 1, DType: "f32"}); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(dir, model.LoadOptions{DType: "f32"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// On a real (seeded random) model, concurrent shared-prefix requests through the cache, with chunked
// prefill, produce exactly the greedy tokens of the same requests run one by one without the cache.
func TestRealModelCacheMatchesNoCache(t *testing.T) {
	m := loadTiny(t)
	cfg := m.Config()
	run := func(cfg Config, concurrent bool, w []workItem) []result {
		pool, err := m.NewKVPool(2048, 16)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Logger = telemetry.NewLogger(nil, "")
		e, err := New(NewModelRunner(m), pool, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { e.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		out := make([]result, len(w))
		var wg sync.WaitGroup
		for i, it := range w {
			f := func() {
				s, err := e.Submit(context.Background(), Request{Tokens: it.prompt, Params: SamplingParams{MaxNewTokens: it.maxNew, IgnoreEOS: true}})
				if err != nil {
					t.Error(err)
					return
				}
				out[i] = collect(context.Background(), s)
			}
			if concurrent {
				wg.Add(1)
				go func() { defer wg.Done(); f() }()
			} else {
				f()
			}
		}
		wg.Wait()
		if err := e.CheckInvariant(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !cfg.DisableRadixCache && e.Stats().CachedTokens == 0 {
			t.Error("no cache hits on shared prefixes")
		}
		return out
	}
	r := rand.New(rand.NewPCG(4, 4))
	var w []workItem
	for range 3 {
		sys := make([]int32, 60)
		for i := range sys {
			sys[i] = int32(r.IntN(cfg.Vocab))
		}
		for range 3 {
			p := append([]int32(nil), sys...)
			for range 5 + r.IntN(20) {
				p = append(p, int32(r.IntN(cfg.Vocab)))
			}
			w = append(w, workItem{p, 12})
		}
	}
	want := run(Config{ContextLen: cfg.ContextLen, DisableRadixCache: true}, false, w)
	got := run(Config{ContextLen: cfg.ContextLen, ChunkedPrefillSize: 32}, true, w)
	for i := range w {
		if !equal(got[i].tokens, want[i].tokens) {
			t.Fatalf("request %d: cached %v, uncached %v", i, got[i].tokens, want[i].tokens)
		}
	}
}
