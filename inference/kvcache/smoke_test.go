package kvcache

import "testing"

func TestSmoke(t *testing.T) {
	p, tr := newTestTree(t, 4, 16, TreeOptions{})
	if c := insertNew(t, p, tr, 0, seq(0, 10)); c != 0 {
		t.Fatalf("cached %d", c)
	}
	n, pages, h := tr.Match(0, seq(0, 12), nil)
	if n != 8 || len(pages) != 2 {
		t.Fatalf("match %d %v", n, pages)
	}
	tr.Lock(h)
	check(t, tr)
	if got := tr.Evict(100); got != 0 {
		t.Fatalf("evicted %d while locked", got)
	}
	tr.Unlock(h)
	if got := tr.Evict(1); got != 4 {
		t.Fatalf("evicted %d", got)
	}
	check(t, tr)
	u := tr.Usage()
	if u.FreePages != 15 || u.EvictablePages != 1 {
		t.Fatalf("usage %+v", u)
	}
}
