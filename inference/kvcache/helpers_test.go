package kvcache

import "testing"

// newTestTree makes a small f32 pool of nPages pages and a tree over it.
func newTestTree(t testing.TB, ps, nPages int, opts TreeOptions) (*Pool, *Tree) {
	t.Helper()
	p, err := NewPool(PoolConfig{Layers: 1, KVHeads: 1, HeadDim: 2, Tokens: ps * nPages, PageSize: ps})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTree(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, tr
}

func check(t testing.TB, tr *Tree) {
	t.Helper()
	if err := tr.CheckInvariant(); err != nil {
		t.Fatal(err)
	}
}

// seq returns n tokens start, start+1, ...
func seq(start, n int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = int32(start + i)
	}
	return s
}

func cat(parts ...[]int32) []int32 {
	var out []int32
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// insertNew allocates pages for key and inserts it, freeing duplicates and the partial tail as a
// finished request would. It returns Insert's cached count.
func insertNew(t testing.TB, p *Pool, tr *Tree, ns Namespace, key []int32) int {
	t.Helper()
	pages, err := p.Alloc(p.PagesFor(len(key)))
	if err != nil {
		t.Fatal(err)
	}
	cached, _, err := tr.Insert(ns, key, pages)
	if err != nil {
		t.Fatal(err)
	}
	ps := p.PageSize()
	p.Free(pages[:cached/ps])
	p.Free(pages[len(key)/ps:])
	check(t, tr)
	return cached
}
