package kvcache

import (
	"errors"
	"fmt"
	"slices"
	"unsafe"
)

// Namespace keeps otherwise equal prefixes apart: a LoRA adapter or tenant salt. Each namespace has its
// own subtree under the root; 0 is the default. NamespaceOf derives one from a name.
type Namespace uint64

// ErrBusy is returned by Clear while a request holds a lock on the tree.
var ErrBusy = errors.New("kvcache: tree has locked prefixes")

// Node is a handle on a cached prefix: the end of a Match or Insert. Lock it to keep the prefix from
// being evicted while a request uses its pages; unlock it exactly once per Lock. A handle that is not
// locked is valid only until the tree's next mutating operation (it may be evicted).
//
// Splits never invalidate a handle: when a match ends inside a node, the new node takes the front part and
// the handle keeps naming the end of the prefix.
type Node struct {
	parent   *Node
	children map[string]*Node // keyed by the bytes of the child's first page (first token at page size 1)

	key    []int32  // tokens, len(pages)*PageSize; immutable once set (splits and evictions reslice)
	pages  []int32  // the pool pages holding key's KV
	hashes []uint64 // chained page hashes, one per page

	lockRef    int32
	lastAccess uint64 // logical clock of the last Match or Insert through this node
	heapIdx    int32  // index in the eviction heap, -1 when not in it
	removed    bool   // evicted or cleared: using the handle is a bug

	// Roots only: the namespace and its hash (parent of the first page).
	ns     Namespace
	nsHash uint64
}

// Tokens returns the length of the prefix the handle names.
func (n *Node) Tokens() int {
	t := 0
	for ; n != nil; n = n.parent {
		t += len(n.key)
	}
	return t
}

func (n *Node) isRoot() bool { return n.parent == nil }

func (n *Node) lastHash() uint64 {
	if len(n.hashes) == 0 {
		return n.nsHash
	}
	return n.hashes[len(n.hashes)-1]
}

// TreeOptions configure a Tree.
type TreeOptions struct {
	// Events, when set, receives every Stored, Removed and Cleared event (see EventSink).
	Events EventSink
	// EventTokens adds the pages' token ids to Stored events.
	EventTokens bool
}

// Tree is the page-aligned radix tree of cached prefixes over one Pool (SGLang's RadixCache): children
// are keyed by their first full page, every node holds whole pages, and a partial trailing page is never
// cached.
//
// Ownership: the tree and its pool belong to one goroutine (the engine's scheduler loop); every method
// except Stats and Usage must be called from it. Other goroutines read Stats and Usage, which return a
// snapshot published at the end of the owner's last operation.
type Tree struct {
	pool  *Pool
	ps    int
	opts  TreeOptions
	roots map[Namespace]*Node
	empty *Node // handle returned when nothing matched in a namespace without a root
	clock uint64
	heap  []*Node // unlocked leaves, min-heap by lastAccess

	nodes                int // excluding roots
	evictable, protected int // tokens in unlocked / locked nodes
	stats                Stats
}

// NewTree makes an empty tree caching into pool. A pool serves at most one tree.
func NewTree(pool *Pool, opts TreeOptions) (*Tree, error) {
	if pool.tree != nil {
		return nil, errors.New("kvcache: creating tree: the pool already has a tree")
	}
	if pool.nCached != 0 {
		return nil, errors.New("kvcache: creating tree: the pool has cached pages")
	}
	t := &Tree{
		pool:  pool,
		ps:    pool.cfg.PageSize,
		opts:  opts,
		roots: make(map[Namespace]*Node),
		empty: &Node{heapIdx: -1},
	}
	pool.tree = t
	pool.publish()
	return t, nil
}

// Pool returns the pool the tree caches into.
func (t *Tree) Pool() *Pool { return t.pool }

// PageSize returns the tree's page size (the pool's).
func (t *Tree) PageSize() int { return t.ps }

// SetEventSink replaces the event sink (nil: no events). Events already stored are not replayed.
func (t *Tree) SetEventSink(s EventSink) { t.opts.Events = s }

// Stats returns the counters as of the end of the owner's last operation. Safe from any goroutine.
func (t *Tree) Stats() Stats { return t.pool.read().stats }

// Usage returns where the pool's pages are. Safe from any goroutine.
func (t *Tree) Usage() Usage { return t.pool.read().usage }

// pageKey views a page of tokens as the bytes of a map key. Map lookups through string(pageKey(...))
// do not allocate.
func pageKey(tokens []int32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(tokens))), len(tokens)*4)
}

func (t *Tree) child(n *Node, page []int32) *Node {
	if n.children == nil {
		return nil
	}
	return n.children[string(pageKey(page))]
}

