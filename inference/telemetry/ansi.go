package telemetry

import "strings"

// StripANSI removes terminal escape sequences from a log line: CSI (colours, `ESC [ … m`), OSC
// (`ESC ] … BEL` or `ESC ] … ESC \`) and the other two-byte escapes. Dynamo's Rust logger colours its
// prefix by default, and what the console shows, filters and parses is the text without them. A line
// without ESC comes back as it is, without a copy.
func StripANSI(s string) string {
	i := strings.IndexByte(s, 0x1b)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i >= 0 {
		b.WriteString(s[:i])
		s = s[i+1:]
		switch {
		case s == "":
		case s[0] == '[':
			// CSI: parameter and intermediate bytes (0x20–0x3f), then one final byte (0x40–0x7e).
			j := 1
			for j < len(s) && s[j] >= 0x20 && s[j] <= 0x3f {
				j++
			}
			if j < len(s) && s[j] >= 0x40 && s[j] <= 0x7e {
				j++
			}
			s = s[j:]
		case s[0] == ']':
			// OSC: up to BEL or ST (ESC \); unterminated, to the end of the line.
			j := 1
			for j < len(s) && s[j] != 0x07 && !(s[j] == 0x1b && j+1 < len(s) && s[j+1] == '\\') {
				j++
			}
			switch {
			case j >= len(s):
				s = ""
			case s[j] == 0x07:
				s = s[j+1:]
			default:
				s = s[j+2:]
			}
		default:
			s = s[1:] // a two-byte escape (ESC c, ESC =, …)
		}
		i = strings.IndexByte(s, 0x1b)
	}
	b.WriteString(s)
	return b.String()
}
