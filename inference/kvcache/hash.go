package kvcache

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

// The page hash identifies a cached page across processes: two workers that cached the same tokens in
// the same namespace after the same prefix compute the same 64-bit value, so the KV-aware router can
// compare their events without seeing tokens.
//
// Definition (XXH64, the 64-bit xxHash, as in Python's xxhash.xxh64(data, seed).intdigest()):
//
//	NamespaceHash(ns)        = XXH64(8 little-endian bytes of ns, seed 0)
//	PageHash(parent, tokens) = XXH64(4 little-endian bytes of each token (two's complement), seed parent)
//	hash of a namespace's first page = PageHash(NamespaceHash(ns), page tokens)
//	hash of every later page         = PageHash(hash of the page before it, page tokens)
//
// So a page's hash commits to the namespace and every token before it. Pages are whole: with page size
// P every hashed page holds exactly P tokens.

// NamespaceHash is the parent hash of a namespace's first page.
func NamespaceHash(ns Namespace) uint64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(ns))
	return xxhash.Sum64(b[:])
}

// PageHash chains a page's tokens onto its parent's hash (see the definition above).
func PageHash(parent uint64, tokens []int32) uint64 {
	var d xxhash.Digest
	d.ResetWithSeed(parent)
	if littleEndian {
		d.Write(pageKey(tokens)) // the in-memory bytes are the defined ones
	} else {
		var b [64]byte
		for len(tokens) > 0 {
			n := min(len(tokens), len(b)/4)
			for i, t := range tokens[:n] {
				binary.LittleEndian.PutUint32(b[4*i:], uint32(t))
			}
			d.Write(b[:4*n])
			tokens = tokens[n:]
		}
	}
	return d.Sum64()
}

// PageHashes appends the chained hashes of every whole page of tokens in namespace ns to dst: what a
// worker that cached these tokens reports in its Stored events. The KV-aware router computes them for an
// incoming request and counts how many leading hashes each worker holds.
func PageHashes(ns Namespace, tokens []int32, pageSize int, dst []uint64) []uint64 {
	h := NamespaceHash(ns)
	for i := 0; i+pageSize <= len(tokens); i += pageSize {
		h = PageHash(h, tokens[i:i+pageSize])
		dst = append(dst, h)
	}
	return dst
}

var littleEndian = func() bool {
	x := []int32{1}
	return pageKey(x)[0] == 1
}()

// NamespaceOf turns a tenant or LoRA adapter name into a Namespace: XXH64 of its UTF-8 bytes, seed 0.
// The empty name is the default namespace 0.
func NamespaceOf(name string) Namespace {
	if name == "" {
		return 0
	}
	return Namespace(xxhash.Sum64String(name))
}
