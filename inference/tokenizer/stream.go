package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// Stream detokenises ids one at a time for streaming output. The text it returns is always valid UTF-8:
// bytes of a character split across tokens are held back until the character is complete, and bytes
// that can never become valid are emitted as U+FFFD. Special tokens are skipped (as a server does with
// skip_special_tokens). For ids whose full decoding is valid UTF-8, the concatenation of everything Add
// and Flush return equals DecodeSkipSpecial of all the ids, including the SentencePiece leading-space
// strip at the start of the stream.
//
// It works by decoding a small window: a context of already-emitted tokens followed by the new ones,
// and emitting the bytes past the context's own decoding. A Stream is not safe for concurrent use.
type Stream struct {
	t        *Tokenizer
	win      []int32 // context tokens followed by tokens not yet fully emitted
	ctx      int     // len of the context prefix of win
	ctxBytes int     // byte length of the raw decoding of win[:ctx]
	emitted  int     // bytes past ctxBytes already emitted
}

// NewStream starts a streaming detokeniser.
func (t *Tokenizer) NewStream() *Stream { return &Stream{t: t} }

// Add feeds one generated id and returns the text that became complete, possibly "".
func (s *Stream) Add(id int32) string {
	if s.t.IsSpecial(id) {
		return ""
	}
	s.win = append(s.win, id)
	raw := s.t.decode(s.win, true, true)
	if len(raw) < s.ctxBytes+s.emitted {
		// The decoder rewrote earlier text (cannot happen with the supported decoders); restart the
		// window at this token so output stays consistent going forward.
		s.win, s.ctx, s.ctxBytes, s.emitted = s.win[len(s.win)-1:], 0, 0, 0
		raw = s.t.decode(s.win, true, true)
	}
	tail := raw[s.ctxBytes+s.emitted:]
	out, used := complete(tail)
	s.emitted += used
	if s.ctxBytes+s.emitted == len(raw) {
		s.advance()
	}
	return out
}

// advance makes the last token with a non-empty decoding the new context.
func (s *Stream) advance() {
	for k := len(s.win) - 1; k >= 0; k-- {
		b := s.t.decode(s.win[k:k+1], true, true)
		if b != "" {
			s.win = append(s.win[:0], s.win[k:]...)
			s.ctx = len(s.win)
			s.ctxBytes = len(s.t.decode(s.win, true, true))
			s.emitted = 0
			return
		}
	}
	// Nothing decodes to text yet: keep everything (still at the very start of the stream).
	s.ctx = len(s.win)
	s.ctxBytes = len(s.t.decode(s.win, true, true))
	s.emitted = 0
}

// Flush returns whatever is still held back (an incomplete character becomes U+FFFD) and resets the
// stream's pending state; the stream can continue after it.
func (s *Stream) Flush() string {
	if len(s.win) == 0 {
		return ""
	}
	raw := s.t.decode(s.win, true, true)
	var out string
	if n := s.ctxBytes + s.emitted; n < len(raw) {
		out = lossy([]byte(raw[n:]))
	}
	s.advance()
	return out
}

// complete returns the longest prefix of b that can be emitted now, made valid, and how many bytes of b
// it consumed. It stops before an incomplete character at the end of b.
func complete(b string) (string, int) {
	if utf8.ValidString(b) {
		return b, len(b)
	}
	var sb strings.Builder
	i := 0
	for i < len(b) {
		r, sz := utf8.DecodeRuneInString(b[i:])
		if r != utf8.RuneError || sz > 1 {
			sb.WriteString(b[i : i+sz])
			i += sz
			continue
		}
		k := incompleteLen([]byte(b[i:]))
		if k > 0 && i+k == len(b) { // may still be completed by the next token
			break
		}
		sb.WriteRune(utf8.RuneError)
		i += max(k, 1)
	}
	return sb.String(), i
}
