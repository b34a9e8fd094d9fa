package kubefake

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/radixops/radix/kube"
)

// ServeFrontends makes Endpoint start, for each successful deployment asked about, a loopback HTTP
// server that speaks the OpenAI chat API the way a Dynamo frontend does: GET /v1/models and streamed
// POST /v1/chat/completions with usage (prompt_tokens_details.cached_tokens) in the last chunk. It
// answers by echoing the last user message, and counts as cached the longest prompt prefix (in
// 4-byte "tokens") it has seen before, so cache tests see a real difference. For demos and tests.
func (c *Cluster) ServeFrontends() {
	c.mu.Lock()
	c.serve = true
	c.mu.Unlock()
}

type frontend struct {
	model string
	mu    sync.Mutex
	seen  map[string]bool // prompt prefixes at 64-byte boundaries
	srv   *http.Server
	url   string
}

func (c *Cluster) startFrontend(d kube.Deployment) (*frontend, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting a fake frontend for %s: %w", d.Name, err)
	}
	f := &frontend{model: d.Model, seen: map[string]bool{}, url: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", f.models)
	mux.HandleFunc("POST /v1/chat/completions", f.chat)
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

func (f *frontend) models(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": []map[string]any{{"id": f.model, "object": "model", "owned_by": "kubefake"}}})
}

func (f *frontend) chat(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
		Stream bool `json:"stream"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || len(req.Messages) == 0 {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	var prompt strings.Builder
	for _, m := range req.Messages {
		prompt.WriteString(m.Role + ": " + m.Content + "\n")
	}
	p := prompt.String()
	f.mu.Lock()
	cachedBytes := 0
	for n := 64; n <= len(p); n += 64 {
		if f.seen[p[:n]] {
			cachedBytes = n
		}
		f.seen[p[:n]] = true
	}
	f.mu.Unlock()
	promptTokens, cached := len(p)/4, cachedBytes/4
	// Prefill time falls with what the cache already holds, as it would on a worker.
	time.Sleep(time.Duration(promptTokens-cached) * 20 * time.Microsecond)
	words := strings.Fields("echo: " + req.Messages[len(req.Messages)-1].Content)
	w.Header().Set("Content-Type", "text/event-stream")
	fl, _ := w.(http.Flusher)
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if fl != nil {
			fl.Flush()
		}
	}
	for i, word := range words {
		if i > 0 {
			word = " " + word
		}
		send(map[string]any{"id": "fake", "object": "chat.completion.chunk", "model": f.model,
			"choices": []map[string]any{{"index": 0, "delta": map[string]any{"content": word}}}})
		time.Sleep(2 * time.Millisecond)
	}
	send(map[string]any{"id": "fake", "object": "chat.completion.chunk", "model": f.model,
		"choices": []map[string]any{{"index": 0, "delta": map[string]any{}, "finish_reason": "stop"}},
		"usage": map[string]any{"prompt_tokens": promptTokens, "completion_tokens": len(words), "total_tokens": promptTokens + len(words),
			"prompt_tokens_details": map[string]any{"cached_tokens": cached}}})
	fmt.Fprint(w, "data: [DONE]\n\n")
}
