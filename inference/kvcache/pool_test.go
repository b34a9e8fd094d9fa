package kvcache

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func TestPoolArenaSizes(t *testing.T) {
	for _, tc := range []struct {
		dt    DType
		bytes int64
	}{
		{F32, 3 * 2 * 64 * 4 * 8 * 4},
		{F16, 3 * 2 * 64 * 4 * 8 * 2},
		{BF16, 3 * 2 * 64 * 4 * 8 * 2},
	} {
		p, err := NewPool(PoolConfig{Layers: 3, KVHeads: 4, HeadDim: 8, Tokens: 64, DType: tc.dt})
		if err != nil {
			t.Fatal(err)
		}
		if p.PageSize() != DefaultPageSize || p.TotalPages() != 4 || p.Bytes() != tc.bytes || p.DType() != tc.dt {
			t.Fatalf("%v: page size %d, %d pages, %d bytes", tc.dt, p.PageSize(), p.TotalPages(), p.Bytes())
		}
		for l := range 3 {
			if tc.dt == F32 {
				k, v := p.F32(l)
				if len(k) != 64*4*8 || len(v) != len(k) {
					t.Fatalf("f32 layer %d: %d, %d", l, len(k), len(v))
				}
				mustPanic(t, "U16 of an f32 pool", func() { p.U16(l) })
			} else {
				k, v := p.U16(l)
				if len(k) != 64*4*8 || len(v) != len(k) {
					t.Fatalf("%v layer %d: %d, %d", tc.dt, l, len(k), len(v))
				}
				mustPanic(t, "F32 of a 16-bit pool", func() { p.F32(l) })
			}
		}
	}
}

func TestPoolConfigValidation(t *testing.T) {
	good := PoolConfig{Layers: 1, KVHeads: 1, HeadDim: 1, Tokens: 40, PageSize: 16}
	p, err := NewPool(good)
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Config(); c.Tokens != 32 || p.TotalPages() != 2 {
		t.Fatalf("tokens rounded to %d, %d pages; want 32, 2", c.Tokens, p.TotalPages())
	}
	for _, bad := range []PoolConfig{
		{Layers: 0, KVHeads: 1, HeadDim: 1, Tokens: 16},
		{Layers: 1, KVHeads: 1, HeadDim: 1, Tokens: 8, PageSize: 16},
		{Layers: 1, KVHeads: 1, HeadDim: 1, Tokens: 16, PageSize: -1},
		{Layers: 1, KVHeads: 1, HeadDim: 1, Tokens: 16, DType: 7},
	} {
		if _, err := NewPool(bad); err == nil {
			t.Fatalf("NewPool(%+v) succeeded", bad)
		}
	}
}

func TestPoolAllocFree(t *testing.T) {
	p, err := NewPool(PoolConfig{Layers: 1, KVHeads: 1, HeadDim: 1, Tokens: 4 * 8, PageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Alloc(3)
	if err != nil || !slices.Equal(a, []int32{0, 1, 2}) {
		t.Fatalf("alloc %v %v", a, err)
	}
	buf := make([]int32, 0, 8)
	b, err := p.AllocInto(buf, 5)
	if err != nil || len(b) != 5 || &b[0] != &buf[:1][0] {
		t.Fatalf("AllocInto %v %v (must fill the caller's buffer)", b, err)
	}
	if _, err := p.Alloc(1); !errors.Is(err, ErrOutOfPages) {
		t.Fatalf("alloc from an empty pool: %v", err)
	}
	if _, err := p.Alloc(-1); err == nil {
		t.Fatal("negative alloc succeeded")
	}
	u := p.Usage()
	if u.FreePages != 0 || u.InFlightPages != 8 || u.TokenUsage() != 1 {
		t.Fatalf("usage %+v", u)
	}
	p.Free(a)
	if err := p.CheckInvariant(); err != nil {
		t.Fatal(err)
	}
	mustPanic(t, "double free", func() { p.Free(a[:1]) })
	mustPanic(t, "free of an out-of-range page", func() { p.Free([]int32{99}) })
	mustPanic(t, "free of the same page twice in one call", func() { p.Free([]int32{b[0], b[0]}) })
	// AllocInto is all or nothing.
	if got, err := p.AllocInto(nil, 4); !errors.Is(err, ErrOutOfPages) || got != nil {
		t.Fatalf("AllocInto beyond free: %v %v", got, err)
	}
}

func TestSlots(t *testing.T) {
	p, err := NewPool(PoolConfig{Layers: 1, KVHeads: 2, HeadDim: 2, Tokens: 4 * 8, PageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	pages := []int32{5, 2}
	got := p.Slots(nil, pages, 6)
	if want := []int32{20, 21, 22, 23, 8, 9}; !slices.Equal(got, want) {
		t.Fatalf("slots %v, want %v", got, want)
	}
	if p.SlotOf(pages, 5) != 9 || p.PagesFor(9) != 3 || p.PagesFor(8) != 2 || p.PagesFor(0) != 0 {
		t.Fatal("SlotOf / PagesFor")
	}
}

// The hash definition in hash.go, checked against xxhash fed the documented bytes.
func TestPageHashDefinition(t *testing.T) {
	parent := uint64(0x0123456789abcdef)
	tokens := []int32{0, 1, -1, 128000, 1 << 30}
	var b []byte
	for _, x := range tokens {
		b = binary.LittleEndian.AppendUint32(b, uint32(x))
	}
	d := xxhash.NewWithSeed(parent)
	d.Write(b)
	if got, want := PageHash(parent, tokens), d.Sum64(); got != want {
		t.Fatalf("PageHash %x, XXH64 of the documented bytes %x", got, want)
	}
	if got, want := NamespaceHash(7), xxhash.Sum64(binary.LittleEndian.AppendUint64(nil, 7)); got != want {
		t.Fatalf("NamespaceHash %x, want %x", got, want)
	}
	if got, want := uint64(NamespaceOf("tenant")), xxhash.Sum64([]byte("tenant")); got != want {
		t.Fatalf("NamespaceOf %x, want %x", got, want)
	}
	// Fixed values, so a change of definition cannot pass unnoticed (other processes depend on it).
	// XXH64 of empty input with seed 0 is the published test vector ef46db3751d8e999.
	if got := PageHash(0, nil); got != 0xef46db3751d8e999 {
		t.Fatalf("PageHash(0, nil) = %#x", got)
	}
	if got := PageHash(NamespaceHash(0), []int32{1, 2, 3, 4}); got != 0x9fa8e2825c09e44a {
		t.Fatalf("golden PageHash changed: %#x", got)
	}
}
