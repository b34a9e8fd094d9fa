package kvcache

import "fmt"

// Usage is where the pool's pages are. Free + Evictable + Protected + InFlight == Total, always (in
// pages; multiply by PageSize for slots). Everything is counted in whole pages — a request holding 17
// tokens with pages of 16 holds 2 pages — so pages and tokens can never disagree.
type Usage struct {
	PageSize   int
	TotalPages int
	FreePages  int // on the free list
	// EvictablePages are cached in the tree and not locked by any request: Evict can take them.
	EvictablePages int
	// ProtectedPages are cached and locked by at least one running request.
	ProtectedPages int
	// InFlightPages are allocated to requests and not (yet) in the tree.
	InFlightPages int
}

// Tokens returns n pages as slots.
func (u Usage) Tokens(pages int) int { return pages * u.PageSize }

// Available is what an allocation can get without retracting anyone: free plus evictable pages.
func (u Usage) Available() int { return u.FreePages + u.EvictablePages }

// TokenUsage is the fraction of the pool not free (SGLang's token_usage: cached and in-flight pages both
// count as used).
func (u Usage) TokenUsage() float64 {
	if u.TotalPages == 0 {
		return 0
	}
	return float64(u.TotalPages-u.FreePages) / float64(u.TotalPages)
}

// Stats are the tree's counters. The cumulative ones are never reset, not even by Clear, so a hit rate
// computed from two snapshots is honest.
type Stats struct {
	// HitTokens and QueriedTokens are summed over Match calls: the matched (page-aligned) length and the
	// full length of the key asked for.
	HitTokens, QueriedTokens uint64
	// InsertedTokens counts tokens newly cached by Insert (duplicates excluded); EvictedTokens tokens
	// removed by Evict. Clear counts as neither.
	InsertedTokens, EvictedTokens       uint64
	Matches, Inserts, Evictions, Clears uint64

	Nodes                            int // excluding the roots
	CachedPages                      int
	CachedTokens                     int
	EvictableTokens, ProtectedTokens int
}

// HitRate is HitTokens/QueriedTokens, 0 before any query.
func (s Stats) HitRate() float64 {
	if s.QueriedTokens == 0 {
		return 0
	}
	return float64(s.HitTokens) / float64(s.QueriedTokens)
}

// snapshot is what other goroutines read.
type snapshot struct {
	usage Usage
	stats Stats
}

// current computes the snapshot from the owner's counters.
func (p *Pool) current() snapshot {
	s := snapshot{usage: Usage{
		PageSize:      p.cfg.PageSize,
		TotalPages:    len(p.state),
		FreePages:     len(p.free),
		InFlightPages: p.nInFlight,
	}}
	if t := p.tree; t != nil {
		s.stats = t.stats
		s.stats.Nodes = t.nodes
		s.stats.CachedPages = p.nCached
		s.stats.CachedTokens = p.nCached * p.cfg.PageSize
		s.stats.EvictableTokens = t.evictable
		s.stats.ProtectedTokens = t.protected
		s.usage.EvictablePages = t.evictable / p.cfg.PageSize
		s.usage.ProtectedPages = t.protected / p.cfg.PageSize
	} else {
		// Without a tree nothing can be cached; any stray count shows up in CheckInvariant.
		s.usage.EvictablePages = p.nCached
	}
	return s
}

// publish makes the owner's counters visible to other goroutines. Called at the end of every mutating
// operation, so readers always see the state between two operations, never one half done.
func (p *Pool) publish() {
	s := p.current()
	p.mu.Lock()
	p.pub = s
	p.mu.Unlock()
}

func (p *Pool) read() snapshot {
	p.mu.Lock()
	s := p.pub
	p.mu.Unlock()
	return s
}

// Usage returns where the pages are, as of the end of the owner's last operation. Safe from any
// goroutine.
func (p *Pool) Usage() Usage { return p.read().usage }

func (p *Pool) checkPublished() error {
	if got, want := p.read(), p.current(); got != want {
		return fmt.Errorf("kvcache: invariant: published snapshot %+v differs from the counters %+v", got, want)
	}
	return nil
}
