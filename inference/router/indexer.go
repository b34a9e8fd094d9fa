package router

import (
	"time"

	"github.com/radixops/radix/inference/kvcache"
)

// WorkerID names a worker, as discovery registered it.
type WorkerID string

// BlockHashes returns the chained hashes of the full pages of tokens, exactly as a worker's radix tree
// computes them when it stores those pages (kvcache.PageHash); a partial trailing page has no hash.
func BlockHashes(ns kvcache.Namespace, tokens []int32, pageSize int) []uint64 {
	if pageSize <= 0 {
		return nil
	}
	n := len(tokens) / pageSize
	out := make([]uint64, n)
	h := kvcache.NamespaceHash(ns)
	for i := range n {
		h = kvcache.PageHash(h, tokens[i*pageSize:(i+1)*pageSize])
		out[i] = h
	}
	return out
}

// indexer records which workers hold which page hashes. It is not locked: the Router holds its lock.
// An entry with a zero expiry is known from a worker's events; a non-zero expiry marks a prediction of
// the approximate mode, which stops counting after that time.
type indexer struct {
	owners map[uint64]map[WorkerID]time.Time
	held   map[WorkerID]map[uint64]struct{}
}

func newIndexer() *indexer {
	return &indexer{owners: map[uint64]map[WorkerID]time.Time{}, held: map[WorkerID]map[uint64]struct{}{}}
}

func (ix *indexer) add(w WorkerID, h uint64, expiry time.Time) {
	o := ix.owners[h]
	if o == nil {
		o = map[WorkerID]time.Time{}
		ix.owners[h] = o
	}
	if old, ok := o[w]; ok && old.IsZero() {
		return // an event-backed entry outranks a prediction
	}
	o[w] = expiry
	hs := ix.held[w]
	if hs == nil {
		hs = map[uint64]struct{}{}
		ix.held[w] = hs
	}
	hs[h] = struct{}{}
}

func (ix *indexer) remove(w WorkerID, h uint64) {
	if o := ix.owners[h]; o != nil {
		delete(o, w)
		if len(o) == 0 {
			delete(ix.owners, h)
		}
	}
	if hs := ix.held[w]; hs != nil {
		delete(hs, h)
	}
}

func (ix *indexer) clear(w WorkerID) {
	for h := range ix.held[w] {
		if o := ix.owners[h]; o != nil {
			delete(o, w)
			if len(o) == 0 {
				delete(ix.owners, h)
			}
		}
	}
	delete(ix.held, w)
}

// apply folds one of a worker's cache events into the index.
func (ix *indexer) apply(w WorkerID, ev kvcache.Event) {
	switch ev.Kind {
	case kvcache.Stored:
		for _, h := range ev.Hashes {
			ix.add(w, h, time.Time{})
		}
	case kvcache.Removed:
		for _, h := range ev.Hashes {
			ix.remove(w, h)
		}
	case kvcache.Cleared:
		ix.clear(w)
	}
}

// overlap returns, per worker, how many leading pages of hashes it holds. Pages are chained, so a
// worker that misses page i cannot usefully hold page i+1 for this request: counting stops there.
func (ix *indexer) overlap(hashes []uint64, now time.Time) map[WorkerID]int {
	out := map[WorkerID]int{}
	if len(hashes) == 0 {
		return out
	}
	live := func(exp time.Time) bool { return exp.IsZero() || now.Before(exp) }
	var alive []WorkerID
	for w, exp := range ix.owners[hashes[0]] {
		if live(exp) {
			alive = append(alive, w)
			out[w] = 1
		}
	}
	for i := 1; i < len(hashes) && len(alive) > 0; i++ {
		o := ix.owners[hashes[i]]
		next := alive[:0]
		for _, w := range alive {
			if exp, ok := o[w]; ok && live(exp) {
				out[w] = i + 1
				next = append(next, w)
			}
		}
		alive = next
	}
	return out
}

// sweep drops predictions that expired, so the approximate mode's index stays bounded.
func (ix *indexer) sweep(now time.Time) {
	for h, o := range ix.owners {
		for w, exp := range o {
			if !exp.IsZero() && !now.Before(exp) {
				delete(o, w)
				if hs := ix.held[w]; hs != nil {
					delete(hs, h)
				}
			}
		}
		if len(o) == 0 {
			delete(ix.owners, h)
		}
	}
}

// size is the number of (worker, page) entries.
func (ix *indexer) size() int {
	n := 0
	for _, hs := range ix.held {
		n += len(hs)
	}
	return n
}
