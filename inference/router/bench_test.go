package router

import "testing"

// BenchmarkRouteKV measures one kv-mode decision for a 4,096-token prompt against an index holding
// 4 workers × 64 cached conversations of 1,024 tokens.
func BenchmarkRouteKV(b *testing.B) {
	r := New(Config{Mode: KV, PageSize: 16, Seed: 1})
	ws := []WorkerID{"w0", "w1", "w2", "w3"}
	for i, w := range ws {
		r.AddWorker(w)
		for c := range 64 {
			r.Apply(w, stored(0, seq((i*64+c)*10_000, 1024), 16))
		}
	}
	prompt := append(seq(2*64*10_000, 1024), seq(99_000_000, 3072)...)
	b.ReportAllocs()
	for b.Loop() {
		d, _ := r.Route(Request{Tokens: prompt})
		d.Finish()
	}
}
