package tokenizer

import (
	"container/heap"
	"fmt"
	"sync"
	"unicode/utf8"
)

// bpe is a BPE model: a vocabulary and a merge priority between pairs of tokens. Merges come either from
// an explicit ranked list (tokenizer.json, GGUF "gpt2") or from token scores (GGUF "llama", SentencePiece:
// the pair whose concatenation has the highest score merges first).
type bpe struct {
	vocab   map[string]int32
	tokens  []string // id -> token text ("" for holes)
	merges  map[uint64]mergeRule
	byScore bool    // merge priority from scoreRank of the concatenation instead of merges
	rankOf  []int32 // byScore: dense rank of each token's score, 0 = highest

	unk          int32 // -1 when none
	fuseUnk      bool
	byteFallback bool
	byteIDs      [256]int32 // <0xNN> tokens, -1 when missing
	ignoreMerges bool

	noCache bool     // benchmarks: measure the merge path itself
	cache   sync.Map // string -> []int32, bounded by cachN
	mu      sync.Mutex
	cachN   int
}

type mergeRule struct{ rank, id int32 }

const maxCacheEntries = 1 << 16
const maxCachedWord = 64

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func (m *bpe) initByteIDs() {
	for b := 0; b < 256; b++ {
		m.byteIDs[b] = -1
		if id, ok := m.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
}

// rule returns the merge of the pair (a, b), if any.
func (m *bpe) rule(a, b int32) (mergeRule, bool) {
	if !m.byScore {
		r, ok := m.merges[pairKey(a, b)]
		return r, ok
	}
	id, ok := m.vocab[m.tokens[a]+m.tokens[b]]
	if !ok {
		return mergeRule{}, false
	}
	return mergeRule{rank: m.rankOf[id], id: id}, true
}

// tokenize encodes one pre-tokenized word.
func (m *bpe) tokenize(word string, dst []int32) []int32 {
	if word == "" {
		return dst
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[word]; ok {
			return append(dst, id)
		}
	}
	cacheable := len(word) <= maxCachedWord && !m.noCache
	if cacheable {
		if v, ok := m.cache.Load(word); ok {
			return append(dst, v.([]int32)...)
		}
	}
	ids := m.merge(m.initial(word))
	if cacheable {
		m.mu.Lock()
		if m.cachN >= maxCacheEntries { // bounded: start over rather than grow without limit
			m.cache.Range(func(k, _ any) bool { m.cache.Delete(k); return true })
			m.cachN = 0
		}
		m.cachN++
		m.mu.Unlock()
		m.cache.Store(word, ids)
	}
	return append(dst, ids...)
}

// initial splits a word into the ids of its characters, with byte fallback or the unknown token for
// characters outside the vocabulary (characters with neither are dropped, as Hugging Face does).
func (m *bpe) initial(word string) []int32 {
	ids := make([]int32, 0, len(word))
	lastUnk := false
	for i := 0; i < len(word); {
		_, sz := utf8.DecodeRuneInString(word[i:])
		ch := word[i : i+sz]
		i += sz
		if id, ok := m.vocab[ch]; ok {
			ids = append(ids, id)
			lastUnk = false
			continue
		}
		if m.byteFallback {
			all := true
			for k := 0; k < len(ch); k++ {
				if m.byteIDs[ch[k]] < 0 {
					all = false
				}
			}
			if all {
				for k := 0; k < len(ch); k++ {
					ids = append(ids, m.byteIDs[ch[k]])
				}
				lastUnk = false
				continue
			}
		}
		if m.unk >= 0 {
			if !(m.fuseUnk && lastUnk) {
				ids = append(ids, m.unk)
			}
			lastUnk = true
		}
	}
	return ids
}

// mergeItem is a candidate merge of the symbol at pos with its right neighbour.
type mergeItem struct {
	rank, id int32
	pos      int
}

type mergeHeap []mergeItem

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].pos < h[j].pos
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(mergeItem)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// merge applies merges lowest rank first (leftmost among equals) over a linked list of symbols, in
// O(n log n); stale heap entries are recognised and skipped.
func (m *bpe) merge(ids []int32) []int32 {
	n := len(ids)
	if n < 2 {
		return ids
	}
	if n <= shortWord {
		return m.mergeShort(ids)
	}
	return m.mergeHeap(ids)
}

func (m *bpe) mergeHeap(ids []int32) []int32 {
	n := len(ids)
	if n < 2 {
		return ids
	}
	prev := make([]int, n)
	next := make([]int, n)
	alive := make([]bool, n)
	h := make(mergeHeap, 0, n)
	for i := range ids {
		prev[i], next[i], alive[i] = i-1, i+1, true
		if i+1 < n {
			if r, ok := m.rule(ids[i], ids[i+1]); ok {
				h = append(h, mergeItem{r.rank, r.id, i})
			}
		}
	}
	next[n-1] = -1
	heap.Init(&h)
	for h.Len() > 0 {
		it := heap.Pop(&h).(mergeItem)
		p := it.pos
		q := next[p]
		if !alive[p] || q < 0 {
			continue
		}
		r, ok := m.rule(ids[p], ids[q])
		if !ok || r.id != it.id || r.rank != it.rank {
			continue
		}
		ids[p] = r.id
		alive[q] = false
		next[p] = next[q]
		if next[q] >= 0 {
			prev[next[q]] = p
		}
		if pp := prev[p]; pp >= 0 {
			if r, ok := m.rule(ids[pp], ids[p]); ok {
				heap.Push(&h, mergeItem{r.rank, r.id, pp})
			}
		}
		if nn := next[p]; nn >= 0 {
			if r, ok := m.rule(ids[p], ids[nn]); ok {
				heap.Push(&h, mergeItem{r.rank, r.id, p})
			}
		}
	}
	out := ids[:0]
	for i := 0; i >= 0; i = next[i] {
		out = append(out, ids[i])
	}
	return out
}

// shortWord is the length up to which a rescanning merge beats the heap (no allocations).
const shortWord = 16

// mergeShort is the same algorithm for short words: rescan for the best pair, merge in place.
func (m *bpe) mergeShort(ids []int32) []int32 {
	for len(ids) > 1 {
		best, bestRank, bestID := -1, int32(0), int32(0)
		for i := 0; i+1 < len(ids); i++ {
			if r, ok := m.rule(ids[i], ids[i+1]); ok && (best < 0 || r.rank < bestRank) {
				best, bestRank, bestID = i, r.rank, r.id
			}
		}
		if best < 0 {
			break
		}
		ids[best] = bestID
		ids = append(ids[:best+1], ids[best+2:]...)
	}
	return ids
}