// commonPages returns how many whole pages a and b share from the start.
func commonPages(a, b []int32, ps int) int {
	m := min(len(a), len(b))
	a, b = a[:m], b[:m]
	i := 0
	for i < m && a[i] == b[i] {
		i++
	}
	return i / ps
}

// MatchLen returns the length of the longest cached page-aligned prefix of key in ns without touching
// anything: no split, no LRU update, no stats. For schedulers ranking waiting requests (LPM).
func (t *Tree) MatchLen(ns Namespace, key []int32) int {
	aligned := len(key) - len(key)%t.ps
	n := t.roots[ns]
	m := 0
	for n != nil && m < aligned {
		c := t.child(n, key[m:m+t.ps])
		if c == nil {
			break
		}
		k := commonPages(c.key, key[m:aligned], t.ps)
		m += k * t.ps
		if k < len(c.pages) {
			break
		}
		n = c
	}
	return m
}

// Match finds the longest cached page-aligned prefix of key in namespace ns. It appends that prefix's
// pages to dst and returns the extended slice, the matched length in tokens (a multiple of the page
// size) and the handle of the prefix's end (for Lock; the root handle when nothing matched). It splits a
// node when the match ends inside it and marks every node on the path as just used. It allocates nothing
// when dst has room and no split is needed.
//
// Every call counts into Stats (len(key) queried, the matched length hit): call it once per request you
// admit, and use MatchLen to rank.
func (t *Tree) Match(ns Namespace, key []int32, dst []int32) (int, []int32, *Node) {
	t.clock++
	t.stats.Matches++
	t.stats.QueriedTokens += uint64(len(key))
	aligned := len(key) - len(key)%t.ps
	n := t.roots[ns]
	if n == nil {
		t.pool.publish()
		return 0, dst, t.empty
	}
	m := 0
	for m < aligned {
		c := t.child(n, key[m:m+t.ps])
		if c == nil {
			break
		}
		k := commonPages(c.key, key[m:aligned], t.ps)
		if k < len(c.pages) {
			c = t.split(c, k)
		}
		t.touch(c)
		dst = append(dst, c.pages...)
		m += len(c.key)
		n = c
	}
	t.stats.HitTokens += uint64(m)
	t.pool.publish()
	return m, dst, n
}

// PagesOf appends the pages of the whole prefix ending at handle n (root first) to dst: the page table of
// a cached prefix, for example to replace a request's duplicate pages after a chunked-prefill Insert.
// Unlike Match it touches nothing and counts nothing; it allocates nothing when dst has room.
func (t *Tree) PagesOf(n *Node, dst []int32) []int32 {
	if n.removed {
		panic("kvcache: PagesOf an evicted node")
	}
	total := 0
	for c := n; c != nil; c = c.parent {
		total += len(c.pages)
	}
	start := len(dst)
	dst = slices.Grow(dst, total)[:start+total]
	end := len(dst)
	for c := n; c != nil; c = c.parent {
		end -= len(c.pages)
		copy(dst[end:], c.pages)
	}
	return dst
}

// touch marks n as used now, keeping its heap position right.
func (t *Tree) touch(n *Node) {
	n.lastAccess = t.clock
	if n.heapIdx >= 0 {
		t.heapFix(int(n.heapIdx))
	}
}

// split cuts c after k pages (0 < k < len(c.pages)) and returns the new node holding the front part. c
// keeps the back part, so handles on c still name the same prefix end.
func (t *Tree) split(c *Node, k int) *Node {
	kt := k * t.ps
	front := &Node{
		parent:     c.parent,
		key:        c.key[:kt:kt],
		pages:      c.pages[:k:k],
		hashes:     c.hashes[:k:k],
		lockRef:    c.lockRef,
		lastAccess: c.lastAccess,
		heapIdx:    -1,
	}
	// The front keeps c's first page, so it takes c's slot in the parent's map under the same key.
	c.parent.children[string(pageKey(front.key[:t.ps]))] = front
	c.key, c.pages, c.hashes = c.key[kt:], c.pages[k:], c.hashes[k:]
	c.parent = front
	front.children = map[string]*Node{string(pageKey(c.key[:t.ps])): c}
	t.nodes++
	return front
}

