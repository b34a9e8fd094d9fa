package server

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Draining (what SIGTERM does) lets in-flight generations finish while new requests get 503 with
// Retry-After and /health turns unhealthy.
func TestDrainFinishesInFlight(t *testing.T) {
	l := startLive(t, testOpts{})
	body := `{"prompt":"drain me","max_tokens":120,"ignore_eos":true,"stream":true,"temperature":0}`
	type res struct {
		status int
		raw    []byte
	}
	done := make(chan res, 1)
	go func() {
		resp, raw := l.post(t, "/v1/completions", body)
		done <- res{resp.StatusCode, raw}
	}()
	// Wait until the request is running in the engine.
	for l.eng.Stats().Running == 0 {
		select {
		case r := <-done:
			t.Fatalf("finished before draining started: %s", r.raw)
		default:
			time.Sleep(time.Millisecond)
		}
	}
	drained := make(chan error, 1)
	go func() { drained <- l.srv.Drain(context.Background()) }()
	for !l.srv.draining.Load() {
		time.Sleep(time.Millisecond)
	}
	resp, raw := l.post(t, "/v1/completions", `{"prompt":"late","max_tokens":2}`)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("request during drain: %d %s", resp.StatusCode, raw)
	}
	if code, _ := l.get(t, "/health"); code != 503 {
		t.Fatalf("health during drain: %d", code)
	}
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.status != 200 || !strings.Contains(string(r.raw), `"finish_reason":"length"`) || !strings.HasSuffix(string(r.raw), "data: [DONE]\n\n") {
		t.Fatalf("in-flight stream did not complete: %s", r.raw)
	}
}
