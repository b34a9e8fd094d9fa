package telemetry

import (
	"io"
	"sync"
	"time"
)

// Logger writes lines with Dynamo's default prefix to one writer; safe for concurrent use, one
// Write per line so lines from several goroutines never interleave.
type Logger struct {
	mu     sync.Mutex
	w      io.Writer
	target string
	now    func() time.Time
}

// NewLogger writes to w under the given tracing target (e.g. "radix::scheduler").
func NewLogger(w io.Writer, target string) *Logger {
	return &Logger{w: w, target: target, now: time.Now}
}

// WithClock replaces the clock, for golden output in tests.
func (l *Logger) WithClock(now func() time.Time) *Logger { l.now = now; return l }

// Info writes msg at level INFO; Warn and Error likewise. A nil Logger discards.
func (l *Logger) Info(msg string)  { l.log("INFO", msg) }
func (l *Logger) Warn(msg string)  { l.log("WARN", msg) }
func (l *Logger) Error(msg string) { l.log("ERROR", msg) }

func (l *Logger) log(level, msg string) {
	if l == nil || l.w == nil {
		return
	}
	line := FormatPrefix(l.now(), level, l.target, msg) + "\n"
	l.mu.Lock()
	_, _ = io.WriteString(l.w, line) // a log sink that fails has nowhere to report to
	l.mu.Unlock()
}
