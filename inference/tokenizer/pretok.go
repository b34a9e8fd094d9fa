package tokenizer

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// span is a half-open byte range [0]..[1] of a string.
type span [2]int

// matcher finds the non-overlapping matches of a split pattern, left to right.
type matcher interface {
	findAll(s string) []span
}

// Known pre-tokenizer patterns. The contraction alternatives come in three spellings and the digit rule
// in two; every combination below is recognised.
const (
	patGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

	contractCI    = `(?i:'s|'t|'re|'ve|'m|'ll|'d)`
	contractClass = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])`
	cl100kRest    = `|[^\r\n\p{L}\p{N}]?\p{L}+|%s| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// knownPattern returns the hand-written matcher for one of the lookahead patterns, or nil.
func knownPattern(p string) matcher {
	if p == patGPT2 {
		return &cl100k{gpt2: true}
	}
	for _, c := range []struct {
		prefix string
		fold   bool
	}{{contractCI, true}, {contractClass, false}} {
		for _, d := range []struct {
			rule string
			max  int
		}{{`\p{N}{1,3}`, 3}, {`\p{N}`, 1}} {
			if p == c.prefix+fmt.Sprintf(cl100kRest, d.rule) {
				return &cl100k{ci: true, foldLongS: c.fold, digitMax: d.max}
			}
		}
	}
	return nil
}

// cl100k matches the GPT-2 pattern (gpt2) or the cl100k / Llama 3 / Qwen2 family, following the
// leftmost-first backtracking semantics of the original expressions alternative by alternative.
type cl100k struct {
	gpt2      bool
	ci        bool // contractions are case-insensitive
	foldLongS bool // (?i:) also matches U+017F LATIN SMALL LETTER LONG S for 's (Unicode case folding)
	digitMax  int  // \p{N}{1,digitMax}
}

// Character classes. Invalid UTF-8 bytes are single "other" characters: neither letter, number nor
// space.
func isL(r rune) bool  { return r != utf8.RuneError && unicode.IsLetter(r) }
func isN(r rune) bool  { return r != utf8.RuneError && unicode.IsNumber(r) }
func isWS(r rune) bool { return unicode.IsSpace(r) }
func isOther(r rune) bool {
	return r == utf8.RuneError || (!unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.IsSpace(r))
}

func (m *cl100k) findAll(s string) []span {
	var out []span
	for i := 0; i < len(s); {
		n := m.matchAt(s, i)
		if n <= 0 { // cannot happen: the alternatives cover every character; stay total anyway
			_, n = utf8.DecodeRuneInString(s[i:])
		}
		out = append(out, span{i, i + n})
		i += n
	}
	return out
}

// run returns the byte length of the longest run of characters satisfying f starting at s[i:], and how
// many characters it has.
func run(s string, i int, f func(rune) bool, maxChars int) (n, chars int) {
	j := i
	for j < len(s) && (maxChars <= 0 || chars < maxChars) {
		r, sz := utf8.DecodeRuneInString(s[j:])
		if !f(r) {
			break
		}
		j += sz
		chars++
	}
	return j - i, chars
}

func (m *cl100k) contraction(s string, i int) int {
	if s[i] != '\'' || i+1 >= len(s) {
		return 0
	}
	rest := s[i+1:]
	eq := func(a, b byte) bool {
		if m.ci {
			return a|0x20 == b
		}
		return a == b
	}
	// Alternatives in pattern order: 's 't 're 've 'm 'll 'd.
	switch {
	case eq(rest[0], 's'), eq(rest[0], 't'), eq(rest[0], 'm'), eq(rest[0], 'd'):
		if isASCIILetter(rest[0]) {
			return 2
		}
	case m.ci && m.foldLongS && strings.HasPrefix(rest, "\u017f"):
		return 1 + len("\u017f")
	}
	if len(rest) >= 2 && isASCIILetter(rest[0]) && isASCIILetter(rest[1]) {
		switch {
		case eq(rest[0], 'r') && eq(rest[1], 'e'), eq(rest[0], 'v') && eq(rest[1], 'e'), eq(rest[0], 'l') && eq(rest[1], 'l'):
			return 3
		}
	}
	return 0
}

func isASCIILetter(b byte) bool { return (b|0x20) >= 'a' && (b|0x20) <= 'z' }

