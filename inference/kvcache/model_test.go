package kvcache

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// The reference model: the cache as a flat map from every cached page-aligned prefix (namespace + tokens
// through that page) to the page holding its last page, its last use and its lock count. No nodes, no
// splits, no heap: eviction scans for the least recently used unlocked page that no cached prefix extends.
// The tree must agree with it on every observable: match lengths and pages, insert results, eviction
// amounts, usage, stats and events.

type mPage struct {
	page  int32
	last  uint64
	locks int
	hash  uint64
}

type model struct {
	ps       int
	total    int
	cached   map[string]*mPage
	clock    uint64
	free     int
	inFlight int

	hits, queried, evicted, inserted uint64
}

func newModel(ps, total int) *model {
	return &model{ps: ps, total: total, cached: map[string]*mPage{}, free: total}
}

// prefixKey names the prefix of key through page k-1.
func (m *model) prefixKey(ns Namespace, key []int32, k int) string {
	b := binary.LittleEndian.AppendUint64(nil, uint64(ns))
	for _, tok := range key[:k*m.ps] {
		b = binary.LittleEndian.AppendUint32(b, uint32(tok))
	}
	return string(b)
}

// walk returns the cached pages of key's longest cached page-aligned prefix.
func (m *model) walk(ns Namespace, key []int32) []*mPage {
	var out []*mPage
	for k := 1; k*m.ps <= len(key); k++ {
		e := m.cached[m.prefixKey(ns, key, k)]
		if e == nil {
			break
		}
		out = append(out, e)
	}
	return out
}

func (m *model) match(ns Namespace, key []int32) []*mPage {
	m.clock++
	path := m.walk(ns, key)
	for _, e := range path {
		e.last = m.clock
	}
	m.queried += uint64(len(key))
	m.hits += uint64(len(path) * m.ps)
	return path
}

// insert returns the cached count and the hashes of the newly stored pages.
func (m *model) insert(ns Namespace, key []int32, pages []int32) (int, []uint64) {
	m.clock++
	path := m.walk(ns, key)
	for _, e := range path {
		e.last = m.clock
	}
	h := NamespaceHash(ns)
	if len(path) > 0 {
		h = path[len(path)-1].hash
	}
	var stored []uint64
	for k := len(path); (k+1)*m.ps <= len(key); k++ {
		h = PageHash(h, key[k*m.ps:(k+1)*m.ps])
		m.cached[m.prefixKey(ns, key, k+1)] = &mPage{page: pages[k], last: m.clock, hash: h}
		m.inFlight--
		m.inserted += uint64(m.ps)
		stored = append(stored, h)
	}
	return len(path) * m.ps, stored
}

func (m *model) lock(ns Namespace, key []int32, pages int, delta int) {
	for k := 1; k <= pages; k++ {
		m.cached[m.prefixKey(ns, key, k)].locks += delta
	}
}

// evict removes pages one at a time, least recently used unlocked leaf first.
func (m *model) evict(t *rapid.T, nTokens int) (int, []uint64) {
	need := (nTokens + m.ps - 1) / m.ps
	freed := 0
	var removed []uint64
	for ; need > 0; need-- {
		hasChild := map[string]bool{}
		for k := range m.cached {
			if len(k) > 8 {
				hasChild[k[:len(k)-4*m.ps]] = true
			}
		}
		var best string
		var bestE *mPage
		tie := false
		for k, e := range m.cached {
			if e.locks > 0 || hasChild[k] {
				continue
			}
			switch {
			case bestE == nil || e.last < bestE.last:
				best, bestE, tie = k, e, false
			case e.last == bestE.last:
				tie = true
			}
		}
		if bestE == nil {
			break
		}
		if tie {
			t.Fatalf("model: two evictable leaves last used at the same time %d: LRU order ambiguous", bestE.last)
		}
		delete(m.cached, best)
		m.free++
		freed += m.ps
		removed = append(removed, bestE.hash)
	}
	m.evicted += uint64(freed)
	return freed, removed
}

func (m *model) locked() bool {
	for _, e := range m.cached {
		if e.locks > 0 {
			return true
		}
	}
	return false
}

func (m *model) usage() Usage {
	u := Usage{PageSize: m.ps, TotalPages: m.total, FreePages: m.free, InFlightPages: m.inFlight}
	for _, e := range m.cached {
		if e.locks > 0 {
			u.ProtectedPages++
		} else {
			u.EvictablePages++
		}
	}
	return u
}

