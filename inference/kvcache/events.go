package kvcache

// EventKind says what an Event reports.
type EventKind uint8

const (
	// Stored: pages were added to the tree. Hashes are the new pages in order; ParentHash is the hash of
	// the page before the first (NamespaceHash(ns) for a namespace's first page).
	Stored EventKind = iota + 1
	// Removed: pages were evicted. Hashes are the removed pages (deepest last); each was reported stored
	// before.
	Removed
	// Cleared: the tree was emptied by Clear; every page stored before is gone.
	Cleared
)

func (k EventKind) String() string {
	switch k {
	case Stored:
		return "stored"
	case Removed:
		return "removed"
	case Cleared:
		return "cleared"
	}
	return "unknown"
}

// Event is one change of the tree's contents for the KV-aware router (Dynamo's KV events:
// Stored{parent_hash, block hashes}, Removed{hashes}, Cleared). Hashes are defined in hash.go.
//
// The slices alias the tree's own immutable storage: they stay valid after the sink returns and must not
// be modified. Delivering an event therefore allocates nothing.
type Event struct {
	Kind       EventKind
	Namespace  Namespace
	ParentHash uint64   // Stored only
	Hashes     []uint64 // Stored, Removed
	// Tokens are the stored pages' token ids (len(Hashes)*PageSize), set only with
	// TreeOptions.EventTokens.
	Tokens []int32
}

// EventSink receives events synchronously on the goroutine that owns the tree, in order. It must be quick
// and must not call back into the tree; to hand events to another goroutine, copy what you need into a
// bounded queue (EventBuffer does this for the same goroutine).
type EventSink func(Event)

// EventBuffer is a bounded FIFO of events for an owner that drains them on its own schedule (for example
// once per scheduler step, publishing them to the router). When full it drops the oldest events and counts
// them: a consumer that sees Dropped grow has lost track and should treat the worker as Cleared and
// re-learn from later Stored events.
type EventBuffer struct {
	ring    []Event
	head, n int
	dropped uint64
}

// NewEventBuffer makes a buffer holding up to capacity events (at least 1).
func NewEventBuffer(capacity int) *EventBuffer {
	return &EventBuffer{ring: make([]Event, max(capacity, 1))}
}

// Sink is the EventSink that appends to the buffer.
func (b *EventBuffer) Sink(e Event) {
	if b.n == len(b.ring) {
		b.head = (b.head + 1) % len(b.ring)
		b.n--
		b.dropped++
	}
	b.ring[(b.head+b.n)%len(b.ring)] = e
	b.n++
}

// Len is the number of buffered events.
func (b *EventBuffer) Len() int { return b.n }

// Dropped counts events lost to a full buffer since it was made.
func (b *EventBuffer) Dropped() uint64 { return b.dropped }

// Drain hands every buffered event to fn, oldest first, and empties the buffer.
func (b *EventBuffer) Drain(fn func(Event)) {
	for b.n > 0 {
		e := b.ring[b.head]
		b.ring[b.head] = Event{}
		b.head = (b.head + 1) % len(b.ring)
		b.n--
		fn(e)
	}
}
