package kube

import (
	"net/http"
	"sync"
)

// connHealth tracks whether the API server answers, from the requests client-go makes anyway: a
// request that gets no HTTP response (refused, reset, timed out) marks the connection degraded; any
// response clears it. Informers retry a refused watch silently, so this is how a watch learns it is
// degraded — without polling — and when it is live again.
type connHealth struct {
	mu   sync.Mutex
	err  error
	subs map[chan struct{}]struct{}
}

func newConnHealth() *connHealth { return &connHealth{subs: map[chan struct{}]struct{}{}} }

func (h *connHealth) get() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// set records the state and wakes the subscribers when it changes between healthy and degraded.
func (h *connHealth) set(err error) {
	h.mu.Lock()
	changed := (h.err == nil) != (err == nil)
	h.err = err
	var subs []chan struct{}
	if changed {
		for s := range h.subs {
			subs = append(subs, s)
		}
	}
	h.mu.Unlock()
	for _, s := range subs {
		select {
		case s <- struct{}{}:
		default:
		}
	}
}

// subscribe delivers a signal on ch (capacity ≥ 1, never blocked on) at every change; the returned
// function unsubscribes.
func (h *connHealth) subscribe(ch chan struct{}) func() {
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

type healthRoundTripper struct {
	next http.RoundTripper
	h    *connHealth
}

func (t *healthRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	switch {
	case err != nil && req.Context().Err() == nil:
		t.h.set(err)
	case err == nil:
		t.h.set(nil)
	}
	return resp, err
}
