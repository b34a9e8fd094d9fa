package kvcache

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// Benchmarks: a tree holding about 1M tokens of 4,096-token prompts at page size 16, in 64 groups whose
// first 1,024 tokens are shared (a system prompt), as a serving cache looks. Baselines measured in the same
// run: comparing two 4,096-token slices (the least any match must do) and hashing 4,096 tokens (the
// least an insert of new pages must do, to publish events).

const (
	benchPS     = 16
	benchSeqLen = 4096
	benchShared = 1024
	benchGroups = 64
	benchTokens = 1 << 20
)

func benchSeqs(n int, seed uint64) [][]int32 {
	r := rand.New(rand.NewPCG(seed, 1))
	groups := make([][]int32, benchGroups)
	for g := range groups {
		groups[g] = make([]int32, benchShared)
		for i := range groups[g] {
			groups[g][i] = r.Int32N(128000)
		}
	}
	seqs := make([][]int32, n)
	for i := range seqs {
		s := make([]int32, benchSeqLen)
		copy(s, groups[i%benchGroups])
		for j := benchShared; j < benchSeqLen; j++ {
			s[j] = r.Int32N(128000)
		}
		seqs[i] = s
	}
	return seqs
}

// benchTree fills a tree over a pool of poolTokens slots until it caches at least benchTokens tokens.
func benchTree(b *testing.B, poolTokens int) (*Pool, *Tree, [][]int32) {
	b.Helper()
	p, err := NewPool(PoolConfig{Layers: 1, KVHeads: 1, HeadDim: 1, Tokens: poolTokens, PageSize: benchPS})
	if err != nil {
		b.Fatal(err)
	}
	tr, err := NewTree(p, TreeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	seqs := benchSeqs(benchTokens/(benchSeqLen-benchShared)+benchGroups, 42)
	pages := make([]int32, 0, benchSeqLen/benchPS)
	n := 0
	for tr.Stats().CachedTokens < benchTokens {
		pages = benchInsert(b, p, tr, seqs[n], pages)
		n++
	}
	return p, tr, seqs[:n]
}

// benchInsert inserts key as a finished request would (match, allocate the rest, insert, free dups).
func benchInsert(b *testing.B, p *Pool, tr *Tree, key []int32, pages []int32) []int32 {
	m, pages, _ := tr.Match(0, key, pages[:0])
	pages, err := tr.AllocInto(pages, len(key)/benchPS-len(pages))
	if err != nil {
		b.Fatal(err)
	}
	c, _, err := tr.Insert(0, key, pages)
	if err != nil {
		b.Fatal(err)
	}
	p.Free(pages[m/benchPS : c/benchPS])
	return pages
}

func BenchmarkBaselineCompare4096(b *testing.B) {
	seqs := benchSeqs(2, 1)
	x, y := seqs[0], slices.Clone(seqs[0])
	b.ReportAllocs()
	for b.Loop() {
		if !slices.Equal(x, y) {
			b.Fatal("differ")
		}
	}
}

func BenchmarkBaselineHash4096(b *testing.B) {
	seq := benchSeqs(1, 1)[0]
	b.ReportAllocs()
	var h uint64
	for b.Loop() {
		for i := 0; i < len(seq); i += benchPS {
			h = PageHash(h, seq[i:i+benchPS])
		}
	}
	_ = h
}

// BenchmarkMatch4096 matches cached 4,096-token prompts in the warm 1M-token tree: no splits, the pages
// go into a reused buffer, so nothing is allocated.
func BenchmarkMatch4096(b *testing.B) {
	_, tr, seqs := benchTree(b, benchTokens+benchSeqLen)
	buf := make([]int32, 0, benchSeqLen/benchPS)
	if err := tr.CheckInvariant(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		n, _, _ := tr.Match(0, seqs[i%len(seqs)], buf[:0])
		if n != benchSeqLen {
			b.Fatalf("matched %d", n)
		}
		i++
	}
}

// BenchmarkMatchLen4096 is the read-only variant schedulers use to rank waiting requests.
func BenchmarkMatchLen4096(b *testing.B) {
	_, tr, seqs := benchTree(b, benchTokens+benchSeqLen)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if n := tr.MatchLen(0, seqs[i%len(seqs)]); n != benchSeqLen {
			b.Fatalf("matched %d", n)
		}
		i++
	}
}

