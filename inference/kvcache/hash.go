package kvcache

// The page hash identifies a cached page across processes: two workers that cached the same tokens in
// the same namespace after the same prefix compute the same 64-bit value, so the KV-aware router can
// compare their events without seeing tokens.
//
// Definition (FNV-1a, 64-bit: offset basis 14695981039346656037, prime 1099511628211, one byte at a time
// h = (h XOR b) * prime):
//
//	NamespaceHash(ns)         = FNV-1a-64 of the 8 little-endian bytes of ns
//	PageHash(parent, tokens)  = FNV-1a-64 of the 8 little-endian bytes of parent, followed by the 4
//	                            little-endian bytes of each token (two's complement)
//	hash of a namespace's first page = PageHash(NamespaceHash(ns), page tokens)
//	hash of every later page         = PageHash(hash of the page before it, page tokens)
//
// So a page's hash commits to the namespace and every token before it. Pages are whole: with page size
// P every hashed page holds exactly P tokens.

const (
	fnvOffset64 uint64 = 14695981039346656037
	fnvPrime64  uint64 = 1099511628211
)

// NamespaceHash is the parent hash of a namespace's first page.
func NamespaceHash(ns Namespace) uint64 {
	return fnvU64(fnvOffset64, uint64(ns))
}

// PageHash chains a page's tokens onto its parent's hash (see the definition above).
func PageHash(parent uint64, tokens []int32) uint64 {
	h := fnvU64(fnvOffset64, parent)
	for _, t := range tokens {
		x := uint64(uint32(t))
		h = (h ^ (x & 0xff)) * fnvPrime64
		h = (h ^ (x >> 8 & 0xff)) * fnvPrime64
		h = (h ^ (x >> 16 & 0xff)) * fnvPrime64
		h = (h ^ (x >> 24)) * fnvPrime64
	}
	return h
}

func fnvU64(h, v uint64) uint64 {
	for i := 0; i < 8; i++ {
		h = (h ^ (v & 0xff)) * fnvPrime64
		v >>= 8
	}
	return h
}

// NamespaceOf turns a tenant or LoRA adapter name into a Namespace: FNV-1a-64 of its UTF-8 bytes. The
// empty name is the default namespace 0.
func NamespaceOf(name string) Namespace {
	if name == "" {
		return 0
	}
	h := fnvOffset64
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * fnvPrime64
	}
	return Namespace(h)
}
