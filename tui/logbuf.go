package tui

import (
	"sort"
	"time"
)

// logEntry is one stored log line.
type logEntry struct {
	t    time.Time
	pod  string
	text string
	err  bool // a stream problem reported by the cluster; always shown
}

// logRing is the log view's bounded buffer: the last cap lines in arrival order, plus an index of the
// sequence numbers of the lines that pass the current filters, kept up to date as lines arrive and
// leave. Every line is kept whatever the filter, so changing the filter sees the whole buffer — the
// filter never only sees "the last N" — and a view of the filtered lines is O(rows on screen).
type logRing struct {
	buf   []logEntry
	total uint64 // lines ever pushed; the next line's sequence number
	n     int    // lines held

	filters []*filter // all must match; empty = everything
	idx     []uint64  // sequence numbers of matching lines, oldest first, from ih on
	ih      int
}

func newLogRing(capacity int) *logRing {
	return &logRing{buf: make([]logEntry, max(capacity, 1))}
}

func (r *logRing) capacity() int { return len(r.buf) }

// oldest is the sequence number of the oldest line held.
func (r *logRing) oldest() uint64 { return r.total - uint64(r.n) }

// dropped counts lines that fell out of the buffer since it was created.
func (r *logRing) dropped() uint64 { return r.oldest() }

func (r *logRing) at(seq uint64) *logEntry { return &r.buf[seq%uint64(len(r.buf))] }

func (r *logRing) match(e *logEntry) bool {
	if e.err {
		return true
	}
	for _, f := range r.filters {
		if !f.match(e.text) {
			return false
		}
	}
	return true
}

func (r *logRing) filtered() bool { return len(r.filters) > 0 }

// push appends a line, evicting the oldest when full; it reports whether the line passes the filters.
func (r *logRing) push(e logEntry) bool {
	if r.n == len(r.buf) {
		if r.filtered() && r.ih < len(r.idx) && r.idx[r.ih] == r.oldest() {
			r.ih++
		}
		r.n--
	}
	*r.at(r.total) = e
	r.total++
	r.n++
	if !r.filtered() {
		return true
	}
	if !r.match(&e) {
		return false
	}
	if r.ih > 1024 && r.ih*2 > len(r.idx) {
		r.idx = append(r.idx[:0], r.idx[r.ih:]...)
		r.ih = 0
	}
	r.idx = append(r.idx, r.total-1)
	return true
}

// setFilters replaces the filters and rebuilds the index over every line held.
func (r *logRing) setFilters(fs []*filter) {
	r.filters = r.filters[:0]
	for _, f := range fs {
		if f != nil {
			r.filters = append(r.filters, f)
		}
	}
	r.idx, r.ih = r.idx[:0], 0
	if !r.filtered() {
		return
	}
	for s := r.oldest(); s < r.total; s++ {
		if r.match(r.at(s)) {
			r.idx = append(r.idx, s)
		}
	}
}

// count is the number of lines that pass the filters.
func (r *logRing) count() int {
	if !r.filtered() {
		return r.n
	}
	return len(r.idx) - r.ih
}

// seqOf returns the sequence number of the i-th passing line, oldest first.
func (r *logRing) seqOf(i int) uint64 {
	if !r.filtered() {
		return r.oldest() + uint64(i)
	}
	return r.idx[r.ih+i]
}

// get returns the i-th passing line, oldest first.
func (r *logRing) get(i int) *logEntry { return r.at(r.seqOf(i)) }

// position finds the index of the first passing line with sequence number ≥ seq.
func (r *logRing) position(seq uint64) int {
	return sort.Search(r.count(), func(i int) bool { return r.seqOf(i) >= seq })
}