// eventLog replays the tree's events into the set of live page hashes.
type eventLog struct {
	ps      int
	live    map[uint64]bool
	stored  []uint64 // since the last take
	removed []uint64
	cleared int
	err     error
}

func (l *eventLog) sink(e Event) {
	fail := func(format string, args ...any) {
		if l.err == nil {
			l.err = fmt.Errorf(format, args...)
		}
	}
	switch e.Kind {
	case Stored:
		if len(e.Tokens) != len(e.Hashes)*l.ps {
			fail("stored event with %d hashes carries %d tokens", len(e.Hashes), len(e.Tokens))
			return
		}
		h := e.ParentHash
		for i, x := range e.Hashes {
			if h = PageHash(h, e.Tokens[i*l.ps:(i+1)*l.ps]); h != x {
				fail("stored hash %d does not chain from the parent hash", i)
			}
			if l.live[x] {
				fail("page hash %x stored twice", x)
			}
			l.live[x] = true
		}
		l.stored = append(l.stored, e.Hashes...)
	case Removed:
		for _, x := range e.Hashes {
			if !l.live[x] {
				fail("removed page hash %x was never stored", x)
			}
			delete(l.live, x)
		}
		l.removed = append(l.removed, e.Hashes...)
	case Cleared:
		clear(l.live)
		l.cleared++
	default:
		fail("unknown event kind %d", e.Kind)
	}
}

func sortedEq(a, b []uint64) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// request is a running request of the property test: its prompt, its page table (the matched tree pages,
// then its own) and the handle it locked.
type request struct {
	ns      Namespace
	key     []int32
	matched int
	pages   []int32
	h       *Node
}

