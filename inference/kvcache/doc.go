// Package kvcache is RadixAttention's memory: the paged KV pool and the radix tree of cached prefixes
// over it, with SGLang's semantics (RadixCache with page size P).
//
// # Pool
//
// Pool preallocates one K and one V arena per layer, [slots][kv heads][head dim] of f32, f16 or bf16
// (16-bit types as raw bits), and hands them out in pages of PageSize slots (16 by default) from a free
// list: Alloc/AllocInto and Free are O(1) per page and AllocInto allocates nothing. A request's page table
// is a []int32 of pages; position i lives in slot pages[i/P]*P + i%P. There is one pool for running
// requests and the cache alike — no separate cache budget.
//
// Every page is free, in flight (allocated to a request and not in the tree), or cached (owned by the
// tree, evictable or protected by a lock). Accounting is in whole pages, so tokens and pages can never
// disagree: free + evictable + protected + in flight == total, checked for real by CheckInvariant, which
// walks the pool and the tree.
//
// # Tree
//
// Tree is a radix tree over token ids whose nodes hold whole pages; children are keyed by their first
// full page (the first token at P=1). Match returns the longest cached page-aligned prefix (pages into a
// caller buffer, no allocation on a warm tree), splitting a node where the match ends inside it and
// stamping the path with a logical clock. Insert caches a finished (or chunk-prefilled) request's
// page-aligned tokens and reports how many were cached already so the caller frees its duplicates; a
// partial trailing page is never cached. Lock/Unlock reference-count a prefix up to its root, moving its
// size between evictable and protected. Evict takes pages from the least recently used unlocked leaf (a
// heap kept up to date as nodes are touched, locked and unlocked), removing leaves that become empty and
// then considering their parents. A Namespace (LoRA adapter, tenant) gives equal prefixes separate
// subtrees. The usual request flow:
//
//	n, pages, h := tree.Match(ns, prompt, buf[:0]) // reuse the first n tokens' KV
//	tree.Lock(h)
//	pages, err = tree.AllocInto(pages, pool.PagesFor(len(prompt)+maxNew)-len(pages))
//	... prefill prompt[n:], decode ...
//	cached, _, err := tree.Insert(ns, tokens, pages)
//	pool.Free(pages[n/P : cached/P])  // duplicates of what another request cached meanwhile
//	pool.Free(pages[len(tokens)/P:])  // partial trailing page and unused reservation
//	tree.Unlock(h)
//
// Chunked prefill inserts after each chunk, locks the handle Insert returns and unlocks the old one; when
// Insert reports more cached than the request had matched, PagesOf(handle) gives the tree's pages to put
// in place of the freed duplicates (without counting a query in the hit rate, as a second Match would).
//
// # Events and stats
//
// Every stored and removed page produces an Event carrying a hash of the page's tokens chained with its
// parent's (and the namespace's): PageHash, defined in hash.go, is the same in every process, so the
// KV-aware router can compare workers' caches. Clear emits Cleared. With no sink set, events cost nothing.
// Stats are cumulative (hits, queries, inserted and evicted tokens never reset) plus current sizes.
//
// # Ownership
//
// One goroutine — the engine's scheduler loop — owns a Pool and its Tree and is the only one to call
// their methods. Other goroutines (metrics, the console, a debug endpoint) call only Stats and Usage,
// which return a snapshot the owner publishes under a mutex at the end of every operation, so they never
// see a half-done operation and never race. CheckInvariant must run on the owner goroutine.
//
// What does not live here: the scheduler's policies (engine) and writing K/V into the arenas (model).
package kvcache