// Insert caches the page-aligned part of key, whose KV lives in pages (the request's page table: page i
// holds tokens i*PageSize..; pages beyond the aligned length are ignored). It returns how many leading
// tokens were cached already, and the handle of the inserted prefix's end.
//
// For those first `cached` tokens the tree keeps its own pages. The caller still owns its pages there:
// those it got from Match are the tree's own and stay, the others (pages[matched/PageSize :
// cached/PageSize] for a request that matched `matched` tokens) are duplicates to Free. It also frees its
// partial trailing page. Pages after `cached` move to the tree and must be in flight (from Alloc);
// otherwise Insert fails and the tree's contents are unchanged.
func (t *Tree) Insert(ns Namespace, key []int32, pages []int32) (int, *Node, error) {
	aligned := len(key) - len(key)%t.ps
	if len(pages) < aligned/t.ps {
		return 0, nil, fmt.Errorf("kvcache: inserting %d tokens: %d pages given, %d needed", aligned, len(pages), aligned/t.ps)
	}
	t.clock++
	t.stats.Inserts++
	n := t.roots[ns]
	if n == nil {
		if aligned == 0 {
			t.pool.publish()
			return 0, t.empty, nil
		}
		n = &Node{heapIdx: -1, ns: ns, nsHash: NamespaceHash(ns)}
		t.roots[ns] = n
	}
	m := 0
	for m < aligned {
		c := t.child(n, key[m:m+t.ps])
		if c == nil {
			break
		}
		k := commonPages(c.key, key[m:aligned], t.ps)
		if k < len(c.pages) {
			c = t.split(c, k)
		}
		t.touch(c)
		m += len(c.key)
		n = c
	}
	if m == aligned {
		t.dropEmptyRoot(n)
		t.pool.publish()
		return m, n, nil
	}
	newPages := pages[m/t.ps : aligned/t.ps]
	if err := t.pool.adopt(newPages); err != nil {
		t.dropEmptyRoot(n)
		t.pool.publish()
		return 0, nil, err
	}
	leaf := &Node{
		parent:     n,
		key:        append([]int32(nil), key[m:aligned]...),
		pages:      append([]int32(nil), newPages...),
		hashes:     make([]uint64, len(newPages)),
		lastAccess: t.clock,
		heapIdx:    -1,
	}
	h := n.lastHash()
	for i := range leaf.hashes {
		h = PageHash(h, leaf.key[i*t.ps:(i+1)*t.ps])
		leaf.hashes[i] = h
	}
	if n.heapIdx >= 0 {
		t.heapRemove(n) // n was an evictable leaf; now it has a child
	}
	if n.children == nil {
		n.children = make(map[string]*Node, 1)
	}
	n.children[string(pageKey(leaf.key[:t.ps]))] = leaf
	t.heapPush(leaf)
	t.nodes++
	t.evictable += len(leaf.key)
	t.stats.InsertedTokens += uint64(len(leaf.key))
	if t.opts.Events != nil {
		e := Event{Kind: Stored, Namespace: t.nsOf(n), ParentHash: n.lastHash(), Hashes: leaf.hashes}
		if t.opts.EventTokens {
			e.Tokens = leaf.key
		}
		t.opts.Events(e)
	}
	t.pool.publish()
	return m, leaf, nil
}

// dropEmptyRoot removes a namespace root that has no children (created by a failed or empty insert).
func (t *Tree) dropEmptyRoot(n *Node) {
	if n.isRoot() && len(n.children) == 0 && n != t.empty {
		delete(t.roots, n.ns)
	}
}

func (t *Tree) nsOf(n *Node) Namespace {
	for n.parent != nil {
		n = n.parent
	}
	return n.ns
}

// Lock protects the prefix ending at n from eviction (reference counted up to the root).
func (t *Tree) Lock(n *Node) {
	if n.removed {
		panic("kvcache: Lock of an evicted node (a handle not locked across an eviction)")
	}
	for ; !n.isRoot(); n = n.parent {
		if n.lockRef == 0 {
			t.evictable -= len(n.key)
			t.protected += len(n.key)
			if n.heapIdx >= 0 {
				t.heapRemove(n)
			}
		}
		n.lockRef++
	}
	t.pool.publish()
}

// Unlock releases one Lock of n. Unlocking more often than locking panics: it would let running
// requests' pages be evicted.
func (t *Tree) Unlock(n *Node) {
	if n.removed {
		panic("kvcache: Unlock of an evicted node")
	}
	for c := n; !c.isRoot(); c = c.parent {
		if c.lockRef <= 0 {
			panic("kvcache: Unlock of a node that is not locked")
		}
	}
	for ; !n.isRoot(); n = n.parent {
		n.lockRef--
		if n.lockRef == 0 {
			t.protected -= len(n.key)
			t.evictable += len(n.key)
			if len(n.children) == 0 {
				t.heapPush(n)
			}
		}
	}
	t.pool.publish()
}

