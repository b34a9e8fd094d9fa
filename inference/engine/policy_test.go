package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/radixops/radix/inference/telemetry"
)

// Of several waiting requests sharing a new prefix, one is prefilled first and the rest wait a step,
// then hit what it cached.
func TestInBatchPrefixDedupe(t *testing.T) {
	log := &syncBuf{}
	e, err := New(&checkModel{vocab: 97}, newCheckPool(8192, 16), Config{ContextLen: 4096,
		Logger: telemetry.NewLogger(log, "t")})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 9))
	shared := seqTokens(r, 128)
	// Everything is queued before the loop starts, so all four are waiting at the first step.
	var streams []*Stream
	for range 4 {
		p := append(append([]int32(nil), shared...), seqTokens(r, 8)...)
		s, err := e.Submit(context.Background(), Request{Tokens: p, Params: SamplingParams{MaxNewTokens: 2}})
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for _, s := range streams {
		if res := collect(context.Background(), s); res.last.Finish == FinishAbort {
			t.Fatal("aborted")
		}
	}
	var prefills []telemetry.PrefillBatch
	for _, l := range strings.Split(log.String(), "\n") {
		if rec, ok := telemetry.ParseLine(l); ok && rec.Kind == telemetry.KindPrefill {
			prefills = append(prefills, rec.Prefill)
		}
	}
	if len(prefills) < 2 || prefills[0].NewSeq != 1 || prefills[0].CachedToken != 0 {
		t.Fatalf("first prefill batch should hold one request alone: %+v", prefills)
	}
	cached := 0
	for _, p := range prefills[1:] {
		cached += p.CachedToken
	}
	if cached != 3*128 || e.Stats().PrefillTokens != uint64(4*136-3*128) {
		t.Fatalf("the other three should hit the shared 128 tokens: cached %d, computed %d, batches %+v", cached, e.Stats().PrefillTokens, prefills)
	}
}

// LPM orders by cached prefix length; past LPMLimit waiting, and with fcfs, arrival order rules.
func TestOrderPolicies(t *testing.T) {
	for _, c := range []struct {
		policy  Policy
		waiting int
		lpm     bool
	}{{PolicyLPM, 10, true}, {PolicyLPM, LPMLimit + 1, false}, {PolicyFCFS, 10, false}} {
		e, err := New(&checkModel{vocab: 10}, newCheckPool(1<<16, 4), Config{ContextLen: 1 << 16, Policy: c.policy})
		if err != nil {
			t.Fatal(err)
		}
		cached := []int32{1, 2, 3, 4, 5, 6, 7, 8}
		pages, _ := e.pool.Alloc(2)
		if _, _, err := e.tree.Insert(0, cached, pages); err != nil {
			t.Fatal(err)
		}
		e.waiting = nil
		for i := range c.waiting {
			toks := []int32{9, 9, 9, 9, 9}
			if i%2 == 1 { // odd arrivals share the cached prefix
				toks = append(append([]int32(nil), cached...), 9)
			}
			e.waiting = append(e.waiting, &request{id: uint64(i + 1), tokens: toks})
		}
		e.order()
		if c.lpm {
			if e.waiting[0].id != 2 || e.waiting[len(e.waiting)/2].id != 1 {
				t.Fatalf("%s/%d: LPM order starts %d, middle %d", c.policy, c.waiting, e.waiting[0].id, e.waiting[len(e.waiting)/2].id)
			}
		} else {
			for i, r := range e.waiting {
				if r.id != uint64(i+1) {
					t.Fatalf("%s/%d: position %d holds request %d, want arrival order", c.policy, c.waiting, i, r.id)
				}
			}
		}
	}
}

// Decode lines come every DecodeLogInterval decode steps and never show more running requests than
// --max-running-requests allows.
func TestDecodeLogAndRunningLimit(t *testing.T) {
	h := startEngine(t, 8192, 16, Config{MaxRunningRequests: 2})
	r := rand.New(rand.NewPCG(10, 10))
	var w []workItem
	for range 5 {
		w = append(w, workItem{seqTokens(r, 20), 60})
	}
	var streams []*Stream
	for _, it := range w {
		s, err := h.e.Submit(context.Background(), Request{Tokens: it.prompt, Params: SamplingParams{MaxNewTokens: it.maxNew, IgnoreEOS: true}})
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	for _, s := range streams {
		if res := collect(context.Background(), s); len(res.tokens) != 60 {
			t.Fatalf("got %d tokens", len(res.tokens))
		}
	}
	decodes := 0
	for _, l := range strings.Split(h.log.String(), "\n") {
		rec, ok := telemetry.ParseLine(l)
		if !ok {
			continue
		}
		switch rec.Kind {
		case telemetry.KindDecode:
			decodes++
			if rec.Decode.Running > 2 || rec.Decode.Tokens == 0 {
				t.Fatalf("decode line %+v breaks the running limit", rec.Decode)
			}
		case telemetry.KindPrefill:
			if rec.Prefill.Running > 2 {
				t.Fatalf("prefill line %+v breaks the running limit", rec.Prefill)
			}
		}
	}
	// 5 requests × 59 decode steps, at most 2 at a time: at least 148 decode steps.
	if decodes < 148/DecodeLogInterval {
		t.Fatalf("%d decode lines for at least 148 decode steps", decodes)
	}
}

// A full waiting queue answers ErrOverloaded at once (the server turns it into 503 + Retry-After).
func TestQueueLimit(t *testing.T) {
	e, err := New(&checkModel{vocab: 10}, newCheckPool(256, 16), Config{ContextLen: 128, MaxQueued: 2})
	if err != nil {
		t.Fatal(err)
	}
	p := Request{Tokens: []int32{1, 2}, Params: SamplingParams{MaxNewTokens: 1}}
	for range 2 {
		if _, err := e.Submit(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Submit(context.Background(), p); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("third submit: %v", err)
	}
}
