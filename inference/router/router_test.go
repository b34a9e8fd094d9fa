package router

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/radixops/radix/inference/kvcache"
)

func seq(start, n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(start + i)
	}
	return out
}

func stored(ns kvcache.Namespace, tokens []int32, ps int) kvcache.Event {
	return kvcache.Event{Kind: kvcache.Stored, Namespace: ns, ParentHash: kvcache.NamespaceHash(ns), Hashes: BlockHashes(ns, tokens, ps)}
}

func newKV(t *testing.T, temp float64, workers ...WorkerID) *Router {
	t.Helper()
	r := New(Config{Mode: KV, PageSize: 4, Temperature: temp, Seed: 1})
	for _, w := range workers {
		r.AddWorker(w)
	}
	return r
}

// The router's hashes must be the ones a worker's tree publishes, or no overlap is ever found.
func TestBlockHashesMatchTreeEvents(t *testing.T) {
	pool, err := kvcache.NewPool(kvcache.PoolConfig{Layers: 1, KVHeads: 1, HeadDim: 2, Tokens: 64, PageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	tree, err := kvcache.NewTree(pool, kvcache.TreeOptions{Events: func(e kvcache.Event) {
		if e.Kind == kvcache.Stored {
			got = append(got, e.Hashes...)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	ns := kvcache.NamespaceOf("tenant-a")
	tokens := seq(100, 14) // three full pages and a partial one
	pages, err := pool.Alloc(4)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tree.Insert(ns, tokens, pages); err != nil {
		t.Fatal(err)
	}
	want := BlockHashes(ns, tokens, 4)
	if len(want) != 3 || !slices.Equal(got, want) {
		t.Fatalf("tree stored %x, router computes %x", got, want)
	}
}

func TestKVRoutesToTheWorkerHoldingThePrefix(t *testing.T) {
	r := newKV(t, 0, "a", "b", "c")
	prompt := seq(0, 64) // 16 blocks
	r.Apply("b", stored(0, prompt[:48], 4))
	r.Apply("c", stored(0, prompt[:16], 4))
	d, err := r.Route(Request{Tokens: prompt})
	if err != nil {
		t.Fatal(err)
	}
	if d.Worker != "b" || d.Overlap != 12 {
		t.Fatalf("routed to %s with overlap %d; want b with 12\n%s", d.Worker, d.Overlap, d)
	}
	for _, s := range d.Scores {
		want := map[WorkerID]float64{"a": 16, "b": 4, "c": 12}[s.Worker]
		if s.Cost != want {
			t.Errorf("%s cost %.1f, want %.1f", s.Worker, s.Cost, want)
		}
	}
}

// Overlap counts leading blocks only: a worker holding later pages without the first has none.
func TestOverlapStopsAtFirstMissingBlock(t *testing.T) {
	r := newKV(t, 0, "a")
	prompt := seq(0, 32)
	h := BlockHashes(0, prompt, 4)
	r.Apply("a", kvcache.Event{Kind: kvcache.Stored, Hashes: []uint64{h[0], h[1], h[3], h[4]}})
	d, _ := r.Route(Request{Tokens: prompt})
	if d.Overlap != 2 {
		t.Fatalf("overlap %d, want 2", d.Overlap)
	}
}

func TestLoadOutweighsASmallOverlap(t *testing.T) {
	r := newKV(t, 0, "a", "b")
	shared := seq(0, 8) // 2 blocks cached on a
	r.Apply("a", stored(0, shared, 4))
	// Book a long request on a so its prefill and active blocks dominate.
	busy, _ := r.Route(Request{Tokens: append(slices.Clone(shared), seq(1000, 400)...)})
	if busy.Worker != "a" {
		t.Fatalf("first request went to %s", busy.Worker)
	}
	d, _ := r.Route(Request{Tokens: append(slices.Clone(shared), seq(5000, 8)...)})
	if d.Worker != "b" {
		t.Fatalf("second request went to the busy worker:\n%s", d)
	}
	busy.Finish()
	d.Finish()
	for _, w := range []WorkerID{"a", "b"} {
		if p, a, n, _ := r.Load(w); p != 0 || a != 0 || n != 0 {
			t.Fatalf("%s load after finish: prefill %d active %d requests %d", w, p, a, n)
		}
	}
}

func TestRemovedAndClearedEventsForgetPages(t *testing.T) {
	r := newKV(t, 0, "a", "b")
	prompt := seq(0, 16)
	ev := stored(0, prompt, 4)
	r.Apply("a", ev)
	r.Apply("a", kvcache.Event{Kind: kvcache.Removed, Hashes: ev.Hashes[2:]})
	if d, _ := r.Route(Request{Tokens: prompt}); d.Worker != "a" || d.Overlap != 2 {
		t.Fatalf("after removal: %s", d)
	} else {
		d.Finish()
	}
	r.Apply("a", kvcache.Event{Kind: kvcache.Cleared})
	if n := r.IndexedPages(); n != 0 {
		t.Fatalf("%d pages indexed after clear", n)
	}
	r.Apply("b", ev)
	r.RemoveWorker("b")
	if n := r.IndexedPages(); n != 0 {
		t.Fatalf("%d pages indexed after the worker left", n)
	}
	r.Apply("b", ev) // a worker that left streams no more into the index
	if n := r.IndexedPages(); n != 0 {
		t.Fatalf("%d pages indexed from an unregistered worker", n)
	}
}

func TestApproximateModePredictsFromDecisions(t *testing.T) {
	now := time.Unix(1000, 0)
	r := New(Config{Mode: KV, PageSize: 4, Approximate: true, ApproxTTL: time.Minute, Seed: 3, Now: func() time.Time { return now }})
	r.AddWorker("a")
	r.AddWorker("b")
	turn1 := seq(0, 40)
	d1, _ := r.Route(Request{Tokens: turn1})
	d1.Finish()
	turn2 := append(slices.Clone(turn1), seq(900, 20)...)
	d2, _ := r.Route(Request{Tokens: turn2})
	if d2.Worker != d1.Worker || d2.Overlap != 10 {
		t.Fatalf("second turn: %s (first went to %s)", d2, d1.Worker)
	}
	d2.Finish()
	now = now.Add(2 * time.Minute)
	d3, _ := r.Route(Request{Tokens: turn2})
	if d3.Overlap != 0 {
		t.Fatalf("prediction outlived its TTL: %s", d3)
	}
}

func TestTemperatureSpreadsByCost(t *testing.T) {
	r := newKV(t, 0.5, "a", "b")
	prompt := seq(0, 64)
	r.Apply("a", stored(0, prompt, 4))
	counts := map[WorkerID]int{}
	var pa float64
	for range 2000 {
		d, _ := r.Route(Request{Tokens: prompt})
		counts[d.Worker]++
		sum := 0.0
		for _, s := range d.Scores {
			sum += s.Probability
			if s.Worker == "a" {
				pa = s.Probability
			}
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Fatalf("probabilities sum to %f", sum)
		}
		d.Finish()
	}
	// a costs 0, b costs 16: normalised 0 and 1, so p(a) = 1/(1+e^-2).
	want := 1 / (1 + math.Exp(-2))
	if math.Abs(pa-want) > 1e-9 {
		t.Fatalf("p(a) = %f, want %f", pa, want)
	}
	if got := float64(counts["a"]) / 2000; math.Abs(got-want) > 0.05 {
		t.Fatalf("a chosen %.3f of the time, want about %.3f", got, want)
	}
}

func TestRoundRobinAndRandom(t *testing.T) {
	rr := New(Config{Mode: RoundRobin})
	for _, w := range []WorkerID{"c", "a", "b"} {
		rr.AddWorker(w)
	}
	var got []WorkerID
	for range 6 {
		d, _ := rr.Route(Request{Tokens: seq(0, 5)})
		got = append(got, d.Worker)
		d.Finish()
	}
	if fmt.Sprint(got) != "[a b c a b c]" {
		t.Fatalf("round robin order %v", got)
	}
	rnd := New(Config{Mode: Random, Seed: 9})
	rnd.AddWorker("a")
	rnd.AddWorker("b")
	seen := map[WorkerID]bool{}
	for range 50 {
		d, _ := rnd.Route(Request{})
		seen[d.Worker] = true
		d.Finish()
	}
	if len(seen) != 2 {
		t.Fatalf("random mode used only %v", seen)
	}
	if _, err := New(Config{}).Route(Request{}); err != ErrNoWorkers {
		t.Fatalf("no workers: %v", err)
	}
}

func TestParseMode(t *testing.T) {
	for _, s := range []string{"kv", "KV", "round-robin", "random"} {
		if _, err := ParseMode(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := ParseMode("cache_aware"); err == nil {
		t.Error("unknown mode accepted")
	}
}

func TestDecisionLifecycleIsIdempotent(t *testing.T) {
	r := newKV(t, 0, "a")
	d, _ := r.Route(Request{Tokens: seq(0, 30)})
	if p, a, n, _ := r.Load("a"); p != 8 || a != 8 || n != 1 {
		t.Fatalf("booked prefill %d active %d requests %d, want 8 8 1", p, a, n)
	}
	d.PrefillDone()
	d.PrefillDone()
	if p, a, _, _ := r.Load("a"); p != 0 || a != 8 {
		t.Fatalf("after prefill: prefill %d active %d", p, a)
	}
	d.Finish()
	d.Finish()
	d.PrefillDone()
	if p, a, n, _ := r.Load("a"); p != 0 || a != 0 || n != 0 {
		t.Fatalf("after finish: %d %d %d", p, a, n)
	}
}

func TestConcurrentRoutingAndEvents(t *testing.T) {
	r := newKV(t, 0.1, "a", "b", "c")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				p := seq(g*1000+i%7*10, 40)
				if i%3 == 0 {
					r.Apply(WorkerID("abc"[i%3:i%3+1]), stored(0, p, 4))
				}
				d, err := r.Route(Request{Tokens: p})
				if err != nil {
					t.Error(err)
					return
				}
				d.PrefillDone()
				d.Finish()
			}
		}()
	}
	wg.Wait()
	for _, w := range r.Workers() {
		if p, a, n, _ := r.Load(w); p != 0 || a != 0 || n != 0 {
			t.Fatalf("%s load %d %d %d after all finished", w, p, a, n)
		}
	}
}
