package kvcache

import (
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestSplitAtPageBoundary(t *testing.T) {
	const ps = 4
	p, tr := newTestTree(t, ps, 32, TreeOptions{})
	a := seq(0, 16) // 4 pages
	insertNew(t, p, tr, 0, a)
	if s := tr.Stats(); s.Nodes != 1 {
		t.Fatalf("%d nodes after one insert", s.Nodes)
	}

	// Diverging inside the third page: only two whole pages match, and the node splits after page 2.
	b := cat(seq(0, 9), []int32{100, 101, 102})
	n, pages, h := tr.Match(0, b, nil)
	if n != 8 || len(pages) != 2 || h.Tokens() != 8 {
		t.Fatalf("match %d tokens, %d pages, handle at %d; want 8, 2, 8", n, len(pages), h.Tokens())
	}
	check(t, tr)
	if s := tr.Stats(); s.Nodes != 2 {
		t.Fatalf("%d nodes after a split, want 2", s.Nodes)
	}
	// The original node's pages are still found in order through the split.
	_, all, _ := tr.Match(0, a, nil)
	if len(all) != 4 || !slices.Equal(all[:2], pages) {
		t.Fatalf("pages after split %v, first two %v", all, pages)
	}

	// Inserting b's aligned part (12 tokens = 3 pages) shares 2 pages, adds 1 as a sibling leaf.
	if c := insertNew(t, p, tr, 0, b); c != 8 {
		t.Fatalf("insert after split: %d cached, want 8", c)
	}
	if s := tr.Stats(); s.Nodes != 3 || s.CachedPages != 5 {
		t.Fatalf("nodes %d cached pages %d, want 3 and 5", s.Nodes, s.CachedPages)
	}

	// A key shorter than a page matches nothing and never splits.
	if n, _, _ := tr.Match(0, seq(0, 3), nil); n != 0 {
		t.Fatalf("sub-page key matched %d", n)
	}
	// A mismatch in the first page matches nothing.
	if n, _, _ := tr.Match(0, cat([]int32{0, 1, 2, 99}, seq(4, 12)), nil); n != 0 {
		t.Fatalf("first-page mismatch matched %d", n)
	}
	check(t, tr)
}

func TestPartialPageNeverCached(t *testing.T) {
	p, tr := newTestTree(t, 16, 8, TreeOptions{})
	insertNew(t, p, tr, 0, seq(0, 31))
	if s := tr.Stats(); s.CachedTokens != 16 || s.InsertedTokens != 16 {
		t.Fatalf("cached %d inserted %d, want 16 each", s.CachedTokens, s.InsertedTokens)
	}
	if n, _, _ := tr.Match(0, seq(0, 40), nil); n != 16 {
		t.Fatalf("matched %d, want 16", n)
	}
	u := tr.Usage()
	if u.FreePages != 7 || u.EvictablePages != 1 || u.InFlightPages != 0 {
		t.Fatalf("usage %+v", u)
	}
}

func TestEvictionOrderLRUAndParentsAfterChildren(t *testing.T) {
	const ps = 2
	p, tr := newTestTree(t, ps, 32, TreeOptions{})
	root := seq(0, 4)                      // shared parent, 2 pages
	x := cat(root, seq(10, 4))             // child x
	y := cat(root, seq(20, 4))             // child y
	z := seq(50, 4)                        // unrelated
	for _, k := range [][]int32{x, y, z} { // insertion order x, y, z
		insertNew(t, p, tr, 0, k)
	}
	tr.Match(0, x, nil) // x (and the shared parent) are now the most recent

	// LRU leaves: y (inserted before z, not touched since), then z, then x; the parent only after both of
	// its children are gone. Evict a page at a time and watch which prefix shrinks.
	type want struct{ x, y, z int }
	steps := []want{
		{8, 6, 4}, {8, 4, 4}, // y's two own pages
		{8, 4, 2}, {8, 4, 0}, // z
		{6, 4, 0}, {4, 4, 0}, // x's own pages
		{2, 2, 0}, {0, 0, 0}, // the shared parent last
	}
	for i, w := range steps {
		if got := tr.Evict(1); got != ps {
			t.Fatalf("step %d: evicted %d tokens, want %d", i, got, ps)
		}
		check(t, tr)
		got := want{tr.MatchLen(0, x), tr.MatchLen(0, y), tr.MatchLen(0, z)}
		if got != w {
			t.Fatalf("step %d: cached lengths %+v, want %+v", i, got, w)
		}
	}
	if got := tr.Evict(100); got != 0 {
		t.Fatalf("evicted %d from an empty tree", got)
	}
	if s := tr.Stats(); s.EvictedTokens != 16 || s.Nodes != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestEvictRoundsUpToPagesAndTakesOnlyWhatIsAsked(t *testing.T) {
	p, tr := newTestTree(t, 16, 16, TreeOptions{})
	insertNew(t, p, tr, 0, seq(0, 160)) // one node of 10 pages
	if got := tr.Evict(17); got != 32 {
		t.Fatalf("Evict(17) freed %d tokens, want 32 (two pages)", got)
	}
	if n := tr.MatchLen(0, seq(0, 160)); n != 128 {
		t.Fatalf("after evicting 2 pages the prefix is %d tokens, want 128", n)
	}
	check(t, tr)
}

func TestLockedNeverEvicted(t *testing.T) {
	const ps = 4
	p, tr := newTestTree(t, ps, 16, TreeOptions{})
	a, b := seq(0, 16), cat(seq(0, 8), seq(100, 8))
	insertNew(t, p, tr, 0, a)
	insertNew(t, p, tr, 0, b)
	_, _, h := tr.Match(0, a, nil)
	tr.Lock(h)
	tr.Lock(h) // two requests on the same prefix
	u := tr.Usage()
	if u.ProtectedPages != 4 || u.EvictablePages != 2 {
		t.Fatalf("usage with a: %+v", u)
	}
	if got := tr.Evict(1000); got != 8 {
		t.Fatalf("evicted %d tokens, want only b's 8 unshared", got)
	}
	if tr.MatchLen(0, a) != 16 {
		t.Fatal("a locked prefix was evicted")
	}
	// A split of the locked node (match ending inside it) keeps both halves locked.
	tr.Match(0, seq(0, 4), nil)
	check(t, tr)
	if got := tr.Evict(1000); got != 0 {
		t.Fatalf("evicted %d tokens of a locked prefix after a split", got)
	}
	if err := tr.Clear(); !errors.Is(err, ErrBusy) {
		t.Fatalf("Clear while locked: %v", err)
	}
	tr.Unlock(h)
	if got := tr.Evict(1000); got != 0 {
		t.Fatalf("evicted %d tokens while one lock remains", got)
	}
	tr.Unlock(h)
	if got := tr.Evict(1000); got != 16 {
		t.Fatalf("evicted %d tokens after unlocking, want 16", got)
	}
	check(t, tr)
	mustPanic(t, "Unlock", func() { tr.Unlock(h) })
	insertNew(t, p, tr, 0, a)
	if got := tr.Evict(math.MaxInt); got != 16 {
		t.Fatalf("Evict(MaxInt) freed %d, want everything (16)", got)
	}
	if got := tr.Evict(-5); got != 0 {
		t.Fatalf("Evict(-5) freed %d", got)
	}
}

func TestDuplicatePagesFreedFromInsert(t *testing.T) {
	const ps = 4
	p, tr := newTestTree(t, ps, 16, TreeOptions{})
	key := seq(0, 14) // 3 whole pages and a partial one

	// Two requests with the same prompt run concurrently, neither finding it cached.
	r1, _ := p.Alloc(4)
	r2, _ := p.Alloc(4)
	c1, _, err := tr.Insert(0, key, r1)
	if err != nil || c1 != 0 {
		t.Fatalf("first insert: %d, %v", c1, err)
	}
	c2, h2, err := tr.Insert(0, key, r2)
	if err != nil || c2 != 12 {
		t.Fatalf("second insert: %d cached, %v; want 12", c2, err)
	}
	if h2.Tokens() != 12 {
		t.Fatalf("second insert's handle at %d", h2.Tokens())
	}
	// The tree kept r1's pages; r2's first three are duplicates, both partial pages are the callers'.
	_, pages, _ := tr.Match(0, key, nil)
	if !slices.Equal(pages, r1[:3]) {
		t.Fatalf("tree pages %v, want r1's %v", pages, r1[:3])
	}
	if u := tr.Usage(); u.InFlightPages != 5 {
		t.Fatalf("in flight %d, want r1's tail and all of r2 (5)", u.InFlightPages)
	}
	p.Free(r2[:c2/ps])
	p.Free(r2[len(key)/ps:])
	p.Free(r1[len(key)/ps:])
	check(t, tr)
	if u := tr.Usage(); u.InFlightPages != 0 || u.FreePages != 13 {
		t.Fatalf("usage after freeing duplicates %+v", u)
	}
	// Freeing a page the tree owns is caught before anything changes.
	mustPanic(t, "Free of a cached page", func() { p.Free(r1[:1]) })
	check(t, tr)
}

func TestMatchedPagesAreNotDuplicates(t *testing.T) {
	// The documented request flow: pages from Match stay the tree's, only the rest are freed.
	const ps = 4
	p, tr := newTestTree(t, ps, 16, TreeOptions{})
	insertNew(t, p, tr, 0, seq(0, 8))
	prompt := seq(0, 18)
	n, pages, h := tr.Match(0, prompt, make([]int32, 0, 8))
	tr.Lock(h)
	pages, err := tr.AllocInto(pages, p.PagesFor(len(prompt))-len(pages))
	if err != nil {
		t.Fatal(err)
	}
	cached, _, err := tr.Insert(0, prompt, pages)
	if err != nil || cached != n {
		t.Fatalf("insert: %d cached, %v; want %d", cached, err, n)
	}
	p.Free(pages[n/ps : cached/ps])
	p.Free(pages[len(prompt)/ps:])
	tr.Unlock(h)
	check(t, tr)
	if u := tr.Usage(); u.EvictablePages != 4 || u.InFlightPages != 0 {
		t.Fatalf("usage %+v", u)
	}
}

func TestInsertRejectsPagesNotInFlight(t *testing.T) {
	p, tr := newTestTree(t, 2, 8, TreeOptions{})
	own, _ := p.Alloc(2)
	if _, _, err := tr.Insert(0, seq(0, 4), own[:1]); err == nil {
		t.Fatal("insert with too few pages succeeded")
	}
	free := []int32{own[0], 7} // page 7 is still free
	if _, _, err := tr.Insert(0, seq(0, 4), free); err == nil || !strings.Contains(err.Error(), "not in flight") {
		t.Fatalf("insert of a free page: %v", err)
	}
	dup := []int32{own[0], own[0]}
	if _, _, err := tr.Insert(0, seq(0, 4), dup); err == nil {
		t.Fatal("insert of the same page twice succeeded")
	}
	check(t, tr)
	if s := tr.Stats(); s.CachedPages != 0 || s.Nodes != 0 {
		t.Fatalf("failed inserts left %+v", s)
	}
	if _, _, err := tr.Insert(0, seq(0, 4), own); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tr.Insert(5, seq(0, 4), own); err == nil {
		t.Fatal("inserting cached pages again in another namespace succeeded")
	}
	check(t, tr)
}

func TestNamespacesKeepEqualPrefixesApart(t *testing.T) {
	p, tr := newTestTree(t, 4, 16, TreeOptions{})
	key := seq(0, 8)
	lora := NamespaceOf("adapter-a")
	insertNew(t, p, tr, 0, key)
	if n := tr.MatchLen(lora, key); n != 0 {
		t.Fatalf("namespace %x sees the default namespace's prefix (%d tokens)", lora, n)
	}
	if c := insertNew(t, p, tr, lora, key); c != 0 {
		t.Fatalf("insert in a new namespace found %d cached", c)
	}
	_, p0, _ := tr.Match(0, key, nil)
	_, p1, _ := tr.Match(lora, key, nil)
	if len(p0) != 2 || len(p1) != 2 || slices.Equal(p0, p1) {
		t.Fatalf("pages %v and %v: namespaces must hold separate copies", p0, p1)
	}
	if tr.Evict(1000) != 16 {
		t.Fatal("eviction across namespaces")
	}
	check(t, tr)
	if NamespaceOf("") != 0 || NamespaceOf("a") == NamespaceOf("b") {
		t.Fatal("NamespaceOf")
	}
}

func TestClear(t *testing.T) {
	var events []Event
	p, tr := newTestTree(t, 2, 8, TreeOptions{Events: func(e Event) { events = append(events, e) }})
	insertNew(t, p, tr, 0, seq(0, 6))
	insertNew(t, p, tr, 3, seq(0, 4))
	tr.Match(0, seq(0, 6), nil)
	held, _ := p.Alloc(1)
	if err := tr.Clear(); err != nil {
		t.Fatal(err)
	}
	check(t, tr)
	u := tr.Usage()
	if u.FreePages != 7 || u.InFlightPages != 1 || u.EvictablePages != 0 {
		t.Fatalf("usage after clear %+v", u)
	}
	if last := events[len(events)-1]; last.Kind != Cleared {
		t.Fatalf("last event %v, want cleared", last.Kind)
	}
	s := tr.Stats()
	if s.Nodes != 0 || s.QueriedTokens != 6 || s.HitTokens != 6 || s.InsertedTokens != 10 || s.Clears != 1 {
		t.Fatalf("stats after clear %+v (cumulative counters must survive)", s)
	}
	p.Free(held)
	insertNew(t, p, tr, 0, seq(0, 6))
}

func TestEventHashesAgreeAcrossTrees(t *testing.T) {
	// Two workers fed the same operations in different pools (different page numbers) publish the same
	// hashes; removed events name exactly what was stored.
	run := func(skip int) (stored, removed []uint64, parents []uint64) {
		var evs []Event
		p, tr := newTestTree(t, 4, 32, TreeOptions{Events: func(e Event) { evs = append(evs, e) }})
		if skip > 0 {
			junk, _ := p.Alloc(skip) // shifts page numbers
			defer p.Free(junk)
		}
		insertNew(t, p, tr, 0, seq(0, 16))
		insertNew(t, p, tr, 0, cat(seq(0, 8), seq(40, 8)))
		insertNew(t, p, tr, 9, seq(0, 16))
		tr.Evict(1000)
		for _, e := range evs {
			switch e.Kind {
			case Stored:
				stored = append(stored, e.Hashes...)
				parents = append(parents, e.ParentHash)
			case Removed:
				removed = append(removed, e.Hashes...)
			}
		}
		return
	}
	s1, r1, p1 := run(0)
	s2, r2, p2 := run(5)
	if !slices.Equal(s1, s2) || !slices.Equal(r1, r2) || !slices.Equal(p1, p2) {
		t.Fatal("two trees fed the same sequence disagree on hashes")
	}
	if len(s1) != 4+2+4 || !sortedEq(s1, r1) {
		t.Fatalf("stored %x, removed %x: every stored page must be removed once", s1, r1)
	}
	// Chaining: the default namespace's first page hangs off NamespaceHash(0); the second insert's
	// first new page hangs off the shared second page.
	h1 := PageHash(NamespaceHash(0), seq(0, 4))
	h2 := PageHash(h1, seq(4, 4))
	if s1[0] != h1 || s1[1] != h2 || p1[0] != NamespaceHash(0) || p1[1] != h2 || s1[4] != PageHash(h2, seq(40, 4)) {
		t.Fatalf("hash chain: stored %x parents %x", s1, p1)
	}
	if p1[2] != NamespaceHash(9) || s1[6] == s1[0] {
		t.Fatal("namespace salt not in the chain")
	}
	// What a router computes for a request equals what the worker stored.
	if got := PageHashes(0, cat(seq(0, 8), seq(40, 9)), 4, nil); !slices.Equal(got, []uint64{s1[0], s1[1], s1[4], s1[5]}) {
		t.Fatalf("PageHashes %x, stored %x", got, s1)
	}
	if got := PageHashes(9, seq(0, 16), 4, nil); !slices.Equal(got, s1[6:]) {
		t.Fatalf("PageHashes in namespace 9 %x, stored %x", got, s1[6:])
	}
}

func TestEventsStoredTokensAliasImmutableStorage(t *testing.T) {
	var evs []Event
	p, tr := newTestTree(t, 2, 16, TreeOptions{EventTokens: true, Events: func(e Event) { evs = append(evs, e) }})
	key := seq(0, 8)
	insertNew(t, p, tr, 0, key)
	key[0] = 99                 // the caller reusing its buffer must not change what the tree stored
	tr.Match(0, seq(0, 4), nil) // a split must not change an event already delivered
	tr.Evict(2)
	if !slices.Equal(evs[0].Tokens, seq(0, 8)) || len(evs[0].Hashes) != 4 {
		t.Fatalf("stored event %+v", evs[0])
	}
	if evs[1].Kind != Removed || len(evs[1].Hashes) != 1 || evs[1].Hashes[0] != evs[0].Hashes[3] {
		t.Fatalf("removed event %+v", evs[1])
	}
}

func TestEventBuffer(t *testing.T) {
	b := NewEventBuffer(2)
	for i := range 3 {
		b.Sink(Event{Kind: Removed, Hashes: []uint64{uint64(i)}})
	}
	if b.Len() != 2 || b.Dropped() != 1 {
		t.Fatalf("len %d dropped %d", b.Len(), b.Dropped())
	}
	var got []uint64
	b.Drain(func(e Event) { got = append(got, e.Hashes[0]) })
	if !slices.Equal(got, []uint64{1, 2}) || b.Len() != 0 {
		t.Fatalf("drained %v", got)
	}
}

func TestStatsFromOtherGoroutines(t *testing.T) {
	// Run under -race: readers call only Stats and Usage while the owner mutates.
	p, tr := newTestTree(t, 4, 64, TreeOptions{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			u := tr.Usage()
			if u.FreePages+u.EvictablePages+u.ProtectedPages+u.InFlightPages != u.TotalPages && bad == nil {
				bad = errors.New("a snapshot's pages do not add up")
			}
			_ = tr.Stats().HitRate()
		}
	}()
	for i := range 500 {
		key := seq(i%7, 4*(1+i%5))
		n, pages, h := tr.Match(0, key, nil)
		tr.Lock(h)
		pages, err := tr.AllocInto(pages, p.PagesFor(len(key))-n/4)
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := tr.Insert(0, key, pages)
		if err != nil {
			t.Fatal(err)
		}
		p.Free(pages[n/4 : c/4])
		tr.Unlock(h)
		if i%50 == 0 {
			tr.Evict(40)
		}
	}
	close(stop)
	wg.Wait()
	if bad != nil {
		t.Fatal(bad)
	}
	check(t, tr)
}

func TestStaleHandlePanics(t *testing.T) {
	p, tr := newTestTree(t, 2, 8, TreeOptions{})
	insertNew(t, p, tr, 0, seq(0, 4))
	_, _, h := tr.Match(0, seq(0, 4), nil)
	tr.Evict(100)
	mustPanic(t, "Lock of an evicted node", func() { tr.Lock(h) })
	// The root handle of a namespace with nothing cached is always fine to lock and unlock.
	_, _, r := tr.Match(4, seq(0, 4), nil)
	tr.Lock(r)
	tr.Unlock(r)
	check(t, tr)
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatalf("%s did not panic", what)
		}
	}()
	f()
}

