package engine

import "strings"

// StopMatcher finds stop strings in streamed text. Text that might be the start of a stop string is held
// back until the next chunk decides it, so a stop string split across two chunks is still caught and the
// client never sees a prefix of it. It is the frontend's job (the worker streams token ids), so it lives
// beside the sampler but is used by the HTTP layer.
type StopMatcher struct {
	stops []string
	held  string
	done  bool
}

// NewStopMatcher matches the given stop strings; empty ones are ignored.
func NewStopMatcher(stops []string) *StopMatcher {
	m := &StopMatcher{}
	for _, s := range stops {
		if s != "" {
			m.stops = append(m.stops, s)
		}
	}
	return m
}

// Push adds streamed text. It returns the text that is now safe to send and whether a stop string was
// completed; after a stop, the stop string and anything after it are dropped and Push returns nothing.
func (m *StopMatcher) Push(text string) (emit string, stopped bool) {
	if m.done {
		return "", true
	}
	if len(m.stops) == 0 {
		return text, false
	}
	buf := m.held + text
	cut := -1
	for _, s := range m.stops {
		if i := strings.Index(buf, s); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut >= 0 {
		m.done, m.held = true, ""
		return buf[:cut], true
	}
	keep := m.holdBack(buf)
	m.held = buf[len(buf)-keep:]
	return buf[:len(buf)-keep], false
}

// holdBack is the length of the longest suffix of buf that is a proper prefix of some stop string.
func (m *StopMatcher) holdBack(buf string) int {
	best := 0
	for _, s := range m.stops {
		n := min(len(s)-1, len(buf))
		for k := n; k > best; k-- {
			if strings.HasSuffix(buf, s[:k]) {
				best = k
				break
			}
		}
	}
	return best
}

// Flush returns the held-back text at the end of the stream (it was no stop string after all).
func (m *StopMatcher) Flush() string {
	if m.done {
		return ""
	}
	h := m.held
	m.held = ""
	return h
}

// Stopped reports whether a stop string was found.
func (m *StopMatcher) Stopped() bool { return m.done }
