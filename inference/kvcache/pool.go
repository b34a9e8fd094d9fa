package kvcache

import (
	"errors"
	"fmt"
	"sync"
)

// DType is the element type of the KV arenas, chosen by the model.
type DType uint8

// Element types of the KV arenas. F16 and BF16 arenas hold raw 16-bit patterns; converting them is the
// kernels' job.
const (
	F32 DType = iota
	F16
	BF16
)

// Size is the number of bytes of one element.
func (d DType) Size() int {
	if d == F32 {
		return 4
	}
	return 2
}

func (d DType) String() string {
	switch d {
	case F32:
		return "f32"
	case F16:
		return "f16"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// DefaultPageSize is the page size used when PoolConfig.PageSize is zero (the blueprints' value).
const DefaultPageSize = 16

// PoolConfig shapes a Pool. Tokens is the total number of KV slots; it is rounded down to a whole number
// of pages (Config reports the rounded value).
type PoolConfig struct {
	Layers, KVHeads, HeadDim, Tokens, PageSize int
	DType                                      DType
}

// ErrOutOfPages is returned (wrapped) by allocations the free list cannot satisfy. The caller usually
// evicts from the tree (Tree.Evict, or Tree.AllocInto which does it) and retries, or retracts a request.
var ErrOutOfPages = errors.New("kvcache: out of KV pages")

// Page states. Every page is in exactly one of them; CheckInvariant verifies it.
const (
	pageFree     uint8 = iota // on the free list
	pageInFlight              // handed out by Alloc, owned by a request, not in the tree
	pageCached                // owned by the tree (evictable or protected, depending on its node's locks)
)

// Pool is the preallocated KV memory: one K and one V arena per layer, each [Tokens][KVHeads][HeadDim],
// handed out in pages of PageSize slots. Page p holds slots p*PageSize .. p*PageSize+PageSize-1, so a
// request's page table ([]int32 of pages) maps token position i to slot
// pages[i/PageSize]*PageSize + i%PageSize.
//
// A Pool is owned by one goroutine (the engine's scheduler loop): Alloc, Free and the arena accessors are
// not safe for concurrent use. Usage may be called from any goroutine.
type Pool struct {
	cfg    PoolConfig
	stride int // elements per slot: KVHeads*HeadDim

	k32, v32 [][]float32
	k16, v16 [][]uint16

	state []uint8 // per page: pageFree, pageInFlight or pageCached
	free  []int32 // stack of free pages; pop and push at the end are O(1)

	nInFlight, nCached int

	tree *Tree // the tree caching into this pool, if any (at most one)

	// Snapshot published for other goroutines at the end of every mutating operation.
	mu  sync.Mutex
	pub snapshot
}

// NewPool allocates the arenas and puts every page on the free list.
func NewPool(cfg PoolConfig) (*Pool, error) {
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	switch {
	case cfg.Layers <= 0 || cfg.KVHeads <= 0 || cfg.HeadDim <= 0:
		return nil, fmt.Errorf("kvcache: creating pool: layers, kv heads and head dim must be positive (got %d, %d, %d)",
			cfg.Layers, cfg.KVHeads, cfg.HeadDim)
	case cfg.PageSize < 0:
		return nil, fmt.Errorf("kvcache: creating pool: page size %d is negative", cfg.PageSize)
	case cfg.Tokens < cfg.PageSize:
		return nil, fmt.Errorf("kvcache: creating pool: %d tokens is less than one page of %d", cfg.Tokens, cfg.PageSize)
	case cfg.DType > BF16:
		return nil, fmt.Errorf("kvcache: creating pool: unknown element type %v", cfg.DType)
	}
	pages := cfg.Tokens / cfg.PageSize
	if pages > 1<<31-1 {
		return nil, fmt.Errorf("kvcache: creating pool: %d pages do not fit an int32 page table", pages)
	}
	cfg.Tokens = pages * cfg.PageSize
	p := &Pool{cfg: cfg, stride: cfg.KVHeads * cfg.HeadDim}
	n := cfg.Tokens * p.stride
	if cfg.DType == F32 {
		p.k32, p.v32 = make([][]float32, cfg.Layers), make([][]float32, cfg.Layers)
		for l := range cfg.Layers {
			p.k32[l], p.v32[l] = make([]float32, n), make([]float32, n)
		}
	} else {
		p.k16, p.v16 = make([][]uint16, cfg.Layers), make([][]uint16, cfg.Layers)
		for l := range cfg.Layers {
			p.k16[l], p.v16[l] = make([]uint16, n), make([]uint16, n)
		}
	}
	p.state = make([]uint8, pages)
	p.free = make([]int32, pages)
	// Low pages on top of the stack, so a fresh pool hands out 0, 1, 2, ... (easier to read in tests).
	for i := range p.free {
		p.free[i] = int32(pages - 1 - i)
	}
	p.publish()
	return p, nil
}

// Config returns the pool's shape (PageSize defaulted, Tokens rounded down to whole pages).
func (p *Pool) Config() PoolConfig { return p.cfg }

// DType returns the arenas' element type.
func (p *Pool) DType() DType { return p.cfg.DType }

// PageSize returns the number of slots per page.
func (p *Pool) PageSize() int { return p.cfg.PageSize }

// TotalPages returns the number of pages in the pool.
func (p *Pool) TotalPages() int { return len(p.state) }

// FreePages returns the number of pages on the free list (owner goroutine; others use Usage).
func (p *Pool) FreePages() int { return len(p.free) }

// Bytes returns the size of all arenas in bytes.
func (p *Pool) Bytes() int64 {
	return int64(p.cfg.Layers) * 2 * int64(p.cfg.Tokens) * int64(p.stride) * int64(p.cfg.DType.Size())
}

// F32 returns layer's K and V arenas, [Tokens*KVHeads*HeadDim] with slot s at s*KVHeads*HeadDim.
// It panics unless DType() is F32.
func (p *Pool) F32(layer int) (k, v []float32) {
	if p.cfg.DType != F32 {
		panic(fmt.Sprintf("kvcache: F32 arena requested from a %v pool", p.cfg.DType))
	}
	return p.k32[layer], p.v32[layer]
}

// U16 returns layer's K and V arenas as raw 16-bit patterns, same layout as F32.
// It panics unless DType() is F16 or BF16.
func (p *Pool) U16(layer int) (k, v []uint16) {
	if p.cfg.DType == F32 {
		panic("kvcache: U16 arena requested from an f32 pool")
	}
	return p.k16[layer], p.v16[layer]
}

// Alloc hands out nPages pages in a new slice. All or nothing: on ErrOutOfPages nothing is taken.
func (p *Pool) Alloc(nPages int) ([]int32, error) {
	return p.AllocInto(make([]int32, 0, max(nPages, 0)), nPages)
}

// AllocInto appends nPages pages to dst and returns the extended slice; it allocates nothing when dst has
// room. All or nothing: on ErrOutOfPages dst is returned unchanged.
func (p *Pool) AllocInto(dst []int32, nPages int) ([]int32, error) {
	if nPages < 0 {
		return dst, fmt.Errorf("kvcache: allocating %d pages: negative count", nPages)
	}
	if nPages > len(p.free) {
		return dst, fmt.Errorf("kvcache: allocating %d pages with %d free of %d: %w",
			nPages, len(p.free), len(p.state), ErrOutOfPages)
	}
	top := len(p.free) - nPages
	taken := p.free[top:]
	// Hand out in stack order (last pushed first) so recently freed, cache-warm pages are reused first.
	for i := len(taken) - 1; i >= 0; i-- {
		pg := taken[i]
		p.state[pg] = pageInFlight
		dst = append(dst, pg)
	}
	p.free = p.free[:top]
	p.nInFlight += nPages
	p.publish()
	return dst, nil
}

// Free returns in-flight pages (from Alloc, not handed to the tree) to the free list. Freeing a page that
// is free already or owned by the tree is a bug in the caller that would corrupt other requests' KV; Free
// panics on it before changing anything.
func (p *Pool) Free(pages []int32) {
	for i, pg := range pages {
		if pg < 0 || int(pg) >= len(p.state) || p.state[pg] != pageInFlight {
			msg := fmt.Sprintf("kvcache: Free of page %d which is not in flight (%s)", pg, p.describe(pg))
			for _, q := range pages[:i] {
				p.state[q] = pageInFlight
			}
			panic(msg)
		}
		p.state[pg] = pageFree // so a page twice in pages is caught
	}
	p.free = append(p.free, pages...)
	p.nInFlight -= len(pages)
	p.publish()
}

func (p *Pool) describe(pg int32) string {
	if pg < 0 || int(pg) >= len(p.state) {
		return fmt.Sprintf("out of range 0..%d", len(p.state)-1)
	}
	return [...]string{"free", "in flight", "cached"}[p.state[pg]]
}

// SlotOf returns the KV slot of token position pos in a request's page table.
func (p *Pool) SlotOf(pages []int32, pos int) int32 {
	ps := p.cfg.PageSize
	return pages[pos/ps]*int32(ps) + int32(pos%ps)
}

// Slots appends the KV slots of token positions 0..n-1 of a page table to dst.
func (p *Pool) Slots(dst []int32, pages []int32, n int) []int32 {
	ps := p.cfg.PageSize
	for i := 0; i < n; i += ps {
		base := pages[i/ps] * int32(ps)
		for j := 0; j < ps && i+j < n; j++ {
			dst = append(dst, base+int32(j))
		}
	}
	return dst
}

// PagesFor returns how many pages hold n tokens.
func (p *Pool) PagesFor(n int) int { return (n + p.cfg.PageSize - 1) / p.cfg.PageSize }

// adopt moves in-flight pages to the tree. On a page that is not in flight it rolls back and fails.
func (p *Pool) adopt(pages []int32) error {
	for i, pg := range pages {
		if pg < 0 || int(pg) >= len(p.state) || p.state[pg] != pageInFlight {
			err := fmt.Errorf("kvcache: inserting page %d at index %d: page is not in flight (%s)", pg, i, p.describe(pg))
			for _, q := range pages[:i] {
				p.state[q] = pageInFlight
			}
			return err
		}
		p.state[pg] = pageCached
	}
	p.nInFlight -= len(pages)
	p.nCached += len(pages)
	return nil
}

// release returns pages owned by the tree to the free list.
func (p *Pool) release(pages []int32) {
	for _, pg := range pages {
		p.state[pg] = pageFree
		p.free = append(p.free, pg)
	}
	p.nCached -= len(pages)
}

// checkPool verifies the page states against the free list and the counters.
func (p *Pool) checkPool() error {
	var counts [3]int
	for _, s := range p.state {
		if s > pageCached {
			return fmt.Errorf("kvcache: invariant: unknown page state %d", s)
		}
		counts[s]++
	}
	if counts[pageFree] != len(p.free) {
		return fmt.Errorf("kvcache: invariant: %d pages in state free but %d on the free list", counts[pageFree], len(p.free))
	}
	seen := make([]bool, len(p.state))
	for _, pg := range p.free {
		if pg < 0 || int(pg) >= len(p.state) {
			return fmt.Errorf("kvcache: invariant: free list holds out-of-range page %d", pg)
		}
		if p.state[pg] != pageFree {
			return fmt.Errorf("kvcache: invariant: free list holds page %d in state %s", pg, p.describe(pg))
		}
		if seen[pg] {
			return fmt.Errorf("kvcache: invariant: page %d is on the free list twice", pg)
		}
		seen[pg] = true
	}
	if counts[pageInFlight] != p.nInFlight {
		return fmt.Errorf("kvcache: invariant: %d pages in flight but the counter says %d", counts[pageInFlight], p.nInFlight)
	}
	if counts[pageCached] != p.nCached {
		return fmt.Errorf("kvcache: invariant: %d pages cached but the counter says %d", counts[pageCached], p.nCached)
	}
	if len(p.free)+p.nInFlight+p.nCached != len(p.state) {
		return fmt.Errorf("kvcache: invariant: free %d + in flight %d + cached %d != total %d",
			len(p.free), p.nInFlight, p.nCached, len(p.state))
	}
	return nil
}

// CheckInvariant verifies the pool's page states, free list and counters, and — when a tree caches into
// this pool — the tree as well (see Tree.CheckInvariant). Owner goroutine only; it walks everything.
func (p *Pool) CheckInvariant() error {
	if p.tree != nil {
		return p.tree.CheckInvariant()
	}
	if err := p.checkPool(); err != nil {
		return err
	}
	return p.checkPublished()
}