func TestPagesOfAndNoAllocation(t *testing.T) {
	const ps = 4
	p, tr := newTestTree(t, ps, 32, TreeOptions{})
	a := seq(0, 24)
	insertNew(t, p, tr, 0, a)
	insertNew(t, p, tr, 0, cat(seq(0, 12), seq(50, 8)))
	buf := make([]int32, 0, 8)
	n, pages, h := tr.Match(0, a, buf)
	if n != 24 {
		t.Fatalf("matched %d", n)
	}
	before := tr.Stats()
	if got := tr.PagesOf(h, []int32{-1}); !slices.Equal(got[1:], pages) || got[0] != -1 {
		t.Fatalf("PagesOf %v, Match pages %v", got, pages)
	}
	if tr.Stats() != before {
		t.Fatal("PagesOf changed the stats")
	}
	allocs := testing.AllocsPerRun(50, func() {
		tr.Match(0, a, buf[:0])
		tr.MatchLen(0, a)
		tr.PagesOf(h, buf[:0])
		tr.Lock(h)
		tr.Unlock(h)
		if c, _, err := tr.Insert(0, a, pages); err != nil || c != 24 {
			t.Fatalf("insert of a cached prefix: %d, %v", c, err)
		}
		pg, _ := p.AllocInto(buf[:0], 3)
		p.Free(pg)
	})
	if allocs != 0 {
		t.Fatalf("warm match/lock/insert/alloc path allocated %.1f times per run", allocs)
	}
}
