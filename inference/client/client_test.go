package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by step on every reading, so timings are deterministic.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (f *fakeClock) now() time.Time { f.t = f.t.Add(f.step); return f.t }

// streamServer answers chat completions with the given SSE body and records the request body.
func streamServer(t *testing.T, sse string, got *map[string]any) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		if got != nil {
			if err := json.NewDecoder(r.Body).Decode(got); err != nil {
				t.Errorf("request body: %v", err)
			}
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, sse)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// The stream a Dynamo frontend (and SGLang) sends with include_usage: role chunk, content chunks, a
// finish chunk, then a usage-only chunk with empty choices, then [DONE].
const dynamoStream = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}

: keep-alive comment

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"!"},"finish_reason":"stop"}]}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":40,"completion_tokens":3,"total_tokens":43,"prompt_tokens_details":{"cached_tokens":32}}}

data: [DONE]

`

func TestChatStreamAssemblesDeltasUsageAndTimings(t *testing.T) {
	var body map[string]any
	srv := streamServer(t, dynamoStream, &body)
	c := New(srv.URL + "/v1/")
	clk := &fakeClock{t: time.Unix(0, 0), step: 10 * time.Millisecond}
	c.now = clk.now
	var deltas []string
	res, err := c.ChatStream(context.Background(), Request{
		Model:    "m",
		Messages: []Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hi"}},
	}, func(d Delta) { deltas = append(deltas, d.Content) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Content != "Hello!" || strings.Join(deltas, "|") != "Hel|lo|!" {
		t.Fatalf("content %q deltas %q", res.Content, deltas)
	}
	if res.FinishReason != "stop" || res.ID != "chatcmpl-1" || res.Model != "m" {
		t.Fatalf("result %+v", res)
	}
	want := Usage{PromptTokens: 40, CompletionTokens: 3, TotalTokens: 43, CachedTokens: 32}
	if !res.UsageKnown || res.Usage != want {
		t.Fatalf("usage %+v known=%v", res.Usage, res.UsageKnown)
	}
	// Clock readings: start(10ms) first delta(20ms) end(30ms): TTFT 10ms, 2 more tokens in 10ms.
	if res.TTFT != 10*time.Millisecond || res.Duration != 20*time.Millisecond {
		t.Fatalf("ttft %v duration %v", res.TTFT, res.Duration)
	}
	if got := res.TokensPerSecond(); got != 200 {
		t.Fatalf("tokens/s %v, want 200", got)
	}
	if body["stream"] != true {
		t.Fatalf("stream not requested: %v", body)
	}
	so, _ := body["stream_options"].(map[string]any)
	if so["include_usage"] != true {
		t.Fatalf("include_usage not requested: %v", body)
	}
	if msgs, _ := body["messages"].([]any); len(msgs) != 2 {
		t.Fatalf("messages %v", body["messages"])
	}
}

func TestChatStreamWithoutUsageCountsChunksAndEndsWithoutDone(t *testing.T) {
	sse := "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"think\"}}]}\n\n" +
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n" +
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]}" // no trailing blank line, no [DONE]
	srv := streamServer(t, sse, nil)
	res, err := New(srv.URL).ChatStream(context.Background(), Request{Messages: []Message{{Role: "user", Content: "x"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Content != "ab" || res.Reasoning != "think" || res.UsageKnown || res.OutputTokens() != 3 {
		t.Fatalf("%+v", res)
	}
}

func TestChatStreamErrorInsideStream(t *testing.T) {
	sse := "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n" +
		"data: {\"error\":{\"message\":\"worker died\",\"type\":\"internal\"}}\n\n"
	srv := streamServer(t, sse, nil)
	res, err := New(srv.URL).ChatStream(context.Background(), Request{Messages: []Message{{Role: "user", Content: "x"}}}, nil)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Message != "worker died" {
		t.Fatalf("err %v", err)
	}
	if res == nil || res.Content != "a" {
		t.Fatalf("partial result lost: %+v", res)
	}
}

func TestHTTPErrorsCarryTheServersMessage(t *testing.T) {
	cases := []struct {
		status int
		body   string
		want   string
	}{
		{503, `{"status":"unhealthy","message":"No endpoints available"}`, "No endpoints available"},
		{400, `{"error":{"message":"model not found","type":"invalid_request_error"}}`, "model not found"},
		{422, `{"detail":"bad field"}`, "bad field"},
		{500, `plain text failure`, "plain text failure"},
	}
	for _, tc := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			io.WriteString(w, tc.body)
		}))
		_, err := New(srv.URL).ChatStream(context.Background(), Request{Messages: []Message{{Role: "user", Content: "x"}}}, nil)
		srv.Close()
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Status != tc.status || apiErr.Message != tc.want {
			t.Errorf("status %d: err %v", tc.status, err)
		}
	}
}

func TestChatUnstreamed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		if body["stream"] != false || body["max_tokens"] != float64(7) || body["temperature"] != float64(0) {
			t.Errorf("body %v", body)
		}
		fmt.Fprint(w, `{"id":"c","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"yes"},"finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}`)
	}))
	defer srv.Close()
	zero := 0.0
	res, err := New(srv.URL).Chat(context.Background(), Request{Messages: []Message{{Role: "user", Content: "x"}}, MaxTokens: 7, Temperature: &zero})
	if err != nil {
		t.Fatal(err)
	}
	if res.Content != "yes" || res.FinishReason != "length" || res.Usage.CompletionTokens != 7 || res.Usage.CachedTokens != 0 {
		t.Fatalf("%+v", res)
	}
}

func TestModels(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/models" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"object":"list","data":[{"id":"deepseek-ai/DeepSeek-R1-Distill-Llama-8B","object":"model","created":1,"owned_by":"nvidia"}]}`)
	}))
	defer srv.Close()
	m, err := New(srv.URL).DefaultModel(context.Background())
	if err != nil || m != "deepseek-ai/DeepSeek-R1-Distill-Llama-8B" {
		t.Fatalf("%q %v", m, err)
	}
}

func TestContextCancelStopsStream(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := New(srv.URL).ChatStream(ctx, Request{Messages: []Message{{Role: "user", Content: "x"}}}, func(Delta) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}

func TestSSEReaderMultiLineDataAndEventNames(t *testing.T) {
	r := NewSSEReader(strings.NewReader("event: error\r\ndata: line1\r\ndata: line2\r\nid: 7\r\n\r\n\n\ndata:x\n\n"))
	ev, err := r.Next()
	if err != nil || ev.Name != "error" || string(ev.Data) != "line1\nline2" {
		t.Fatalf("%+v %v", ev, err)
	}
	ev, err = r.Next()
	if err != nil || ev.Name != "" || string(ev.Data) != "x" {
		t.Fatalf("%+v %v", ev, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
}

func TestEmptyRequestRejected(t *testing.T) {
	if _, err := New("http://127.0.0.1:1").ChatStream(context.Background(), Request{}, nil); err == nil {
		t.Fatal("no error for a request without messages")
	}
}