func (m *cl100k) matchAt(s string, i int) int {
	if n := m.contraction(s, i); n > 0 {
		return n
	}
	r, sz := utf8.DecodeRuneInString(s[i:])
	var r2 rune = -1
	if i+sz < len(s) {
		r2, _ = utf8.DecodeRuneInString(s[i+sz:])
	}
	if m.gpt2 {
		// ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
		for _, f := range []func(rune) bool{isL, isN, isOther} {
			if r == ' ' && r2 >= 0 && f(r2) {
				n, _ := run(s, i+1, f, 0)
				return 1 + n
			}
			if f(r) {
				n, _ := run(s, i, f, 0)
				return n
			}
		}
	} else {
		// `[^\r\n\p{L}\p{N}]?\p{L}+`
		if r != '\r' && r != '\n' && !isL(r) && !isN(r) && r2 >= 0 && isL(r2) {
			n, _ := run(s, i+sz, isL, 0)
			return sz + n
		}
		if isL(r) {
			n, _ := run(s, i, isL, 0)
			return n
		}
		// `\p{N}{1,k}`
		if isN(r) {
			n, _ := run(s, i, isN, m.digitMax)
			return n
		}
		// ` ?[^\s\p{L}\p{N}]+[\r\n]*`
		start := -1
		if r == ' ' && r2 >= 0 && isOther(r2) {
			start = i + 1
		} else if isOther(r) {
			start = i
		}
		if start >= 0 {
			n, _ := run(s, start, isOther, 0)
			k, _ := run(s, start+n, isCRLF, 0)
			return start - i + n + k
		}
		// `\s*[\r\n]+`: the whitespace run up to and including its last \r or \n.
		if isWS(r) {
			n, _ := run(s, i, isWS, 0)
			if k := strings.LastIndexAny(s[i:i+n], "\r\n"); k >= 0 {
				return k + 1
			}
		}
	}
	// `\s+(?!\S)` then `\s+`
	if isWS(r) {
		n, chars := run(s, i, isWS, 0)
		if i+n == len(s) || chars == 1 {
			return n
		}
		_, last := utf8.DecodeLastRuneInString(s[i : i+n])
		return n - last
	}
	return 0
}

func isCRLF(r rune) bool { return r == '\r' || r == '\n' }

// goRegexp runs a pattern that Go's regexp can express. \s and \S are widened to Unicode White_Space as
// in Oniguruma (Go's are ASCII-only).
type goRegexp struct{ re *regexp.Regexp }

func (g goRegexp) findAll(s string) []span {
	var out []span
	for _, m := range g.re.FindAllStringIndex(s, -1) {
		out = append(out, span{m[0], m[1]})
	}
	return out
}

const wsClass = `\t\n\v\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}`

// compilePattern builds a matcher for a Split regex.
func compilePattern(p string) (matcher, error) {
	if m := knownPattern(p); m != nil {
		return m, nil
	}
	if branches, ok := topLevelBranches(p); ok && len(branches) > 1 && slices.Contains(branches, wsLookahead) {
		return compileAlternation(p, branches)
	}
	if hasLookaround(p) {
		return nil, fmt.Errorf("unsupported pre-tokenizer pattern %q: lookaround is not available in Go regexp, and only a top-level \\s+(?!\\S) alternative is emulated", p)
	}
	re, err := regexp.Compile(translateRegex(p))
	if err != nil {
		return nil, fmt.Errorf("unsupported pre-tokenizer pattern %q: %w", p, err)
	}
	return goRegexp{re}, nil
}

func hasLookaround(p string) bool {
	for _, look := range []string{"(?=", "(?!", "(?<=", "(?<!"} {
		if strings.Contains(p, look) {
			return true
		}
	}
	return false
}

// translateRegex rewrites \s and \S to Unicode White_Space classes for Go's regexp.
func translateRegex(p string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			switch n := p[i+1]; {
			case n == 's' && inClass:
				b.WriteString(wsClass)
			case n == 's':
				b.WriteString("[" + wsClass + "]")
			case n == 'S' && !inClass:
				b.WriteString("[^" + wsClass + "]")
			default:
				b.WriteByte(c)
				b.WriteByte(n)
			}
			i++
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' { // a leading ] is literal
				b.WriteString(`\]`)
				i++
			}
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

const wsLookahead = `\s+(?!\S)`

// topLevelBranches splits a pattern at its top-level | (outside groups and classes).
func topLevelBranches(p string) ([]string, bool) {
	var out []string
	depth, inClass, start := 0, false, 0
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\':
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			if i+1 < len(p) && p[i+1] == '^' {
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				i++
			}
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return nil, false
			}
		case c == '|' && depth == 0:
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	if depth != 0 || inClass {
		return nil, false
	}
	return append(out, p[start:]), true
}

// alternation emulates a top-level alternation with backtracking (leftmost-first) semantics: at each
// position the first alternative that matches there wins. Alternatives are anchored Go regexps, except
// \s+(?!\S), which is matched by hand. Go's leftmost-first matching of one lookaround-free alternative
// picks the same match as a backtracking engine.
type alternation struct {
	branches []*regexp.Regexp // nil = \s+(?!\S)
}

