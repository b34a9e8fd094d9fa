package tokenizer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decoder turns token strings back into text, as a chain over the list of token strings (the Hugging
// Face decode_chain). With raw set, bytes that are not valid UTF-8 are kept as they are (for the stream);
// otherwise they are replaced exactly as Hugging Face does.
type decoder interface {
	chain(toks []string, raw bool) []string
}

type decSeq []decoder

func (q decSeq) chain(toks []string, raw bool) []string {
	for _, d := range q {
		toks = d.chain(toks, raw)
	}
	return toks
}

// decByteLevel maps byte-level characters back to bytes and joins everything.
type decByteLevel struct{}

func (decByteLevel) chain(toks []string, raw bool) []string {
	var b []byte
	for _, t := range toks {
		if bs, ok := byteLevelDecode(t); ok {
			b = append(b, bs...)
		} else {
			b = append(b, t...)
		}
	}
	if raw {
		return []string{string(b)}
	}
	return []string{lossy(b)}
}

type decReplace struct{ from, to string }

func (d decReplace) chain(toks []string, _ bool) []string {
	for i, t := range toks {
		toks[i] = strings.ReplaceAll(t, d.from, d.to)
	}
	return toks
}

// decByteFallback turns runs of <0xNN> tokens into their bytes; an invalid run becomes one U+FFFD per
// byte.
type decByteFallback struct{}

func byteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	v, err := strconv.ParseUint(t[3:5], 16, 8)
	return byte(v), err == nil
}

func (decByteFallback) chain(toks []string, raw bool) []string {
	out := make([]string, 0, len(toks))
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if raw || utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range toks {
		if b, ok := byteToken(t); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

type decFuse struct{}

func (decFuse) chain(toks []string, _ bool) []string { return []string{strings.Join(toks, "")} }

// decStrip removes up to start leading and stop trailing occurrences of content from each token.
type decStrip struct {
	content     rune
	start, stop int
}

func (d decStrip) chain(toks []string, _ bool) []string {
	for i, t := range toks {
		for k := 0; k < d.start && strings.HasPrefix(t, string(d.content)); k++ {
			t = t[utf8.RuneLen(d.content):]
		}
		for k := 0; k < d.stop && strings.HasSuffix(t, string(d.content)); k++ {
			t = t[:len(t)-utf8.RuneLen(d.content)]
		}
		toks[i] = t
	}
	return toks
}

// decMetaspace turns the replacement character back into spaces and drops the leading space of the
// first token (the one the pre-tokenizer prepended).
type decMetaspace struct {
	rep    string
	scheme prependScheme
}

func (d decMetaspace) chain(toks []string, _ bool) []string {
	for i, t := range toks {
		t = strings.ReplaceAll(t, d.rep, " ")
		if i == 0 && d.scheme != prependNever {
			t = strings.TrimPrefix(t, " ")
		}
		toks[i] = t
	}
	return toks
}

type decJSON struct {
	Type          string            `json:"type"`
	Decoders      []json.RawMessage `json:"decoders"`
	Pattern       pattern           `json:"pattern"`
	Content       string            `json:"content"`
	Start         int               `json:"start"`
	Stop          int               `json:"stop"`
	Replacement   string            `json:"replacement"`
	PrependScheme string            `json:"prepend_scheme"`
	AddPrefix     *bool             `json:"add_prefix_space"`
	Split         *bool             `json:"split"`
}

func parseDecoder(raw json.RawMessage, depth int) (decoder, error) {
	if isNull(raw) {
		return nil, nil
	}
	if depth > 8 {
		return nil, fmt.Errorf("decoder: nested too deeply")
	}
	var j decJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	switch j.Type {
	case "Sequence":
		var q decSeq
		for i, r := range j.Decoders {
			d, err := parseDecoder(r, depth+1)
			if err != nil {
				return nil, fmt.Errorf("decoder sequence item %d: %w", i, err)
			}
			if d != nil {
				q = append(q, d)
			}
		}
		return q, nil
	case "ByteLevel":
		return decByteLevel{}, nil
	case "Replace":
		if j.Pattern.String == nil {
			return nil, fmt.Errorf("replace decoder: only string patterns are supported, got %s", j.Pattern.describe())
		}
		return decReplace{*j.Pattern.String, j.Content}, nil
	case "ByteFallback":
		return decByteFallback{}, nil
	case "Fuse":
		return decFuse{}, nil
	case "Strip":
		r := []rune(j.Content)
		if len(r) != 1 || j.Start < 0 || j.Stop < 0 {
			return nil, fmt.Errorf("strip decoder: want one content character and non-negative start/stop")
		}
		return decStrip{content: r[0], start: j.Start, stop: j.Stop}, nil
	case "Metaspace":
		p, err := parseMetaspace(preJSON{Replacement: j.Replacement, PrependScheme: j.PrependScheme, AddPrefixSpace: j.AddPrefix, Split: j.Split})
		if err != nil {
			return nil, fmt.Errorf("decoder: %w", err)
		}
		return decMetaspace{rep: p.rep, scheme: p.scheme}, nil
	}
	return nil, fmt.Errorf("unsupported decoder type %q", j.Type)
}

// Decode turns ids into text as the Hugging Face tokenizers library does with skip_special_tokens=False:
// special tokens appear as their text. Ids out of range are skipped.
func (t *Tokenizer) Decode(ids []int32) string { return t.decode(ids, false, false) }

// DecodeSkipSpecial is Decode with skip_special_tokens=True.
func (t *Tokenizer) DecodeSkipSpecial(ids []int32) string { return t.decode(ids, true, false) }

func (t *Tokenizer) decode(ids []int32, skipSpecial, raw bool) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if a, ok := t.addedByID[id]; ok {
			if skipSpecial && a.Special {
				continue
			}
			toks = append(toks, a.text)
			continue
		}
		if id < 0 || int(id) >= len(t.model.tokens) || t.model.tokens[id] == "" {
			continue
		}
		toks = append(toks, t.model.tokens[id])
	}
	if t.dec == nil {
		return strings.Join(toks, " ")
	}
	out := strings.Join(t.dec.chain(toks, raw), "")
	if !raw && !utf8.ValidString(out) {
		out = lossy([]byte(out))
	}
	return out
}

// incompleteLen returns how many leading bytes of b form a proper prefix of a valid UTF-8 sequence
// (0 when b[0] cannot start one). Used where b[0] does not start a complete valid character.
func incompleteLen(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 2
	case c == 0xE0:
		need, lo = 3, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 3
	case c == 0xED:
		need, hi = 3, 0x9F
	case c == 0xF0:
		need, lo = 4, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 4
	case c == 0xF4:
		need, hi = 4, 0x8F
	default:
		return 0
	}
	k := 1
	for k < need && k < len(b) {
		x := b[k]
		if k == 1 && (x < lo || x > hi) || k > 1 && (x < 0x80 || x > 0xBF) {
			break
		}
		k++
	}
	if k == need { // complete and valid: not an incomplete prefix
		return 0
	}
	return k
}

// lossy converts bytes to a string replacing each maximal invalid subsequence with U+FFFD, as Rust's
// String::from_utf8_lossy does (Go's strings.ToValidUTF8 would merge adjacent ones).
func lossy(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for i := 0; i < len(b); {
		r, sz := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || sz > 1 {
			sb.Write(b[i : i+sz])
			i += sz
			continue
		}
		sb.WriteRune(utf8.RuneError)
		i += max(incompleteLen(b[i:]), 1)
	}
	return sb.String()
}
