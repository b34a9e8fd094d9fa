package tokenizer

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites a piece of input text before pre-tokenization.
type normalizer interface {
	normalize(s string) string
}

type normSeq []normalizer

func (q normSeq) normalize(s string) string {
	for _, n := range q {
		s = n.normalize(s)
	}
	return s
}

// normPrepend prepends a string to non-empty text (SentencePiece's leading "▁").
type normPrepend string

func (p normPrepend) normalize(s string) string {
	if s == "" {
		return s
	}
	return string(p) + s
}

type normReplace struct {
	lit     string
	re      *regexp.Regexp
	content string
}

func (r normReplace) normalize(s string) string {
	if r.re != nil {
		return r.re.ReplaceAllLiteralString(s, r.content)
	}
	if r.lit == "" {
		return s
	}
	return strings.ReplaceAll(s, r.lit, r.content)
}

type normForm struct{ f norm.Form }

func (n normForm) normalize(s string) string { return n.f.String(s) }

type normLower struct{}

func (normLower) normalize(s string) string { return strings.ToLower(s) }

type normStrip struct{ left, right bool }

func (n normStrip) normalize(s string) string {
	if n.left {
		s = strings.TrimLeftFunc(s, isWS)
	}
	if n.right {
		s = strings.TrimRightFunc(s, isWS)
	}
	return s
}

// pattern is the {"String": ...} or {"Regex": ...} object of Split and Replace.
type pattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

func (p pattern) describe() string {
	switch {
	case p.String != nil:
		return fmt.Sprintf("string %q", *p.String)
	case p.Regex != nil:
		return fmt.Sprintf("regex %q", *p.Regex)
	}
	return "empty pattern"
}

type normJSON struct {
	Type        string            `json:"type"`
	Normalizers []json.RawMessage `json:"normalizers"`
	Prepend     string            `json:"prepend"`
	Pattern     pattern           `json:"pattern"`
	Content     string            `json:"content"`
	Left        bool              `json:"strip_left"`
	Right       bool              `json:"strip_right"`
}

func parseNormalizer(raw json.RawMessage, depth int) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	if depth > 8 {
		return nil, fmt.Errorf("normalizer: nested too deeply")
	}
	var j normJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("normalizer: %w", err)
	}
	switch j.Type {
	case "Sequence":
		var q normSeq
		for i, r := range j.Normalizers {
			n, err := parseNormalizer(r, depth+1)
			if err != nil {
				return nil, fmt.Errorf("sequence item %d: %w", i, err)
			}
			if n != nil {
				q = append(q, n)
			}
		}
		return q, nil
	case "Prepend":
		return normPrepend(j.Prepend), nil
	case "Replace":
		switch {
		case j.Pattern.String != nil:
			return normReplace{lit: *j.Pattern.String, content: j.Content}, nil
		case j.Pattern.Regex != nil:
			m, err := compilePattern(*j.Pattern.Regex)
			if err != nil {
				return nil, fmt.Errorf("replace normalizer: %w", err)
			}
			g, ok := m.(goRegexp)
			if !ok {
				return nil, fmt.Errorf("replace normalizer: unsupported %s", j.Pattern.describe())
			}
			return normReplace{re: g.re, content: j.Content}, nil
		}
		return nil, fmt.Errorf("replace normalizer: missing pattern")
	case "NFC":
		return normForm{norm.NFC}, nil
	case "NFD":
		return normForm{norm.NFD}, nil
	case "NFKC":
		return normForm{norm.NFKC}, nil
	case "NFKD":
		return normForm{norm.NFKD}, nil
	case "Lowercase":
		return normLower{}, nil
	case "Strip":
		return normStrip{j.Left, j.Right}, nil
	}
	return nil, fmt.Errorf("unsupported normalizer type %q", j.Type)
}

func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}
