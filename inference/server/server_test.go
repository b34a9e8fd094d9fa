package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/radixops/radix/inference/engine"
	"github.com/radixops/radix/inference/model"
	"github.com/radixops/radix/inference/telemetry"
)

type live struct {
	srv  *Server
	http *httptest.Server
	eng  *engine.Engine
	log  *syncBuf
}

type testOpts struct {
	apiKey       string
	poolTokens   int
	maxBody      int64
	disableCache bool
	notReady     bool
}

// startLive serves a seeded random tiny Llama (written to a temp dir) through the real engine.
func startLive(t *testing.T, o testOpts) *live {
	t.Helper()
	dir := t.TempDir()
	if err := model.WriteRandom(dir, model.RandomOptions{Arch: "llama", Shape: "tiny", Seed: 3, DType: "f32"}); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(dir, model.LoadOptions{DType: "f32"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if o.poolTokens == 0 {
		o.poolTokens = 4096
	}
	pool, err := m.NewKVPool(o.poolTokens, 16)
	if err != nil {
		t.Fatal(err)
	}
	l := &live{log: &syncBuf{}}
	logger := telemetry.NewLogger(l.log, "radix::serve")
	e, err := engine.New(engine.NewModelRunner(m), pool, engine.Config{
		ContextLen: m.Config().ContextLen, StopTokenIDs: m.Tokenizer().StopIDs(), Logger: logger,
		DisableRadixCache: o.disableCache, ChunkedPrefillSize: 64,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	l.eng = e
	l.srv = New(Config{ModelName: "tiny", APIKey: o.apiKey, MaxBodyBytes: o.maxBody, Logger: logger})
	if !o.notReady {
		l.srv.SetBackend(EngineBackend{E: e}, m.Tokenizer(), m.Config().ContextLen)
	}
	l.http = httptest.NewServer(l.srv.Handler())
	t.Cleanup(func() {
		l.http.Close()
		cancel()
		<-done
	})
	return l
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func (l *live) post(t *testing.T, path, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", l.http.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (l *live) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(l.http.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

const chatBody = `{"model":"tiny","messages":[{"role":"system","content":"You are a helpful assistant who answers questions about radix caches."},{"role":"user","content":"Explain prefix caching in one sentence."}],"max_tokens":12,"temperature":0}`

// The blueprint README's test prompts: health, a chat completion, and the cache test — three
// identical requests, the second and third reporting cached tokens while the scheduler skips that
// prefill.
func TestBlueprintPrompts(t *testing.T) {
	l := startLive(t, testOpts{})
	if code, body := l.get(t, "/health"); code != 200 || !strings.Contains(string(body), `"healthy"`) {
		t.Fatalf("health: %d %s", code, body)
	}
	if code, _ := l.get(t, "/live"); code != 200 {
		t.Fatalf("live: %d", code)
	}
	var outs []ChatResponse
	var computed []uint64
	for range 3 {
		before := l.eng.Stats().PrefillTokens
		resp, body := l.post(t, "/v1/chat/completions", chatBody)
		if resp.StatusCode != 200 {
			t.Fatalf("chat: %d %s", resp.StatusCode, body)
		}
		if !strings.Contains(string(body), `"prompt_tokens_details":{"cached_tokens":`) {
			t.Fatalf("usage lacks prompt_tokens_details.cached_tokens: %s", body)
		}
		var cr ChatResponse
		if err := json.Unmarshal(body, &cr); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, cr)
		computed = append(computed, l.eng.Stats().PrefillTokens-before)
	}
	if outs[0].Choices[0].Message.Role != "assistant" || *outs[0].Choices[0].FinishReason == "" {
		t.Fatalf("bad first response %+v", outs[0])
	}
	p := outs[0].Usage.PromptTokens
	for i := 1; i < 3; i++ {
		u := outs[i].Usage
		if u.PromptTokensDetails.CachedTokens == 0 {
			t.Fatalf("request %d reported no cached tokens", i+1)
		}
		if computed[i] >= uint64(p) || computed[i] != uint64(p-u.PromptTokensDetails.CachedTokens) {
			t.Fatalf("request %d: computed %d prefill tokens of %d with %d cached", i+1, computed[i], p, u.PromptTokensDetails.CachedTokens)
		}
		if outs[i].Choices[0].Message.Content != outs[0].Choices[0].Message.Content {
			t.Fatalf("greedy outputs differ with the cache: %q vs %q", outs[i].Choices[0].Message.Content, outs[0].Choices[0].Message.Content)
		}
	}
	if outs[0].Usage.PromptTokensDetails.CachedTokens != 0 || computed[0] != uint64(p) {
		t.Fatalf("first request: cached %d computed %d of %d", outs[0].Usage.PromptTokensDetails.CachedTokens, computed[0], p)
	}
	// The grep the README promises finds the cache lines.
	if !strings.Contains(l.log.String(), "#cached-token: ") {
		t.Fatalf("no prefill lines in the log:\n%s", l.log.String())
	}
	_, metrics := l.get(t, "/metrics")
	for _, name := range []string{"sglang:cached_tokens_total", "sglang:prompt_tokens_total", "sglang:cache_hit_rate",
		"dynamo_component_kvstats_total_blocks", "dynamo_component_kvstats_gpu_prefix_cache_hit_rate", "sglang:time_to_first_token_seconds"} {
		if !strings.Contains(string(metrics), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if code, body := l.get(t, "/debug/invariant"); code != 200 {
		t.Fatalf("invariant: %d %s", code, body)
	}
}

func TestHealthBeforeLoad(t *testing.T) {
	s := New(Config{ModelName: "x"})
	h := httptest.NewServer(s.Handler())
	defer h.Close()
	resp, err := http.Get(h.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(b), "No endpoints available") {
		t.Fatalf("health before load: %d %s", resp.StatusCode, b)
	}
	resp, _ = http.Post(h.URL+"/v1/chat/completions", "application/json", strings.NewReader(chatBody))
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("chat before load: %d", resp.StatusCode)
	}
}

// sseEvents reads an SSE body into its data payloads.
func sseEvents(t *testing.T, body []byte) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestStreamingWithUsage(t *testing.T) {
	l := startLive(t, testOpts{})
	body := strings.Replace(chatBody, `"max_tokens":12`, `"max_tokens":10,"stream":true,"stream_options":{"include_usage":true}`, 1)
	resp, raw := l.post(t, "/v1/chat/completions", body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%d %s", resp.StatusCode, raw)
	}
	ev := sseEvents(t, raw)
	if len(ev) < 4 || ev[len(ev)-1] != "[DONE]" {
		t.Fatalf("events %q", ev)
	}
	var usage ChatResponse
	if err := json.Unmarshal([]byte(ev[len(ev)-2]), &usage); err != nil || usage.Usage == nil || len(usage.Choices) != 0 {
		t.Fatalf("usage chunk %s (%v)", ev[len(ev)-2], err)
	}
	var text strings.Builder
	finish := ""
	for _, e := range ev[:len(ev)-2] {
		var c ChatResponse
		if err := json.Unmarshal([]byte(e), &c); err != nil {
			t.Fatal(err)
		}
		if c.Object != "chat.completion.chunk" || len(c.Choices) != 1 {
			t.Fatalf("chunk %s", e)
		}
		if d := c.Choices[0].Delta; d != nil && d.Content != nil {
			text.WriteString(*d.Content)
		}
		if f := c.Choices[0].FinishReason; f != nil {
			finish = *f
		}
	}
	if finish == "" || usage.Usage.CompletionTokens == 0 || usage.Usage.TotalTokens != usage.Usage.PromptTokens+usage.Usage.CompletionTokens {
		t.Fatalf("finish %q usage %+v", finish, usage.Usage)
	}
	// The same request unstreamed gives the same text (greedy).
	_, plain := l.post(t, "/v1/chat/completions", strings.Replace(chatBody, `"max_tokens":12`, `"max_tokens":10`, 1))
	var cr ChatResponse
	json.Unmarshal(plain, &cr)
	if cr.Choices[0].Message.Content != text.String() {
		t.Fatalf("streamed %q, unstreamed %q", text.String(), cr.Choices[0].Message.Content)
	}
	// Completions endpoint, streamed, with logprobs.
	resp, raw = l.post(t, "/v1/completions", `{"prompt":"Once upon a time","max_tokens":5,"stream":true,"logprobs":2,"temperature":0}`)
	if resp.StatusCode != 200 || !strings.Contains(string(raw), `"token_logprobs"`) {
		t.Fatalf("completions: %d %s", resp.StatusCode, raw)
	}
}

func TestErrors(t *testing.T) {
	l := startLive(t, testOpts{apiKey: "sekrit", maxBody: 2048})
	auth := []string{"Authorization", "Bearer sekrit"}
	cases := []struct {
		name   string
		path   string
		body   string
		hdr    []string
		status int
		code   string
	}{
		{"no key", "/v1/chat/completions", chatBody, nil, 401, "invalid_api_key"},
		{"wrong key", "/v1/chat/completions", chatBody, []string{"Authorization", "Bearer nope"}, 401, "invalid_api_key"},
		{"malformed", "/v1/chat/completions", `{"messages":[`, auth, 400, ""},
		{"unknown model", "/v1/chat/completions", strings.Replace(chatBody, `"tiny"`, `"gpt-9"`, 1), auth, 404, "model_not_found"},
		{"temperature", "/v1/chat/completions", strings.Replace(chatBody, `"temperature":0`, `"temperature":5`, 1), auth, 400, ""},
		{"top_p", "/v1/completions", `{"prompt":"a","top_p":2}`, auth, 400, ""},
		{"n", "/v1/completions", `{"prompt":"a","n":3}`, auth, 400, ""},
		{"max_tokens", "/v1/completions", `{"prompt":"a","max_tokens":0}`, auth, 400, ""},
		{"no messages", "/v1/chat/completions", `{"messages":[]}`, auth, 400, ""},
		{"bad role", "/v1/chat/completions", `{"messages":[{"role":"robot","content":"x"}]}`, auth, 400, ""},
		{"too long", "/v1/completions", `{"prompt":"` + strings.Repeat("zq ", 400) + `"}`, auth, 400, "context_length_exceeded"},
		{"too large", "/v1/completions", `{"prompt":"` + strings.Repeat("a", 4000) + `"}`, auth, 413, "request_too_large"},
		{"bad token id", "/v1/completions", `{"prompt":[1,2,99999]}`, auth, 400, ""},
		{"unknown route", "/v1/embeddings", `{}`, auth, 404, "not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := l.post(t, c.path, c.body, c.hdr...)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			var eb ErrorBody
			if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Message == "" || eb.Error.Type == "" {
				t.Fatalf("not an OpenAI error body: %s", body)
			}
			if c.code != "" && (eb.Error.Code == nil || *eb.Error.Code != c.code) {
				t.Fatalf("code %v, want %s: %s", eb.Error.Code, c.code, body)
			}
		})
	}
	resp, body := l.post(t, "/v1/chat/completions", chatBody, auth...)
	if resp.StatusCode != 200 {
		t.Fatalf("with key: %d %s", resp.StatusCode, body)
	}
}

// overloaded is a backend whose queue is always full.
type overloaded struct{}

func (overloaded) Generate(context.Context, engine.Request) (TokenStream, error) {
	return nil, engine.ErrOverloaded
}

func TestOverloadedRetryAfter(t *testing.T) {
	l := startLive(t, testOpts{})
	l.srv.SetBackend(overloaded{}, l.srv.state.Load().tok, 256)
	resp, body := l.post(t, "/v1/chat/completions", chatBody)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "overloaded") {
		t.Fatalf("%d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

func TestStopStringsAndSeed(t *testing.T) {
	l := startLive(t, testOpts{})
	// Find what the model says greedily, then stop on a piece of it: the text must end before it.
	_, raw := l.post(t, "/v1/completions", `{"prompt":"hello world","max_tokens":24,"temperature":0,"ignore_eos":true}`)
	var full CompletionResponse
	json.Unmarshal(raw, &full)
	text := full.Choices[0].Text
	if len(text) < 6 {
		t.Skipf("greedy output too short to cut: %q", text)
	}
	stop := text[3:6]
	want := text[:strings.Index(text, stop)]
	for _, stream := range []bool{false, true} {
		body, _ := json.Marshal(map[string]any{"prompt": "hello world", "max_tokens": 24, "temperature": 0, "ignore_eos": true, "stop": stop, "stream": stream})
		_, raw := l.post(t, "/v1/completions", string(body))
		got, finish := "", ""
		if stream {
			for _, e := range sseEvents(t, raw) {
				var c CompletionResponse
				if json.Unmarshal([]byte(e), &c) == nil && len(c.Choices) == 1 {
					got += c.Choices[0].Text
					if c.Choices[0].FinishReason != nil {
						finish = *c.Choices[0].FinishReason
					}
				}
			}
		} else {
			var c CompletionResponse
			json.Unmarshal(raw, &c)
			got, finish = c.Choices[0].Text, *c.Choices[0].FinishReason
		}
		if got != want || finish != "stop" {
			t.Fatalf("stream=%v stop %q: got %q (%s), want %q", stream, stop, got, finish, want)
		}
	}
	seeded := `{"prompt":"hello","max_tokens":16,"temperature":1.0,"top_p":0.9,"seed":1234,"ignore_eos":true}`
	_, a := l.post(t, "/v1/completions", seeded)
	_, b := l.post(t, "/v1/completions", seeded)
	var ca, cb CompletionResponse
	json.Unmarshal(a, &ca)
	json.Unmarshal(b, &cb)
	if ca.Choices[0].Text != cb.Choices[0].Text {
		t.Fatalf("same seed, different text: %q vs %q", ca.Choices[0].Text, cb.Choices[0].Text)
	}
	if code, body := l.get(t, "/debug/invariant"); code != 200 {
		t.Fatalf("invariant after stop-string cancellations: %s", body)
	}
}
