package engine

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/radixops/radix/inference/model"
	"github.com/radixops/radix/inference/telemetry"
)

// BenchmarkSharedPrefix runs SGLang's generated-shared-prefix shape (scaled for a CPU: 4 groups × 8
// prompts, 320-token system prompt, 24-token question, 16 output tokens) on the seeded random "small"
// Llama, with the radix cache off and on, in the same run. It reports the cache's speed-up (time off ÷
// time on), both throughputs, and the share of scheduler step time spent in radix tree operations.
//
//	go test -run XXX -bench SharedPrefix -benchtime 1x -benchmem ./inference/engine
func BenchmarkSharedPrefix(b *testing.B) {
	dir := b.TempDir()
	if err := model.WriteRandom(dir, model.RandomOptions{Arch: "llama", Shape: "small", Seed: 1, DType: "f32"}); err != nil {
		b.Fatal(err)
	}
	m, err := model.Load(dir, model.LoadOptions{DType: "f32"})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	r := rand.New(rand.NewPCG(1, 1))
	var w []workItem
	for range 4 {
		sys := make([]int32, 320)
		for i := range sys {
			sys[i] = int32(r.IntN(m.Config().Vocab))
		}
		for range 8 {
			p := append([]int32(nil), sys...)
			for range 24 {
				p = append(p, int32(r.IntN(m.Config().Vocab)))
			}
			w = append(w, workItem{p, 16})
		}
	}
	r.Shuffle(len(w), func(i, j int) { w[i], w[j] = w[j], w[i] })

	run := func(disable bool) (time.Duration, Stats) {
		pool, err := m.NewKVPool(16384, 16)
		if err != nil {
			b.Fatal(err)
		}
		e, err := New(NewModelRunner(m), pool, Config{ContextLen: m.Config().ContextLen, DisableRadixCache: disable,
			Logger: telemetry.NewLogger(nil, "")})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { e.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		start := time.Now()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8) // 8 clients in flight, as bench serve's default
		for _, it := range w {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				s, err := e.Submit(context.Background(), Request{Tokens: it.prompt, Params: SamplingParams{MaxNewTokens: it.maxNew, IgnoreEOS: true}})
				if err != nil {
					b.Error(err)
					return
				}
				collect(context.Background(), s)
			}()
		}
		wg.Wait()
		return time.Since(start), e.Stats()
	}
	var off, on time.Duration
	var st Stats
	b.ResetTimer()
	for range b.N {
		d0, _ := run(true)
		d1, s1 := run(false)
		off, on = off+d0, on+d1
		st.StepTime += s1.StepTime
		st.TreeTime += s1.TreeTime
		st.CachedTokens += s1.CachedTokens
		st.PromptTokens += s1.PromptTokens
	}
	n := float64(len(w) * b.N)
	b.ReportMetric(off.Seconds()/on.Seconds(), "cache-speedup")
	b.ReportMetric(n/on.Seconds(), "req/s-radix")
	b.ReportMetric(n/off.Seconds(), "req/s-nocache")
	b.ReportMetric(100*st.TreeTime.Seconds()/st.StepTime.Seconds(), "tree-%-of-step")
	b.ReportMetric(st.HitRate(), "hit-rate")
}
