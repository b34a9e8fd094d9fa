package kube

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// LogPresets are the named filters of `radix logs --filter` and the console's log view: what an
// operator greps a Dynamo/SGLang worker's log for.
var LogPresets = map[string]string{
	// Prefix cache behaviour: SGLang's batch lines carry #cached-token.
	"cache": `(?i)cache|radix|\bhit\b|\bmiss|#cached-token`,
	// Worker registration and model discovery (Dynamo): register, ready, added model, clear_namespace.
	"register": `(?i)regist|\bready\b|added model|removed model|clear_namespace`,
	// Anything that went wrong.
	"errors": `(?i)\b(error|err|exception|traceback|fatal|panic|failed|failure|oom|out of memory|killed)\b|\bERROR\b|\bWARN`,
	// Prefill/decode disaggregation: the bootstrap and the KV transfer between them.
	"disagg": `(?i)prefill|decode|bootstrap|transfer|nixl|disagg`,
}

// PresetNames lists the presets in a stable order, for help text and completion.
func PresetNames() []string {
	names := make([]string, 0, len(LogPresets))
	for n := range LogPresets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LogFilter selects log lines: a preset or a regular expression, optionally inverted. The zero
// value (and nil) matches everything.
type LogFilter struct {
	Spec   string // what the user typed: a preset name or a regex ("" = everything)
	Invert bool
	re     *regexp.Regexp
}

// ParseLogFilter builds a filter. A leading "!" inverts it, as in k9s; a preset name selects the
// preset; anything else must compile as a Go regular expression.
func ParseLogFilter(spec string, invert bool) (*LogFilter, error) {
	f := &LogFilter{Spec: spec, Invert: invert}
	if rest, ok := strings.CutPrefix(spec, "!"); ok {
		f.Invert = !f.Invert
		spec = rest
		f.Spec = rest
	}
	if spec == "" {
		return f, nil
	}
	pattern := spec
	if p, ok := LogPresets[spec]; ok {
		pattern = p
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("log filter %q is neither a preset (%s) nor a valid regular expression: %w",
			spec, strings.Join(PresetNames(), ", "), err)
	}
	f.re = re
	return f, nil
}

// Match reports whether a line passes the filter.
func (f *LogFilter) Match(text string) bool {
	if f == nil || f.re == nil {
		return true // no pattern: everything, inverted or not
	}
	return f.re.MatchString(text) != f.Invert
}

// String is the filter as the user would type it again.
func (f *LogFilter) String() string {
	if f == nil {
		return ""
	}
	if f.Invert {
		return "!" + f.Spec
	}
	return f.Spec
}

// LogBuffer is a bounded ring of log lines that counts what it had to drop, so a view can say "N
// older lines dropped" instead of losing them silently. Safe for concurrent use.
type LogBuffer struct {
	mu      sync.Mutex
	lines   []LogLine
	start   int // index of the oldest line
	n       int
	dropped int64
	total   int64
}

// NewLogBuffer holds at most capacity lines (at least 1).
func NewLogBuffer(capacity int) *LogBuffer {
	if capacity < 1 {
		capacity = 1
	}
	return &LogBuffer{lines: make([]LogLine, capacity)}
}

// Add appends a line, dropping the oldest when full.
func (b *LogBuffer) Add(l LogLine) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total++
	if b.n < len(b.lines) {
		b.lines[(b.start+b.n)%len(b.lines)] = l
		b.n++
		return
	}
	b.lines[b.start] = l
	b.start = (b.start + 1) % len(b.lines)
	b.dropped++
}

// Lines returns the held lines, oldest first.
func (b *LogBuffer) Lines() []LogLine {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]LogLine, b.n)
	for i := 0; i < b.n; i++ {
		out[i] = b.lines[(b.start+i)%len(b.lines)]
	}
	return out
}

// Len is the number of lines held.
func (b *LogBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// Dropped is how many lines were pushed out because the buffer was full.
func (b *LogBuffer) Dropped() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// Total is how many lines were ever added.
func (b *LogBuffer) Total() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// Clear empties the buffer (the counters too).
func (b *LogBuffer) Clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.start, b.n, b.dropped, b.total = 0, 0, 0, 0
}
