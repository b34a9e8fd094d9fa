package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// pre is a piece of text on its way through the pre-tokenizers. first says it starts at offset 0 of the
// original input (Metaspace's prepend_scheme "first" needs it).
type pre struct {
	s     string
	first bool
}

type preTokenizer interface {
	pretokenize(ps []pre) []pre
}

type preSeq []preTokenizer

func (q preSeq) pretokenize(ps []pre) []pre {
	for _, p := range q {
		ps = p.pretokenize(ps)
	}
	return ps
}

// splitEach applies f to every piece; the first sub-piece keeps the piece's first flag.
func splitEach(ps []pre, f func(string) []string) []pre {
	out := make([]pre, 0, len(ps))
	for _, p := range ps {
		for i, s := range f(p.s) {
			out = append(out, pre{s: s, first: p.first && i == 0})
		}
	}
	return out
}

type preSplit struct {
	m      matcher
	beh    splitBehavior
	invert bool
}

func (p preSplit) pretokenize(ps []pre) []pre {
	return splitEach(ps, func(s string) []string { return splitBy(s, p.m, p.beh, p.invert) })
}

// preByteLevel maps bytes to the byte-level alphabet, optionally after the GPT-2 regex split.
type preByteLevel struct {
	addPrefixSpace bool
	useRegex       bool
}

var gpt2Matcher = &cl100k{gpt2: true}

func (p preByteLevel) pretokenize(ps []pre) []pre {
	if p.addPrefixSpace {
		for i := range ps {
			if !strings.HasPrefix(ps[i].s, " ") {
				ps[i].s = " " + ps[i].s
			}
		}
	}
	if p.useRegex {
		ps = splitEach(ps, func(s string) []string { return splitBy(s, gpt2Matcher, behIsolated, false) })
	}
	for i := range ps {
		ps[i].s = byteLevelEncode(ps[i].s)
	}
	return ps
}

type prependScheme int

const (
	prependAlways prependScheme = iota
	prependFirst
	prependNever
)

// preMetaspace replaces spaces with the replacement character (SentencePiece's "▁") and prepends one.
type preMetaspace struct {
	rep    string
	scheme prependScheme
	split  bool
}

func (p preMetaspace) pretokenize(ps []pre) []pre {
	out := make([]pre, 0, len(ps))
	for _, x := range ps {
		s := strings.ReplaceAll(x.s, " ", p.rep)
		if !strings.HasPrefix(s, p.rep) && (p.scheme == prependAlways || (p.scheme == prependFirst && x.first)) {
			s = p.rep + s
		}
		if !p.split {
			out = append(out, pre{s: s, first: x.first})
			continue
		}
		for i, piece := range splitBy(s, literal(p.rep), behMergedWithNext, false) {
			out = append(out, pre{s: piece, first: x.first && i == 0})
		}
	}
	return out
}

// digitMatcher matches numeric characters (Rust's char::is_numeric: Unicode Nd, Nl, No), one at a time
// or in runs.
type digitMatcher struct{ individual bool }

func (d digitMatcher) findAll(s string) []span {
	var out []span
	for i := 0; i < len(s); {
		r, sz := utf8.DecodeRuneInString(s[i:])
		if !isN(r) {
			i += sz
			continue
		}
		j := i + sz
		for !d.individual && j < len(s) {
			r, sz := utf8.DecodeRuneInString(s[j:])
			if !isN(r) {
				break
			}
			j += sz
		}
		out = append(out, span{i, j})
		i = j
	}
	return out
}

type preJSON struct {
	Type           string            `json:"type"`
	Pretokenizers  []json.RawMessage `json:"pretokenizers"`
	Pattern        pattern           `json:"pattern"`
	Behavior       string            `json:"behavior"`
	Invert         bool              `json:"invert"`
	AddPrefixSpace *bool             `json:"add_prefix_space"`
	UseRegex       *bool             `json:"use_regex"`
	Replacement    string            `json:"replacement"`
	PrependScheme  string            `json:"prepend_scheme"`
	Split          *bool             `json:"split"`
	Individual     bool              `json:"individual_digits"`
}

func parsePreTokenizer(raw json.RawMessage, depth int) (preTokenizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	if depth > 8 {
		return nil, fmt.Errorf("pre_tokenizer: nested too deeply")
	}
	var j preJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	switch j.Type {
	case "Sequence":
		var q preSeq
		for i, r := range j.Pretokenizers {
			p, err := parsePreTokenizer(r, depth+1)
			if err != nil {
				return nil, fmt.Errorf("sequence item %d: %w", i, err)
			}
			if p != nil {
				q = append(q, p)
			}
		}
		return q, nil
	case "Split":
		beh, err := parseBehavior(j.Behavior)
		if err != nil {
			return nil, fmt.Errorf("split pre-tokenizer: %w", err)
		}
		var m matcher
		switch {
		case j.Pattern.String != nil:
			m = literal(*j.Pattern.String)
		case j.Pattern.Regex != nil:
			if m, err = compilePattern(*j.Pattern.Regex); err != nil {
				return nil, fmt.Errorf("split pre-tokenizer: %w", err)
			}
		default:
			return nil, fmt.Errorf("split pre-tokenizer: missing pattern")
		}
		return preSplit{m: m, beh: beh, invert: j.Invert}, nil
	case "ByteLevel":
		return preByteLevel{
			addPrefixSpace: j.AddPrefixSpace != nil && *j.AddPrefixSpace,
			useRegex:       j.UseRegex == nil || *j.UseRegex,
		}, nil
	case "Metaspace":
		return parseMetaspace(j)
	case "Digits":
		beh := behContiguous
		if j.Individual {
			beh = behIsolated
		}
		return preSplit{m: digitMatcher{j.Individual}, beh: beh}, nil
	}
	return nil, fmt.Errorf("unsupported pre_tokenizer type %q", j.Type)
}

func parseMetaspace(j preJSON) (preMetaspace, error) {
	p := preMetaspace{rep: j.Replacement, scheme: prependAlways, split: j.Split == nil || *j.Split}
	if p.rep == "" {
		p.rep = "\u2581"
	}
	switch j.PrependScheme {
	case "always":
	case "first":
		p.scheme = prependFirst
	case "never":
		p.scheme = prependNever
	case "":
		if j.AddPrefixSpace != nil && !*j.AddPrefixSpace {
			p.scheme = prependNever
		}
	default:
		return p, fmt.Errorf("metaspace: unknown prepend_scheme %q", j.PrependScheme)
	}
	return p, nil
}
