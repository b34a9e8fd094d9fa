package fleet

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// The readiness probe reads /health in the current Dynamo frontend's shape (503 not_ready, then 200
// healthy) and in 0.5.0's (200 with status unhealthy before a worker registered), and the pod row
// shows the answer's message.
func TestProbeReadsBothHealthShapes(t *testing.T) {
	var answer atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		a := answer.Load().([2]string)
		code, _ := strconv.Atoi(a[0])
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		w.Write([]byte(a[1]))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	d := &Deployment{Name: "d", Namespace: "ns", Processes: []Process{{Pod: "d-frontend-0", Role: "frontend", Port: p, PID: os.Getpid()}}}
	for _, c := range []struct {
		code, body string
		healthy    bool
		detail     string
	}{
		{"503", `{"status":"not_ready","message":"Initial model discovery in progress","initial_discovery_complete":false,"initial_discovery_error":null,"endpoints":[],"instances":[]}`,
			false, "not_ready: Initial model discovery in progress"},
		{"200", `{"status":"healthy","message":"Service is healthy","initial_discovery_complete":true,"initial_discovery_error":null,"endpoints":["dyn://ns-d.backend.generate"],"instances":[]}`, true, ""},
		{"200", `{"instances":[],"message":"No endpoints available","status":"unhealthy"}`, false, "unhealthy: No endpoints available"},
		{"503", `{"status":"shutting_down","message":"Service is shutting down"}`, false, "shutting_down: Service is shutting down"},
	} {
		answer.Store([2]string{c.code, c.body})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		h := probe(ctx, d)
		cancel()
		if !h[0].Alive || h[0].Healthy != c.healthy || h[0].Detail != c.detail {
			t.Errorf("%s %s: %+v", c.code, c.body, h[0])
		}
		_, pods := view(d, h, store{})
		if pods[0].Ready != c.healthy || (!c.healthy && pods[0].Message != c.detail) {
			t.Errorf("pod row %+v", pods[0])
		}
	}
}

// An embedded process's log line in Dynamo's coloured or JSONL shape keeps its own time and is shown
// without escapes; a continuation takes the time of the line before.
func TestLogLinesKeepTimeWithoutColours(t *testing.T) {
	var last time.Time
	l := toLine("p", "\x1b[2m2025-05-13T13:47:38.880123Z\x1b[0m \x1b[32m INFO\x1b[0m \x1b[1mradix::scheduler\x1b[0m\x1b[2m:\x1b[0m Prefill batch, #new-seq: 1, #new-token: 5, #cached-token: 0, token usage: 0.00, #running-req: 0, #queue-req: 0, ", &last)
	want := time.Date(2025, 5, 13, 13, 47, 38, 880123000, time.UTC)
	if !l.Time.Equal(want) || l.Text != "2025-05-13T13:47:38.880123Z  INFO radix::scheduler: Prefill batch, #new-seq: 1, #new-token: 5, #cached-token: 0, token usage: 0.00, #running-req: 0, #queue-req: 0, " {
		t.Fatalf("%+v", l)
	}
	if c := toLine("p", "  File \"x.py\", line 3", &last); !c.Time.Equal(want) {
		t.Fatalf("continuation %+v", c)
	}
	j := toLine("p", `{"time":"2025-05-13T13:47:39.000001Z","level":"INFO","target":"t","message":"Completions is ready"}`, &last)
	if !j.Time.Equal(time.Date(2025, 5, 13, 13, 47, 39, 1000, time.UTC)) {
		t.Fatalf("jsonl %+v", j)
	}
}
