package frontend

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/radixops/radix/inference/discovery"
	"github.com/radixops/radix/inference/telemetry"
	"github.com/radixops/radix/inference/tokenizer"
	"github.com/radixops/radix/inference/worker"
)

// fakeWorker speaks the worker's internal API: it answers every prompt with its first tokens echoed
// back, or, when broken is set, sends one token and drops the connection.
type fakeWorker struct {
	srv    *httptest.Server
	calls  atomic.Int32
	broken atomic.Bool
}

func newFakeWorker(t *testing.T) *fakeWorker {
	t.Helper()
	tokJSON, err := tokenizer.SyntheticByteLevel(512)
	if err != nil {
		t.Fatal(err)
	}
	tokCfg, err := tokenizer.SyntheticTokenizerConfig()
	if err != nil {
		t.Fatal(err)
	}
	fw := &fakeWorker{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+worker.PathModelInfo, func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(worker.ModelInfo{Model: "fake", ContextLen: 256, PageSize: 16,
			TokenizerJSON: tokJSON, TokenizerConfig: tokCfg})
	})
	mux.HandleFunc("POST "+worker.PathGenerate, func(w http.ResponseWriter, r *http.Request) {
		fw.calls.Add(1)
		var req worker.GenerateRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		enc := json.NewEncoder(w)
		n := min(3, len(req.Tokens))
		for i, tok := range req.Tokens[:n] {
			o := worker.Output{Token: tok, HasToken: true, PromptTokens: len(req.Tokens)}
			if i == n-1 {
				o.Finish = "length"
			}
			_ = enc.Encode(o)
			w.(http.Flusher).Flush()
			if fw.broken.Load() {
				conn, _, _ := w.(http.Hijacker).Hijack()
				conn.Close() // the worker died mid-stream
				return
			}
		}
	})
	mux.HandleFunc("GET "+worker.PathKVEvents, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		<-r.Context().Done()
	})
	fw.srv = httptest.NewServer(mux)
	t.Cleanup(fw.srv.Close)
	return fw
}

func startFrontend(t *testing.T, mode string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, Options{Port: 0, Namespace: "test", RouterMode: mode, KVEvents: true,
			LeaseTTL: time.Minute, Log: io.Discard, Listening: func(a string) { addr <- a }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return "http://" + <-addr
}

func register(t *testing.T, fe, id, endpoint string) {
	t.Helper()
	reg := discovery.Registration{ID: id, Namespace: "test", Model: "fake", Role: discovery.RoleWorker,
		Endpoint: endpoint, KVTokens: 1024, PageSize: 16}
	body, _ := json.Marshal(reg)
	resp, err := http.Post(fe+discovery.PathRegister, "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("registering %s: %d", id, resp.StatusCode)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func chat(t *testing.T, fe string, stream bool) (int, string) {
	t.Helper()
	body := fmt.Sprintf(`{"messages":[{"role":"user","content":"hello"}],"max_tokens":8,"stream":%t}`, stream)
	resp, err := http.Post(fe+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(bufio.NewReader(resp.Body))
	return resp.StatusCode, string(b)
}

func waitReady(t *testing.T, fe string) {
	t.Helper()
	for range 200 {
		if code, _ := get(t, fe+"/health"); code == 200 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("frontend never became healthy")
}

// Health is the current Dynamo frontend's: 503 not_ready until a worker registers (and its tokenizer is
// loaded), then 200 healthy with the endpoints and instances; /v1/models lists the registered workers'
// model; requests go through the workers' internal API.
func TestHealthModelsAndRouting(t *testing.T) {
	fe := startFrontend(t, "round-robin")
	code, body := get(t, fe+"/health")
	if code != 503 || strings.TrimSpace(body) != `{"status":"not_ready","message":"Initial model discovery in progress","initial_discovery_complete":false,"initial_discovery_error":null,"endpoints":[],"instances":[]}` {
		t.Fatalf("health without workers: %d %s", code, body)
	}
	if ready, detail := telemetry.ReadHealth(code, []byte(body)); ready || !strings.Contains(detail, "not_ready") {
		t.Fatalf("read as %v %q", ready, detail)
	}
	if code, body := chat(t, fe, false); code != 503 {
		t.Fatalf("chat without workers: %d %s", code, body)
	}
	a, b := newFakeWorker(t), newFakeWorker(t)
	register(t, fe, "a", a.srv.URL)
	register(t, fe, "b", b.srv.URL)
	waitReady(t, fe)
	code, body = get(t, fe+"/health")
	var h telemetry.Health
	if err := json.Unmarshal([]byte(body), &h); err != nil || code != 200 || h.Status != "healthy" || h.Message != "Service is healthy" ||
		!h.InitialDiscoveryComplete || h.InitialDiscoveryError != nil || len(h.Instances) != 2 ||
		!strings.Contains(body, `"transport":{"http":"`+a.srv.URL+`"}`) || !strings.Contains(body, b.srv.URL) ||
		len(h.Endpoints) != 1 || !strings.HasPrefix(h.Endpoints[0], "dyn://") || !strings.HasSuffix(h.Endpoints[0], ".backend.generate") {
		t.Fatalf("health with workers: %d %s", code, body)
	}
	if ready, _ := telemetry.ReadHealth(code, []byte(body)); !ready {
		t.Fatal("a healthy answer read as not ready")
	}
	if _, body := get(t, fe+"/v1/models"); !strings.Contains(body, `"id":"fake"`) {
		t.Fatalf("models: %s", body)
	}
	for range 4 {
		if code, body := chat(t, fe, false); code != 200 || !strings.Contains(body, `"finish_reason":"length"`) {
			t.Fatalf("chat: %d %s", code, body)
		}
	}
	if a.calls.Load() != 2 || b.calls.Load() != 2 {
		t.Fatalf("round-robin sent %d and %d requests, want 2 and 2", a.calls.Load(), b.calls.Load())
	}
}

// A worker that dies mid-stream ends its client's stream with an error instead of a normal finish; a
// worker that refuses connections is dropped and the request goes to another.
func TestWorkerFailures(t *testing.T) {
	fe := startFrontend(t, "round-robin")
	a := newFakeWorker(t)
	register(t, fe, "a", a.srv.URL)
	waitReady(t, fe)

	a.broken.Store(true)
	code, body := chat(t, fe, true)
	if code != 200 || strings.Contains(body, `"finish_reason":"length"`) || !strings.Contains(body, "error") {
		t.Fatalf("stream from a dying worker: %d %s", code, body)
	}
	code, body = chat(t, fe, false)
	if code != 500 || !strings.Contains(body, "stream broken") {
		t.Fatalf("request to a dying worker: %d %s", code, body)
	}
	a.broken.Store(false)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	register(t, fe, "dead", dead)
	for range 4 {
		if code, body := chat(t, fe, false); code != 200 {
			t.Fatalf("chat with a dead worker registered: %d %s", code, body)
		}
	}
	if _, body := get(t, fe+"/health"); strings.Contains(body, dead) {
		t.Fatalf("the dead worker is still listed: %s", body)
	}
}