// runOps drives a tree and the model with a random sequence of operations and compares them after each.
func runOps(t *rapid.T, ps int) {
	const totalPages = 24
	pool, err := NewPool(PoolConfig{Layers: 1, KVHeads: 1, HeadDim: 1, Tokens: totalPages * ps, PageSize: ps})
	if err != nil {
		t.Fatal(err)
	}
	log := &eventLog{ps: ps, live: map[uint64]bool{}}
	tr, err := NewTree(pool, TreeOptions{Events: log.sink, EventTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	m := newModel(ps, totalPages)

	// Keys are built from a few page templates so that prompts share prefixes often, with the odd changed
	// token (a mismatch inside a page) and a partial trailing page.
	templates := rapid.SliceOfN(rapid.SliceOfN(rapid.Int32Range(0, 3), ps, ps), 3, 3).Draw(t, "templates")
	type nsKey struct {
		ns  Namespace
		key []int32
	}
	var history []nsKey
	genKey := func(t *rapid.T) (Namespace, []int32) {
		var ns Namespace
		var key []int32
		if len(history) > 0 && rapid.IntRange(0, 2).Draw(t, "reuse") > 0 {
			// A prefix of an earlier key, so matches end inside cached nodes and on locked ones.
			old := history[rapid.IntRange(0, len(history)-1).Draw(t, "earlier")]
			ns = old.ns
			key = slices.Clone(old.key[:rapid.IntRange(0, len(old.key)).Draw(t, "cut")])
		} else {
			ns = rapid.SampledFrom([]Namespace{0, 7}).Draw(t, "ns")
		}
		for range rapid.IntRange(0, 4).Draw(t, "pages") {
			key = append(key, templates[rapid.IntRange(0, 2).Draw(t, "template")]...)
		}
		if len(key) > 0 && rapid.IntRange(0, 3).Draw(t, "mutate") == 0 {
			key[rapid.IntRange(0, len(key)-1).Draw(t, "at")] = 9
		}
		for range rapid.IntRange(0, ps-1).Draw(t, "tail") {
			key = append(key, rapid.Int32Range(0, 3).Draw(t, "tok"))
		}
		return ns, key
	}

	var reqs []*request
	var raws [][]int32

	// matchBoth runs Match on tree and model and compares the results.
	matchBoth := func(t *rapid.T, ns Namespace, key []int32) (int, []int32, *Node) {
		wantLen := tr.MatchLen(ns, key)
		n, pages, h := tr.Match(ns, key, nil)
		path := m.match(ns, key)
		if n != len(path)*ps || wantLen != n {
			t.Fatalf("match %v: tree %d tokens (MatchLen %d), model %d", key, n, wantLen, len(path)*ps)
		}
		for i, e := range path {
			if pages[i] != e.page {
				t.Fatalf("match page %d: tree %d, model %d", i, pages[i], e.page)
			}
		}
		if h.Tokens() != n {
			t.Fatalf("match handle names %d tokens, matched %d", h.Tokens(), n)
		}
		if got := tr.PagesOf(h, nil); !slices.Equal(got, pages) {
			t.Fatalf("PagesOf the match handle %v, Match pages %v", got, pages)
		}
		return n, pages, h
	}
	takeEvents := func(t *rapid.T, stored, removed []uint64) {
		if !sortedEq(log.stored, stored) || !sortedEq(log.removed, removed) {
			t.Fatalf("events: stored %x removed %x, model expects stored %x removed %x",
				log.stored, log.removed, stored, removed)
		}
		log.stored, log.removed = nil, nil
	}

	var start, finish func(t *rapid.T)
	var finishAt func(t *rapid.T, i int)
	start = func(t *rapid.T) {
		ns, key := genKey(t)
		n, pages, h := matchBoth(t, ns, key)
		tr.Lock(h)
		m.lock(ns, key, n/ps, +1)
		need := pool.PagesFor(len(key)) - n/ps
		if rapid.Bool().Draw(t, "evicting") {
			u := m.usage()
			if need > u.FreePages+u.EvictablePages {
				if _, err := tr.AllocInto(pages, need); !errors.Is(err, ErrOutOfPages) {
					t.Fatalf("AllocInto beyond free+evictable: %v", err)
				}
				takeEvents(t, nil, nil) // nothing evicted in vain
				tr.Unlock(h)
				m.lock(ns, key, n/ps, -1)
				return
			}
			if pages, err = tr.AllocInto(pages, need); err != nil {
				t.Fatalf("AllocInto: %v", err)
			}
			var removed []uint64
			if need > u.FreePages {
				_, removed = m.evict(t, (need-u.FreePages)*ps)
			}
			takeEvents(t, nil, removed)
		} else {
			if need > m.free {
				if _, err := pool.AllocInto(pages, need); !errors.Is(err, ErrOutOfPages) {
					t.Fatalf("AllocInto beyond free: %v", err)
				}
				tr.Unlock(h)
				m.lock(ns, key, n/ps, -1)
				return
			}
			if pages, err = pool.AllocInto(pages, need); err != nil {
				t.Fatal(err)
			}
		}
		m.free -= need
		m.inFlight += need
		reqs = append(reqs, &request{ns: ns, key: key, matched: n, pages: pages, h: h})
	}
	finish = func(t *rapid.T) {
		if len(reqs) == 0 {
			t.Skip("no request")
		}
		finishAt(t, rapid.IntRange(0, len(reqs)-1).Draw(t, "req"))
	}
	finishAt = func(t *rapid.T, i int) {
		r := reqs[i]
		reqs = slices.Delete(reqs, i, i+1)
		history = append(history, nsKey{r.ns, r.key})
		cached, h, err := tr.Insert(r.ns, r.key, r.pages)
		if err != nil {
			t.Fatal(err)
		}
		want, stored := m.insert(r.ns, r.key, r.pages)
		if cached != want {
			t.Fatalf("insert %v: tree says %d cached, model %d", r.key, cached, want)
		}
		takeEvents(t, stored, nil)
		aligned := len(r.key) / ps * ps
		if h.Tokens() != aligned {
			t.Fatalf("insert handle names %d tokens, want %d", h.Tokens(), aligned)
		}
		dup := r.pages[r.matched/ps : cached/ps]
		tail := r.pages[aligned/ps:]
		pool.Free(dup)
		pool.Free(tail)
		m.free += len(dup) + len(tail)
		m.inFlight -= len(dup) + len(tail)
		tr.Unlock(r.h)
		m.lock(r.ns, r.key, r.matched/ps, -1)
	}

	t.Repeat(map[string]func(*rapid.T){
		// A request arrives: match, lock, allocate the rest of its prompt.
		"start": start,
		// A request finishes: insert, free duplicates and the partial tail, unlock.
		"finish": finish,
		// A request arrives and finishes before anything else happens.
		"serve": func(t *rapid.T) {
			n := len(reqs)
			start(t)
			if len(reqs) > n {
				finishAt(t, n)
			}
		},
		// A request is cancelled: free its own pages, unlock.
		"abort": func(t *rapid.T) {
			if len(reqs) == 0 {
				t.Skip("no request")
			}
			i := rapid.IntRange(0, len(reqs)-1).Draw(t, "req")
			r := reqs[i]
			reqs = slices.Delete(reqs, i, i+1)
			own := r.pages[r.matched/ps:]
			pool.Free(own)
			m.free += len(own)
			m.inFlight -= len(own)
			tr.Unlock(r.h)
			m.lock(r.ns, r.key, r.matched/ps, -1)
		},
		"match": func(t *rapid.T) {
			ns, key := genKey(t)
			matchBoth(t, ns, key)
		},
		"alloc": func(t *rapid.T) {
			n := rapid.IntRange(0, 6).Draw(t, "n")
			pages, err := pool.Alloc(n)
			if n > m.free {
				if !errors.Is(err, ErrOutOfPages) {
					t.Fatalf("alloc %d of %d free: %v", n, m.free, err)
				}
				return
			}
			if err != nil || len(pages) != n {
				t.Fatalf("alloc %d: %v %v", n, pages, err)
			}
			m.free -= n
			m.inFlight += n
			raws = append(raws, pages)
		},
		"free": func(t *rapid.T) {
			if len(raws) == 0 {
				t.Skip("nothing allocated")
			}
			i := rapid.IntRange(0, len(raws)-1).Draw(t, "raw")
			pool.Free(raws[i])
			m.free += len(raws[i])
			m.inFlight -= len(raws[i])
			raws = slices.Delete(raws, i, i+1)
		},
		"evict": func(t *rapid.T) {
			n := rapid.IntRange(0, 6*ps).Draw(t, "tokens")
			got := tr.Evict(n)
			want, removed := m.evict(t, n)
			if got != want {
				t.Fatalf("evict %d: tree freed %d, model %d", n, got, want)
			}
			takeEvents(t, nil, removed)
		},
		"clear": func(t *rapid.T) {
			err := tr.Clear()
			if m.locked() {
				if !errors.Is(err, ErrBusy) {
					t.Fatalf("clear with locks: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m.free += len(m.cached)
			clear(m.cached)
			if log.cleared == 0 || len(log.live) != 0 {
				t.Fatalf("clear: %d cleared events, %d live hashes", log.cleared, len(log.live))
			}
		},
		"": func(t *rapid.T) {
			if err := tr.CheckInvariant(); err != nil {
				t.Fatal(err)
			}
			if log.err != nil {
				t.Fatal(log.err)
			}
			if got, want := tr.Usage(), m.usage(); got != want {
				t.Fatalf("usage: tree %+v, model %+v", got, want)
			}
			s := tr.Stats()
			if s.HitTokens != m.hits || s.QueriedTokens != m.queried || s.EvictedTokens != m.evicted ||
				s.InsertedTokens != m.inserted || s.CachedPages != len(m.cached) {
				t.Fatalf("stats %+v, model hits %d queried %d evicted %d inserted %d cached %d",
					s, m.hits, m.queried, m.evicted, m.inserted, len(m.cached))
			}
			if len(log.live) != len(m.cached) {
				t.Fatalf("%d live hashes from events, %d cached pages", len(log.live), len(m.cached))
			}
			for _, e := range m.cached {
				if !log.live[e.hash] {
					t.Fatalf("cached page %d's hash %x missing from events", e.page, e.hash)
				}
			}
		},
	})
}

// TestMain lengthens rapid's action sequences (unless -rapid.steps is given): the interesting states —
// a full pool, long locked prefixes split by later matches — take more than the default 30 steps.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.steps" })
	if !set {
		_ = flag.Set("rapid.steps", "150")
	}
	os.Exit(m.Run())
}

func TestTreeMatchesModel(t *testing.T) {
	for _, ps := range []int{1, 16, 64} {
		t.Run(fmt.Sprintf("page%d", ps), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) { runOps(t, ps) })
		})
	}
}

// FuzzTreeOps feeds fuzzer bytes to the same operations (rapid turns the bytes into draws).
func FuzzTreeOps(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"))
	f.Fuzz(rapid.MakeFuzz(func(t *rapid.T) {
		runOps(t, rapid.SampledFrom([]int{1, 2, 16, 64}).Draw(t, "pageSize"))
	}))
}