// BenchmarkInsert4096New inserts a new 4,096-token prompt (its first 1,024 tokens shared with its group,
// so 3,072 tokens of new pages: one new leaf, its hashes, its key copy) into the 1M-token tree. The
// pages come from a pool with room; when it runs low the timer stops while the tree evicts.
func BenchmarkInsert4096New(b *testing.B) {
	p, tr, _ := benchTree(b, 2*benchTokens)
	fresh := benchSeqs(4096, 7)
	pages := make([]int32, 0, benchSeqLen/benchPS)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		key := fresh[i%len(fresh)]
		i++
		if p.FreePages() < benchSeqLen/benchPS {
			b.StopTimer()
			tr.Evict(benchTokens / 2)
			b.StartTimer()
		}
		var err error
		pages, err = p.AllocInto(pages[:0], benchSeqLen/benchPS)
		if err != nil {
			b.Fatal(err)
		}
		c, _, err := tr.Insert(0, key, pages)
		if err != nil {
			b.Fatal(err)
		}
		p.Free(pages[:c/benchPS])
	}
}

// BenchmarkInsert4096Cached is the finish of a request whose whole prompt was cached: a walk, no new
// pages, nothing allocated.
func BenchmarkInsert4096Cached(b *testing.B) {
	_, tr, seqs := benchTree(b, benchTokens+benchSeqLen)
	buf := make([]int32, 0, benchSeqLen/benchPS)
	_, pages, _ := tr.Match(0, seqs[0], buf)
	b.ReportAllocs()
	for b.Loop() {
		if c, _, err := tr.Insert(0, seqs[0], pages); err != nil || c != benchSeqLen {
			b.Fatalf("insert: %d, %v", c, err)
		}
	}
}

// BenchmarkEvict100k evicts 100,000 tokens (6,250 pages, LRU across about 33 leaves) from the 1M-token
// tree. The tree is rebuilt with the timer stopped between iterations.
func BenchmarkEvict100k(b *testing.B) {
	p, tr, seqs := benchTree(b, benchTokens+benchSeqLen)
	pages := make([]int32, 0, benchSeqLen/benchPS)
	b.ReportAllocs()
	for b.Loop() {
		if got := tr.Evict(100_000); got < 100_000 {
			b.Fatalf("evicted %d", got)
		}
		b.StopTimer()
		for _, s := range seqs { // refill what was evicted
			pages = benchInsert(b, p, tr, s, pages)
		}
		b.StartTimer()
	}
}

// BenchmarkEvict100kSmallLeaves is the harder shape: 1M tokens in 64-token leaves under shared 1,024-token
// prefixes, so 100k tokens means about 1,560 leaves popped from the heap and unlinked.
func BenchmarkEvict100kSmallLeaves(b *testing.B) {
	p, err := NewPool(PoolConfig{Layers: 1, KVHeads: 1, HeadDim: 1, Tokens: 2 * benchTokens, PageSize: benchPS})
	if err != nil {
		b.Fatal(err)
	}
	tr, err := NewTree(p, TreeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	base := benchSeqs(benchGroups, 3)
	var keys [][]int32
	r := rand.New(rand.NewPCG(5, 5))
	for len(keys)*64 < benchTokens {
		k := slices.Clone(base[len(keys)%benchGroups][:benchShared+64])
		for j := benchShared; j < len(k); j++ {
			k[j] = r.Int32N(128000)
		}
		keys = append(keys, k)
	}
	pages := make([]int32, 0, (benchShared+64)/benchPS)
	fill := func() {
		for _, k := range keys {
			m, pg, _ := tr.Match(0, k, pages[:0])
			pg, err := p.AllocInto(pg, len(k)/benchPS-len(pg))
			if err != nil {
				b.Fatal(err)
			}
			c, _, err := tr.Insert(0, k, pg)
			if err != nil {
				b.Fatal(err)
			}
			p.Free(pg[m/benchPS : c/benchPS])
		}
	}
	fill()
	b.ReportAllocs()
	for b.Loop() {
		if got := tr.Evict(100_000); got < 100_000 {
			b.Fatalf("evicted %d", got)
		}
		b.StopTimer()
		fill()
		b.StartTimer()
	}
}

func BenchmarkAllocFree1(b *testing.B) {
	p, err := NewPool(PoolConfig{Layers: 1, KVHeads: 1, HeadDim: 1, Tokens: benchTokens, PageSize: benchPS})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]int32, 0, 1)
	b.ReportAllocs()
	for b.Loop() {
		pg, err := p.AllocInto(buf[:0], 1)
		if err != nil {
			b.Fatal(err)
		}
		p.Free(pg)
	}
}

func BenchmarkAllocFree256(b *testing.B) {
	p, err := NewPool(PoolConfig{Layers: 1, KVHeads: 1, HeadDim: 1, Tokens: benchTokens, PageSize: benchPS})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]int32, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		pg, err := p.AllocInto(buf[:0], 256)
		if err != nil {
			b.Fatal(err)
		}
		p.Free(pg)
	}
}
