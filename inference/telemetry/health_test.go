package telemetry

import (
	"encoding/json"
	"strings"
	"testing"
)

// Answers of /health as each generation writes them (the current frontend's health handler, 0.5.0's
// documented answers, the worker system server's), and what a readiness check makes of them.
func TestReadHealth(t *testing.T) {
	for _, c := range []struct {
		code   int
		body   string
		ready  bool
		detail string
	}{
		{503, `{"status":"not_ready","message":"Initial model discovery in progress","initial_discovery_complete":false,"initial_discovery_error":null,"endpoints":[],"instances":[]}`,
			false, "not_ready: Initial model discovery in progress"},
		{503, `{"status":"not_ready","message":"Initial model discovery failed: etcd unreachable","initial_discovery_complete":false,"initial_discovery_error":"etcd unreachable","endpoints":[],"instances":[]}`,
			false, "not_ready: Initial model discovery failed: etcd unreachable"},
		{503, `{"status":"shutting_down","message":"Service is shutting down","initial_discovery_complete":true,"initial_discovery_error":null,"endpoints":[],"instances":[]}`,
			false, "shutting_down: Service is shutting down"},
		{200, `{"status":"healthy","message":"Service is healthy","initial_discovery_complete":true,"initial_discovery_error":null,"endpoints":["dyn://dynamo.backend.generate"],"instances":[{"component":"backend","endpoint":"generate","instance_id":7587888160958628000,"namespace":"dynamo","transport":{"nats_tcp":"dynamo_backend.generate-694d98147d54be25"}}]}`,
			true, ""},
		// 0.5.0 frontend: 200 even before a worker registered.
		{200, `{"instances":[],"message":"No endpoints available","status":"unhealthy"}`, false, "unhealthy: No endpoints available"},
		{200, `{"endpoints":["dyn://dynamo.backend.generate"],"instances":[],"status":"healthy"}`, true, ""},
		// Worker system server.
		{503, `{"endpoints":{"generate":"notready"},"status":"notready","uptime":{"nanos":313803539,"secs":12}}`, false, "notready"},
		{200, `{"endpoints":{"generate":"ready"},"status":"ready","uptime":{"nanos":356504530,"secs":18}}`, true, ""},
		{200, `OK`, true, ""},
		{502, ``, false, "/health answered 502"},
	} {
		ready, detail := ReadHealth(c.code, []byte(c.body))
		if ready != c.ready || detail != c.detail {
			t.Errorf("%d %s: %v %q, want %v %q", c.code, c.body, ready, detail, c.ready, c.detail)
		}
	}
	// The body radix's frontend writes has the current frontend's fields, null error included.
	b, _ := json.Marshal(Health{Status: HealthNotReady, Message: MsgDiscovering, Endpoints: []string{}, Instances: []HealthInstance{}})
	if got := string(b); got != `{"status":"not_ready","message":"Initial model discovery in progress","initial_discovery_complete":false,"initial_discovery_error":null,"endpoints":[],"instances":[]}` {
		t.Fatalf("%s", got)
	}
	if _, d := ReadHealth(503, []byte(`{"message":"`+strings.Repeat("x", 500)+`"}`)); len(d) > 210 {
		t.Fatalf("detail of %d bytes", len(d))
	}
}
