package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// addedToken is an entry of tokenizer.json's added_tokens: matched in the text before pre-tokenization.
type addedToken struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`

	// text is what Decode writes for the token: its content, normalized when the token is matched
	// after normalization (Hugging Face decodes such a token as its normalized form, e.g. "▁[[x]]").
	text string
}

// trie finds added tokens leftmost-longest, non-overlapping, as Hugging Face's Aho-Corasick matcher does.
type trie struct {
	nodes []trieNode
	first [256]bool
}

type trieNode struct {
	next map[byte]int32
	tok  int32 // index into the owner's token list, -1 when no token ends here
}

func newTrie() *trie { return &trie{nodes: []trieNode{{tok: -1}}} }

func (t *trie) insert(pattern string, tok int32) {
	if pattern == "" {
		return
	}
	t.first[pattern[0]] = true
	n := int32(0)
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if t.nodes[n].next == nil {
			t.nodes[n].next = map[byte]int32{}
		}
		nx, ok := t.nodes[n].next[c]
		if !ok {
			nx = int32(len(t.nodes))
			t.nodes = append(t.nodes, trieNode{tok: -1})
			t.nodes[n].next[c] = nx
		}
		n = nx
	}
	t.nodes[n].tok = tok
}

func (t *trie) empty() bool { return len(t.nodes) == 1 }

// longestAt returns the token and length of the longest pattern starting at s[i:].
func (t *trie) longestAt(s string, i int) (tok int32, n int) {
	tok = -1
	node := int32(0)
	for j := i; j < len(s); j++ {
		nx, ok := t.nodes[node].next[s[j]]
		if !ok {
			break
		}
		node = nx
		if t.nodes[node].tok >= 0 {
			tok, n = t.nodes[node].tok, j+1-i
		}
	}
	return tok, n
}

// segment is a piece of the input: either an added token (id >= 0) or text to be tokenized.
type segment struct {
	s     string
	id    int32
	start int // byte offset of the piece in its enclosing text
}

// split cuts s at the added tokens in toks matched by t, honouring single_word, lstrip and rstrip.
func (t *trie) split(s string, toks []*addedToken) []segment {
	if t.empty() || s == "" {
		if s == "" {
			return nil
		}
		return []segment{{s: s, id: -1}}
	}
	var out []segment
	offset := 0 // end of the last emitted piece
	for i := 0; i < len(s); {
		if !t.first[s[i]] {
			i++
			continue
		}
		k, n := t.longestAt(s, i)
		if k < 0 {
			i++
			continue
		}
		start, stop := i, i+n
		i = stop
		at := toks[k]
		if at.SingleWord {
			startOK := start == 0 || !endsWithWord(s[:start])
			stopOK := stop == len(s) || !startsWithWord(s[stop:])
			if !startOK || !stopOK {
				continue
			}
		}
		if at.LStrip {
			start = max(len(strings.TrimRightFunc(s[:start], unicode.IsSpace)), offset)
		}
		if at.RStrip {
			stop += len(s[stop:]) - len(strings.TrimLeftFunc(s[stop:], unicode.IsSpace))
			i = stop
		}
		if start > offset {
			out = append(out, segment{s: s[offset:start], id: -1, start: offset})
		}
		out = append(out, segment{s: s[start:stop], id: at.ID, start: start})
		offset = stop
	}
	if offset < len(s) {
		out = append(out, segment{s: s[offset:], id: -1, start: offset})
	}
	return out
}

// isWordRune is Rust's char::is_alphanumeric (Alphabetic or Numeric) or '_', as single_word uses.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || r == '_' || unicode.Is(unicode.Other_Alphabetic, r)
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r != utf8.RuneError && isWordRune(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return r != utf8.RuneError && isWordRune(r)
}