func compileAlternation(p string, branches []string) (matcher, error) {
	a := &alternation{}
	for _, br := range branches {
		if br == wsLookahead {
			a.branches = append(a.branches, nil)
			continue
		}
		if hasLookaround(br) {
			return nil, fmt.Errorf("unsupported pre-tokenizer pattern %q: lookaround in alternative %q", p, br)
		}
		re, err := regexp.Compile(`^(?:` + translateRegex(br) + `)`)
		if err != nil {
			return nil, fmt.Errorf("unsupported pre-tokenizer pattern %q: %w", p, err)
		}
		a.branches = append(a.branches, re)
	}
	return a, nil
}

func (a *alternation) findAll(s string) []span {
	var out []span
	for i := 0; i < len(s); {
		n := -1
		for _, re := range a.branches {
			if re == nil {
				n = wsNoLookaheadLen(s, i)
			} else if loc := re.FindStringIndex(s[i:]); loc != nil {
				n = loc[1]
			}
			if n >= 0 {
				break
			}
		}
		if n <= 0 { // no match, or an empty one: this character lies between matches
			_, sz := utf8.DecodeRuneInString(s[i:])
			i += sz
			continue
		}
		out = append(out, span{i, i + n})
		i += n
	}
	return out
}

// wsNoLookaheadLen matches \s+(?!\S) at s[i:]: a whitespace run, less its last character unless it
// reaches the end of the text; -1 when that leaves nothing.
func wsNoLookaheadLen(s string, i int) int {
	n, chars := run(s, i, isWS, 0)
	if n == 0 {
		return -1
	}
	if i+n == len(s) {
		return n
	}
	if chars == 1 {
		return -1
	}
	_, last := utf8.DecodeLastRuneInString(s[i : i+n])
	return n - last
}

// literal matches every non-overlapping occurrence of a fixed string.
type literal string

func (l literal) findAll(s string) []span {
	var out []span
	if l == "" {
		return nil
	}
	for i := 0; ; {
		k := strings.Index(s[i:], string(l))
		if k < 0 {
			return out
		}
		out = append(out, span{i + k, i + k + len(l)})
		i += k + len(l)
	}
}

// splitBehavior is how a Split pre-tokenizer treats the matched delimiters.
type splitBehavior int

const (
	behRemoved splitBehavior = iota
	behIsolated
	behMergedWithPrevious
	behMergedWithNext
	behContiguous
)

func parseBehavior(s string) (splitBehavior, error) {
	switch s {
	case "Removed":
		return behRemoved, nil
	case "Isolated":
		return behIsolated, nil
	case "MergedWithPrevious":
		return behMergedWithPrevious, nil
	case "MergedWithNext":
		return behMergedWithNext, nil
	case "Contiguous":
		return behContiguous, nil
	}
	return 0, fmt.Errorf("unknown split behavior %q", s)
}

type part struct {
	sp    span
	match bool
}

// splitBy cuts s at the matches of m according to behavior, as the Hugging Face Split pre-tokenizer
// does; empty pieces are dropped.
func splitBy(s string, m matcher, beh splitBehavior, invert bool) []string {
	if s == "" {
		return nil
	}
	var parts []part
	prev := 0
	for _, sp := range m.findAll(s) {
		if prev != sp[0] {
			parts = append(parts, part{span{prev, sp[0]}, invert})
		}
		parts = append(parts, part{sp, !invert})
		prev = sp[1]
	}
	if prev != len(s) {
		parts = append(parts, part{span{prev, len(s)}, invert})
	}
	var merged []part
	switch beh {
	case behIsolated:
		merged = parts
	case behRemoved:
		for _, p := range parts {
			if !p.match {
				merged = append(merged, p)
			}
		}
	case behMergedWithPrevious:
		prevMatch := false
		for _, p := range parts {
			if p.match && !prevMatch && len(merged) > 0 {
				merged[len(merged)-1].sp[1] = p.sp[1]
			} else {
				merged = append(merged, p)
			}
			prevMatch = p.match
		}
	case behMergedWithNext:
		prevMatch := false
		for k := len(parts) - 1; k >= 0; k-- {
			p := parts[k]
			if p.match && !prevMatch && len(merged) > 0 {
				merged[len(merged)-1].sp[0] = p.sp[0]
			} else {
				merged = append(merged, p)
			}
			prevMatch = p.match
		}
		for a, b := 0, len(merged)-1; a < b; a, b = a+1, b-1 {
			merged[a], merged[b] = merged[b], merged[a]
		}
	case behContiguous:
		prevMatch := false
		for _, p := range parts {
			if p.match == prevMatch && len(merged) > 0 {
				merged[len(merged)-1].sp[1] = p.sp[1]
			} else {
				merged = append(merged, p)
			}
			prevMatch = p.match
		}
	}
	out := make([]string, 0, len(merged))
	for _, p := range merged {
		if p.sp[1] > p.sp[0] {
			out = append(out, s[p.sp[0]:p.sp[1]])
		}
	}
	return out
}
