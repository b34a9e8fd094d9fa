package tokenizer

import "strings"

// The GPT-2 byte-level alphabet: every byte maps to a printable Unicode character so that BPE
// vocabularies can be stored as text. Printable Latin-1 bytes map to themselves; the rest (controls,
// space, 0x7F-0xA0, 0xAD) map to U+0100 upwards in byte order.
var (
	byteToRune [256]rune
	runeToByte = map[rune]byte{}
)

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = rune(256 + n)
			n++
		}
		runeToByte[byteToRune[b]] = byte(b)
	}
}

// byteLevelEncode maps every byte of s (valid UTF-8 or not) to its byte-level character.
func byteLevelEncode(s string) string {
	var b strings.Builder
	b.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		b.WriteRune(byteToRune[s[i]])
	}
	return b.String()
}

// byteLevelDecode maps a token's characters back to bytes. ok is false when a character is outside the
// byte-level alphabet (for example an added token written in plain text); the caller then uses the
// token's own bytes, as the Hugging Face ByteLevel decoder does.
func byteLevelDecode(tok string) (b []byte, ok bool) {
	b = make([]byte, 0, len(tok))
	for _, r := range tok {
		c, found := runeToByte[r]
		if !found {
			return nil, false
		}
		b = append(b, c)
	}
	return b, true
}
