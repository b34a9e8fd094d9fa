package kvcache

import (
	"strings"
	"testing"
)

// Each corruption, applied to a healthy tree, must be reported by CheckInvariant: the check is only worth
// running in tests and behind the debug endpoint if it catches what it claims to.
func TestCheckInvariantDetectsCorruption(t *testing.T) {
	build := func(t *testing.T) (*Pool, *Tree, *Node, *Node) {
		p, tr := newTestTree(t, 2, 16, TreeOptions{})
		insertNew(t, p, tr, 0, seq(0, 8))
		insertNew(t, p, tr, 0, cat(seq(0, 4), seq(20, 4)))
		_, _, h := tr.Match(0, seq(0, 8), nil)
		tr.Lock(h)
		if _, err := p.Alloc(2); err != nil {
			t.Fatal(err)
		}
		check(t, tr)
		return p, tr, h, h.parent // h: locked leaf; h.parent: the shared, locked inner node
	}
	for _, tc := range []struct {
		name, want string
		corrupt    func(p *Pool, tr *Tree, leaf, inner *Node)
	}{
		{"cached page on the free list", "free list holds page", func(p *Pool, _ *Tree, leaf, _ *Node) {
			p.free = append(p.free[:len(p.free)-1], leaf.pages[0])
		}},
		{"page state flipped", "pages in state free", func(p *Pool, _ *Tree, leaf, _ *Node) {
			p.state[leaf.pages[0]] = pageFree
		}},
		{"in-flight counter off", "in flight", func(p *Pool, _ *Tree, _, _ *Node) { p.nInFlight++ }},
		{"page in two nodes", "in the tree twice", func(_ *Pool, tr *Tree, leaf, inner *Node) {
			for _, c := range inner.children {
				if c != leaf {
					c.pages[0] = leaf.pages[0]
				}
			}
		}},
		{"hash not chained", "does not chain", func(_ *Pool, _ *Tree, leaf, _ *Node) {
			leaf.hashes[1]++
		}},
		{"lock count below children's", "lock count", func(_ *Pool, _ *Tree, _, inner *Node) { inner.lockRef = 0 }},
		{"protected counter off", "evictable/protected", func(_ *Pool, tr *Tree, _, _ *Node) { tr.protected -= 2 }},
		{"leaf missing from heap", "heap", func(_ *Pool, tr *Tree, _, _ *Node) {
			tr.heapRemove(tr.heap[0])
		}},
		{"locked leaf in heap", "heap", func(_ *Pool, tr *Tree, leaf, _ *Node) { tr.heapPush(leaf) }},
		{"node count off", "nodes", func(_ *Pool, tr *Tree, _, _ *Node) { tr.nodes++ }},
		{"child used after parent", "used after", func(_ *Pool, tr *Tree, leaf, _ *Node) { leaf.lastAccess = tr.clock + 1 }},
		{"stale published snapshot", "published", func(_ *Pool, tr *Tree, _, _ *Node) { tr.stats.HitTokens++ }},
		{"wrong map key", "keyed by", func(_ *Pool, _ *Tree, leaf, inner *Node) {
			for k, c := range inner.children {
				if c == leaf {
					delete(inner.children, k)
					inner.children["nonsense"] = leaf
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, tr, leaf, inner := build(t)
			tc.corrupt(p, tr, leaf, inner)
			err := tr.CheckInvariant()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckInvariant = %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestPoolWithoutTreeInvariantAndSecondTree(t *testing.T) {
	p, tr := newTestTree(t, 4, 4, TreeOptions{})
	if _, err := NewTree(p, TreeOptions{}); err == nil {
		t.Fatal("a second tree over one pool was accepted")
	}
	if tr.Pool() != p || tr.PageSize() != 4 {
		t.Fatal("accessors")
	}
	q, err := NewPool(PoolConfig{Layers: 1, KVHeads: 1, HeadDim: 1, Tokens: 8, PageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	q.nInFlight++
	if err := q.CheckInvariant(); err == nil {
		t.Fatal("pool counter corruption not caught")
	}
}

func TestStatsHitRateAndUsageHelpers(t *testing.T) {
	p, tr := newTestTree(t, 4, 8, TreeOptions{})
	if tr.Stats().HitRate() != 0 {
		t.Fatal("hit rate before any query")
	}
	insertNew(t, p, tr, 0, seq(0, 8))
	tr.Match(0, seq(0, 10), nil) // 8 of 10 hit
	tr.Match(0, seq(1, 6), nil)  // 0 of 6
	if s := tr.Stats(); s.HitTokens != 8 || s.QueriedTokens != 16 || s.HitRate() != 0.5 {
		t.Fatalf("stats %+v", s)
	}
	u := tr.Usage()
	if u.Available() != 8 || u.Tokens(u.EvictablePages) != 8 || u.TokenUsage() != 0.25 {
		t.Fatalf("usage %+v", u)
	}
	if tr.EvictableTokens() != 8 {
		t.Fatal("EvictableTokens")
	}
	for k, want := range map[EventKind]string{Stored: "stored", Removed: "removed", Cleared: "cleared", 0: "unknown"} {
		if k.String() != want {
			t.Fatalf("%d.String() = %q", k, k.String())
		}
	}
	if F32.String() != "f32" || BF16.String() != "bf16" || F16.String() != "f16" || DType(9).String() != "DType(9)" {
		t.Fatal("DType.String")
	}
	var got []Event
	tr.SetEventSink(func(e Event) { got = append(got, e) })
	tr.Evict(4)
	if len(got) != 1 || got[0].Kind != Removed {
		t.Fatalf("events after SetEventSink: %+v", got)
	}
}
