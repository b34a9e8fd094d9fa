package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
)

// transfer runs one disaggregated request through a prefill engine and a decode engine, moving the KV
// with ReadPages/WritePages as the transfer does, and returns the decoded tokens.
func transfer(t *testing.T, pre, dec *harness, prompt []int32, params SamplingParams) result {
	t.Helper()
	ctx := context.Background()
	req := Request{Tokens: prompt, Params: params}
	p, err := dec.e.SubmitPrefilled(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := p.Pages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h, err := pre.e.SubmitHeld(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	src, first, cached, err := h.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(src) != len(dst) {
		t.Fatalf("prefill holds %d pages, decode allocated %d", len(src), len(dst))
	}
	if err := WritePages(dec.e.Pool(), dst, ReadPages(pre.e.Pool(), src, nil)); err != nil {
		t.Fatal(err)
	}
	h.Release()
	p.Complete(first, cached)
	r := collect(ctx, p.Stream())
	if r.err != nil || r.last.Finish == FinishAbort {
		t.Fatalf("decode failed: %v %v", r.err, r.last.Err)
	}
	return r
}

// A disaggregated request decodes exactly what the aggregated engine does: the check model reads every
// position's K back from the pool, so a page written to the wrong place changes the tokens or fails.
func TestDisaggregatedMatchesAggregated(t *testing.T) {
	agg := startEngine(t, 512, 4, Config{})
	pre := startEngine(t, 512, 4, Config{})
	dec := startEngine(t, 512, 4, Config{})
	rng := rand.New(rand.NewPCG(1, 2))
	shared := seqTokens(rng, 21)
	seed := uint64(42)
	for i := range 6 {
		prompt := append(append([]int32{}, shared...), seqTokens(rng, 3+i*5)...)
		params := SamplingParams{MaxNewTokens: 9}
		if i >= 4 { // seeded sampling: the same seed gives the same tokens either way
			params.Temperature, params.Seed = 0.9, &seed
		}
		s, err := agg.e.Submit(context.Background(), Request{Tokens: prompt, Params: params})
		if err != nil {
			t.Fatal(err)
		}
		want := collect(context.Background(), s)
		got := transfer(t, pre, dec, prompt, params)
		if !equalTokens(got.tokens, want.tokens) {
			t.Fatalf("request %d: disaggregated %v, aggregated %v", i, got.tokens, want.tokens)
		}
		if i > 0 && got.last.CachedTokens == 0 {
			t.Fatalf("request %d: the prefill worker's cache served nothing of the shared prefix", i)
		}
	}
	for _, h := range []*harness{agg, pre, dec} {
		h.check(t, true)
	}
}

// A failed transfer frees the decode side's pages; releasing a prefill that never finished frees the
// prefill side's.
func TestDisaggregationFailuresFreePages(t *testing.T) {
	pre := startEngine(t, 256, 4, Config{})
	dec := startEngine(t, 256, 4, Config{})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	req := Request{Tokens: seqTokens(rng, 30), Params: SamplingParams{MaxNewTokens: 4}}

	p, err := dec.e.SubmitPrefilled(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Pages(ctx); err != nil {
		t.Fatal(err)
	}
	dec.check(t, false)
	p.Fail(errors.New("prefill worker went away"))
	if r := collect(ctx, p.Stream()); r.last.Finish != FinishAbort {
		t.Fatalf("failed transfer finished %q, want abort", r.last.Finish)
	}
	dec.check(t, true)

	// Released at once (the decode side left before prefill ran) and released after holding.
	h, err := pre.e.SubmitHeld(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	h.Release()
	h2, err := pre.e.SubmitHeld(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := h2.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	pre.check(t, false)
	h2.Release()
	pre.check(t, true)

	// Too big for the pool: the allocation fails and says so.
	big := Request{Tokens: seqTokens(rng, 250), Params: SamplingParams{MaxNewTokens: 1}}
	hold, err := pre.e.SubmitHeld(ctx, Request{Tokens: seqTokens(rng, 200), Params: SamplingParams{MaxNewTokens: 1}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, _ = hold.Wait(ctx)
	p2, err := pre.e.SubmitPrefilled(ctx, big)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p2.Pages(ctx); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("allocation beyond the pool: %v, want ErrOverloaded", err)
	}
	hold.Release()
	pre.check(t, true)
}

func equalTokens(a, b []int32) bool {
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
