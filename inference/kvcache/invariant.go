package kvcache

import "fmt"

// CheckInvariant walks the whole tree and pool and verifies that they agree — the check that catches
// leaks when they happen rather than when an idle server notices pages missing. Owner goroutine only
// (a debug endpoint asks the owner to run it); it costs O(cached tokens + pages). It checks:
//
//   - every page is in exactly one state; the free list holds exactly the free pages, once each;
//   - every cached page belongs to exactly one tree node, and every tree page is in state cached;
//   - free + evictable + protected + in flight == total pages, with evictable and protected recomputed
//     from the nodes' lock counts and compared with the running counters;
//   - node shape: whole pages, one hash per page, hashes chained from the namespace, children keyed by
//     their first page, no empty non-root node, lock counts never below the sum of the children's,
//     parents used no earlier than their children;
//   - the eviction heap holds exactly the unlocked leaves, each once, in heap order;
//   - the snapshot other goroutines read equals the counters.
func (t *Tree) CheckInvariant() error {
	p := t.pool
	if err := p.checkPool(); err != nil {
		return err
	}
	w := walker{t: t, seen: make([]bool, len(p.state))}
	for ns, r := range t.roots {
		if r.parent != nil || len(r.key) != 0 || r.ns != ns || r.nsHash != NamespaceHash(ns) {
			return fmt.Errorf("kvcache: invariant: malformed root of namespace %d", ns)
		}
		if len(r.children) == 0 {
			return fmt.Errorf("kvcache: invariant: namespace %d has an empty root", ns)
		}
		if r.heapIdx != -1 || r.removed {
			return fmt.Errorf("kvcache: invariant: root of namespace %d is in the heap or removed", ns)
		}
		if err := w.walk(r); err != nil {
			return err
		}
	}
	if w.pages != p.nCached {
		return fmt.Errorf("kvcache: invariant: tree holds %d pages, pool counts %d cached", w.pages, p.nCached)
	}
	if w.nodes != t.nodes {
		return fmt.Errorf("kvcache: invariant: %d nodes, counter says %d", w.nodes, t.nodes)
	}
	if w.evictable != t.evictable || w.protected != t.protected {
		return fmt.Errorf("kvcache: invariant: evictable/protected tokens %d/%d, counters say %d/%d",
			w.evictable, w.protected, t.evictable, t.protected)
	}
	if (w.evictable+w.protected)/t.ps+len(p.free)+p.nInFlight != len(p.state) {
		return fmt.Errorf("kvcache: invariant: free %d + evictable %d + protected %d + in flight %d != total %d pages",
			len(p.free), w.evictable/t.ps, w.protected/t.ps, p.nInFlight, len(p.state))
	}
	if w.leaves != len(t.heap) {
		return fmt.Errorf("kvcache: invariant: %d unlocked leaves but %d heap entries", w.leaves, len(t.heap))
	}
	for i, n := range t.heap {
		if int(n.heapIdx) != i {
			return fmt.Errorf("kvcache: invariant: heap entry %d records index %d", i, n.heapIdx)
		}
		if n.removed || n.lockRef != 0 || len(n.children) != 0 || n.isRoot() {
			return fmt.Errorf("kvcache: invariant: heap entry %d is not an unlocked leaf", i)
		}
		if i > 0 && t.less(i, (i-1)/2) {
			return fmt.Errorf("kvcache: invariant: heap order broken at %d", i)
		}
	}
	return p.checkPublished()
}

type walker struct {
	t                    *Tree
	seen                 []bool
	pages, nodes, leaves int
	evictable, protected int
}

func (w *walker) walk(n *Node) error {
	t, ps := w.t, w.t.ps
	var childLocks int32
	for k, c := range n.children {
		if c.parent != n {
			return fmt.Errorf("kvcache: invariant: child's parent pointer is wrong")
		}
		if c.removed {
			return fmt.Errorf("kvcache: invariant: removed node still linked")
		}
		if len(c.pages) == 0 || len(c.key) != len(c.pages)*ps || len(c.hashes) != len(c.pages) {
			return fmt.Errorf("kvcache: invariant: node of %d tokens, %d pages, %d hashes (page size %d)",
				len(c.key), len(c.pages), len(c.hashes), ps)
		}
		if k != string(pageKey(c.key[:ps])) {
			return fmt.Errorf("kvcache: invariant: child keyed by a page that is not its first")
		}
		h := n.lastHash()
		for i := range c.pages {
			h = PageHash(h, c.key[i*ps:(i+1)*ps])
			if c.hashes[i] != h {
				return fmt.Errorf("kvcache: invariant: page hash %d of a node does not chain from its parent", i)
			}
		}
		for _, pg := range c.pages {
			if pg < 0 || int(pg) >= len(w.seen) {
				return fmt.Errorf("kvcache: invariant: tree holds out-of-range page %d", pg)
			}
			if w.seen[pg] {
				return fmt.Errorf("kvcache: invariant: page %d is in the tree twice", pg)
			}
			w.seen[pg] = true
			if t.pool.state[pg] != pageCached {
				return fmt.Errorf("kvcache: invariant: tree page %d is %s in the pool", pg, t.pool.describe(pg))
			}
		}
		if c.lockRef < 0 {
			return fmt.Errorf("kvcache: invariant: negative lock count")
		}
		if !n.isRoot() && c.lastAccess > n.lastAccess {
			return fmt.Errorf("kvcache: invariant: child used after its parent (%d > %d)", c.lastAccess, n.lastAccess)
		}
		w.pages += len(c.pages)
		w.nodes++
		if c.lockRef == 0 {
			w.evictable += len(c.key)
		} else {
			w.protected += len(c.key)
		}
		if len(c.children) == 0 && c.lockRef == 0 {
			w.leaves++
			if c.heapIdx < 0 || int(c.heapIdx) >= len(t.heap) || t.heap[c.heapIdx] != c {
				return fmt.Errorf("kvcache: invariant: unlocked leaf missing from the eviction heap")
			}
		} else if c.heapIdx != -1 {
			return fmt.Errorf("kvcache: invariant: node in the heap is locked or has children")
		}
		childLocks += c.lockRef
		if err := w.walk(c); err != nil {
			return err
		}
	}
	if !n.isRoot() && n.lockRef < childLocks {
		return fmt.Errorf("kvcache: invariant: lock count %d below its children's %d", n.lockRef, childLocks)
	}
	return nil
}
