package worker

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/radixops/radix/inference/engine"
	"github.com/radixops/radix/inference/kvcache"
)

func TestOutputRoundTrip(t *testing.T) {
	in := []engine.Output{
		{HasToken: true, Token: 7, Logprob: -0.5, PromptTokens: 10, CachedTokens: 4},
		{HasToken: true, Token: 2, StopToken: true, Finish: engine.FinishStop, PromptTokens: 10, CachedTokens: 4},
		{Finish: engine.FinishAbort, Err: errors.New("engine: request cancelled"), PromptTokens: 3},
	}
	for _, o := range in {
		b, err := json.Marshal(FromEngine(o))
		if err != nil {
			t.Fatal(err)
		}
		var w Output
		if err := json.Unmarshal(b, &w); err != nil {
			t.Fatal(err)
		}
		got := w.Engine()
		if (got.Err == nil) != (o.Err == nil) || (o.Err != nil && got.Err.Error() != o.Err.Error()) {
			t.Fatalf("error %v came back as %v", o.Err, got.Err)
		}
		got.Err, o.Err = nil, nil
		if got.Token != o.Token || got.HasToken != o.HasToken || got.StopToken != o.StopToken || got.Finish != o.Finish ||
			got.PromptTokens != o.PromptTokens || got.CachedTokens != o.CachedTokens || got.Logprob != o.Logprob {
			t.Fatalf("%+v came back as %+v", o, got)
		}
	}
}

// A refusal carries the engine's sentinel across the wire, so the frontend answers with its status.
func TestErrorKindsRoundTrip(t *testing.T) {
	for _, e := range []error{engine.ErrPromptTooLong, engine.ErrOverloaded, engine.ErrNeverFits, engine.ErrEmptyPrompt, engine.ErrDraining} {
		r := ErrorReply{Error: e.Error(), Kind: KindOf(e)}
		if got := r.ErrorOf(400); !errors.Is(got, e) {
			t.Fatalf("%v came back as %v", e, got)
		}
	}
	if err := (ErrorReply{Error: "boom"}).ErrorOf(500); !strings.Contains(err.Error(), "500") {
		t.Fatalf("unknown kind: %v", err)
	}
}

func TestEventsRoundTrip(t *testing.T) {
	evs := []kvcache.Event{
		{Kind: kvcache.Stored, Namespace: 3, ParentHash: 11, Hashes: []uint64{1, 2, 1 << 63}},
		{Kind: kvcache.Removed, Hashes: []uint64{2}},
		{Kind: kvcache.Cleared},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, e := range evs {
		if err := enc.Encode(EventOf(e)); err != nil {
			t.Fatal(err)
		}
	}
	_ = enc.Encode(Event{Kind: "cleared", Resync: true})
	var got []kvcache.Event
	var resync []bool
	if err := ReadEvents(&buf, func(e kvcache.Event, r bool) { got = append(got, e); resync = append(resync, r) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || !resync[3] || resync[0] {
		t.Fatalf("got %d events, resync %v", len(got), resync)
	}
	for i, e := range evs {
		g := got[i]
		if g.Kind != e.Kind || g.Namespace != e.Namespace || g.ParentHash != e.ParentHash || !slices.Equal(g.Hashes, e.Hashes) {
			t.Fatalf("event %d: %+v came back as %+v", i, e, g)
		}
	}
	if err := ReadEvents(strings.NewReader(`{"kind":"exploded"}`), func(kvcache.Event, bool) {}); err == nil {
		t.Fatal("an unknown event kind was accepted")
	}
}

// The hub never blocks the scheduler: a subscriber that falls a buffer behind is dropped (its channel
// closes, which the handler turns into a resync Cleared), the others keep every event.
func TestHubDropsASlowSubscriber(t *testing.T) {
	h := newHub(4)
	slow, fast := h.subscribe(), h.subscribe()
	var seen int
	for i := range 10 {
		h.sink(kvcache.Event{Kind: kvcache.Stored, Hashes: []uint64{uint64(i)}})
		for len(fast.ch) > 0 {
			<-fast.ch
			seen++
		}
	}
	if seen != 10 {
		t.Fatalf("the fast subscriber saw %d of 10 events", seen)
	}
	n := 0
	for range slow.ch { // closed after the buffered events
		n++
	}
	if n != 4 {
		t.Fatalf("the slow subscriber got %d buffered events before being dropped, want 4", n)
	}
	h.unsubscribe(slow) // after a drop: harmless
	h.unsubscribe(fast)
	h.close()
}

// FuzzReadEvents: a kv-events stream from a worker is outside input to the frontend.
func FuzzReadEvents(f *testing.F) {
	f.Add([]byte(`{"kind":"stored","namespace":1,"parent_hash":2,"hashes":[3,4]}` + "\n" + `{"kind":"cleared","resync":true}`))
	f.Add([]byte(`{"kind":"removed","hashes":[18446744073709551615]}`))
	f.Add([]byte(`{"kind":`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = ReadEvents(bytes.NewReader(b), func(e kvcache.Event, _ bool) {
			if e.Kind != kvcache.Stored && e.Kind != kvcache.Removed && e.Kind != kvcache.Cleared {
				t.Fatalf("event of kind %v passed", e.Kind)
			}
		})
	})
}