// Evict frees at least nTokens tokens' worth of cached pages (rounded up to whole pages) if that many are
// evictable, least recently used first: it takes pages from the tail of the least recently used unlocked
// leaf, removes leaves that become empty and then considers their parents. It returns the tokens freed.
// Only as much as asked is taken — a long leaf is shortened, not dropped whole.
func (t *Tree) Evict(nTokens int) int {
	need := nTokens / t.ps // not (n+ps-1)/ps: Evict(math.MaxInt) must mean everything
	if nTokens%t.ps > 0 {
		need++
	}
	freed := 0
	for need > 0 && len(t.heap) > 0 {
		n := t.heap[0]
		k := min(need, len(n.pages))
		keep := len(n.pages) - k
		if keep == 0 {
			// Unlink while the first page is still there to name n in its parent's map.
			delete(n.parent.children, string(pageKey(n.key[:t.ps])))
		}
		t.pool.release(n.pages[keep:])
		if t.opts.Events != nil {
			t.opts.Events(Event{Kind: Removed, Namespace: t.nsOf(n), Hashes: n.hashes[keep:]})
		}
		n.key, n.pages, n.hashes = n.key[:keep*t.ps:keep*t.ps], n.pages[:keep:keep], n.hashes[:keep:keep]
		t.evictable -= k * t.ps
		freed += k * t.ps
		need -= k
		if keep > 0 {
			continue // still the least recently used leaf: its time did not change
		}
		t.heapRemove(n)
		t.removeLeaf(n)
	}
	if freed > 0 {
		t.stats.Evictions++
		t.stats.EvictedTokens += uint64(freed)
	}
	t.pool.publish()
	return freed
}

// removeLeaf forgets an empty, unlocked leaf already unlinked from its parent's map; the parent may
// become an evictable leaf or, for an empty namespace root, go away.
func (t *Tree) removeLeaf(n *Node) {
	p := n.parent
	n.removed = true
	n.parent = nil
	t.nodes--
	if len(p.children) > 0 {
		return
	}
	if p.isRoot() {
		delete(t.roots, p.ns)
		return
	}
	if p.lockRef == 0 {
		t.heapPush(p)
	}
}

// EvictableTokens returns how many tokens Evict could free now (owner goroutine).
func (t *Tree) EvictableTokens() int { return t.evictable }

// AllocInto allocates nPages pages like Pool.AllocInto, first evicting as many cached pages as the free
// list lacks. When free plus evictable pages are not enough it fails with ErrOutOfPages and changes
// nothing.
func (t *Tree) AllocInto(dst []int32, nPages int) ([]int32, error) {
	if short := nPages - t.pool.FreePages(); short > 0 {
		if short*t.ps > t.evictable {
			return dst, fmt.Errorf("kvcache: allocating %d pages with %d free and %d evictable: %w",
				nPages, t.pool.FreePages(), t.evictable/t.ps, ErrOutOfPages)
		}
		t.Evict(short * t.ps)
	}
	return t.pool.AllocInto(dst, nPages)
}

// Clear drops every cached prefix, returning the pages to the pool, and emits Cleared. It fails with
// ErrBusy, changing nothing, while any prefix is locked. In-flight pages are untouched; cumulative stats
// are kept.
func (t *Tree) Clear() error {
	if t.protected > 0 {
		return fmt.Errorf("kvcache: clearing the tree: %d tokens locked by running requests: %w", t.protected, ErrBusy)
	}
	for _, r := range t.roots {
		t.releaseSubtree(r)
	}
	clear(t.roots)
	clear(t.heap)
	t.heap = t.heap[:0]
	t.nodes, t.evictable = 0, 0
	t.stats.Clears++
	if t.opts.Events != nil {
		t.opts.Events(Event{Kind: Cleared})
	}
	t.pool.publish()
	return nil
}

func (t *Tree) releaseSubtree(n *Node) {
	for _, c := range n.children {
		t.releaseSubtree(c)
	}
	t.pool.release(n.pages)
	n.heapIdx = -1
	if !n.isRoot() {
		n.removed = true
	}
}

// ---- eviction heap: unlocked leaves, least recently used on top ----

func (t *Tree) less(i, j int) bool { return t.heap[i].lastAccess < t.heap[j].lastAccess }

func (t *Tree) swap(i, j int) {
	h := t.heap
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = int32(i), int32(j)
}

func (t *Tree) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.less(i, p) {
			return
		}
		t.swap(i, p)
		i = p
	}
}

func (t *Tree) down(i int) bool {
	i0, n := i, len(t.heap)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && t.less(r, l) {
			j = r
		}
		if !t.less(j, i) {
			break
		}
		t.swap(i, j)
		i = j
	}
	return i > i0
}

func (t *Tree) heapPush(n *Node) {
	n.heapIdx = int32(len(t.heap))
	t.heap = append(t.heap, n)
	t.up(len(t.heap) - 1)
}

func (t *Tree) heapRemove(n *Node) {
	i, last := int(n.heapIdx), len(t.heap)-1
	if i != last {
		t.swap(i, last)
	}
	t.heap[last] = nil
	t.heap = t.heap[:last]
	n.heapIdx = -1
	if i != last {
		t.heapFix(i)
	}
}

func (t *Tree) heapFix(i int) {
	if !t.down(i) {
		t.up(i)
	}
}
