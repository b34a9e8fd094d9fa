package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Client talks to one OpenAI-compatible server.
type Client struct {
	// BaseURL is the server root, e.g. http://127.0.0.1:8000 (a trailing /v1 is accepted too).
	BaseURL string
	// APIKey, when set, is sent as a bearer token.
	APIKey string
	// HTTP is the client used; nil means a client without an overall timeout (streams may be long;
	// cancel through the context).
	HTTP *http.Client
	// now is the clock, replaceable in tests.
	now func() time.Time
}

// New returns a client for baseURL.
func New(baseURL string) *Client {
	return &Client{BaseURL: baseURL}
}

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is a chat completion request.
type Request struct {
	Model       string
	Messages    []Message
	MaxTokens   int      // 0: server default
	Temperature *float64 // nil: server default
	Stop        []string
	Seed        *int64
	// Extra fields merged into the request body (e.g. "ignore_eos": true for benchmarks).
	Extra map[string]any
}

// Usage is the token accounting the server reports.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
	// CachedTokens is usage.prompt_tokens_details.cached_tokens: prompt tokens served from the prefix cache.
	CachedTokens int `json:"cached_tokens"`
}

// Result is a finished completion and how it went.
type Result struct {
	ID           string        `json:"id"`
	Model        string        `json:"model"`
	Content      string        `json:"content"`
	Reasoning    string        `json:"reasoning,omitempty"`
	FinishReason string        `json:"finish_reason"`
	Usage        Usage         `json:"usage"`
	UsageKnown   bool          `json:"usage_known"` // the server sent a usage object
	TTFT         time.Duration `json:"ttft_ns"`     // request sent → first content (or reasoning) delta
	Duration     time.Duration `json:"duration_ns"` // request sent → end of response
	Chunks       int           `json:"chunks"`      // content-bearing chunks received (streaming)
}

// OutputTokens is the completion token count: the server's usage when known, else the number of
// content chunks (one token each on SGLang and Dynamo).
func (r *Result) OutputTokens() int {
	if r.UsageKnown {
		return r.Usage.CompletionTokens
	}
	return r.Chunks
}

// TokensPerSecond is the decode rate: output tokens after the first over the time after the first.
// Zero when it cannot be measured (one token, or no streaming).
func (r *Result) TokensPerSecond() float64 {
	n := r.OutputTokens()
	span := r.Duration - r.TTFT
	if n < 2 || span <= 0 || r.TTFT <= 0 {
		return 0
	}
	return float64(n-1) / span.Seconds()
}

// APIError is an error the server answered with.
type APIError struct {
	Status  int // HTTP status; 0 when the error came inside a stream
	Message string
	Type    string
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("server error")
	if e.Status != 0 {
		fmt.Fprintf(&b, " %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

func (c *Client) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// url joins the base with a /v1 path, accepting a base that already ends in /v1.
func (c *Client) url(path string) string {
	base := strings.TrimRight(c.BaseURL, "/")
	base = strings.TrimSuffix(base, "/v1")
	return base + path
}

func (c *Client) body(req Request, stream bool) ([]byte, error) {
	if len(req.Messages) == 0 {
		return nil, errors.New("chat request has no messages")
	}
	m := map[string]any{}
	for k, v := range req.Extra {
		m[k] = v
	}
	m["model"] = req.Model
	m["messages"] = req.Messages
	m["stream"] = stream
	if stream {
		m["stream_options"] = map[string]any{"include_usage": true}
	}
	if req.MaxTokens > 0 {
		m["max_tokens"] = req.MaxTokens
	}
	if req.Temperature != nil {
		m["temperature"] = *req.Temperature
	}
	if len(req.Stop) > 0 {
		m["stop"] = req.Stop
	}
	if req.Seed != nil {
		m["seed"] = *req.Seed
	}
	return json.Marshal(m)
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, accept string) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, c.url(path), r)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", method, path, err)
	}
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	hreq.Header.Set("Accept", accept)
	if c.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	resp, err := c.httpClient().Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, c.url(path), err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, readAPIError(resp)
	}
	return resp, nil
}

// readAPIError turns a non-2xx answer into an APIError, with the server's message when it sent one in
// OpenAI ({"error":{"message"}}), Dynamo ({"message"}) or FastAPI ({"detail"}) form.
func readAPIError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	e := &APIError{Status: resp.StatusCode}
	var body struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  any             `json:"detail"`
	}
	if json.Unmarshal(raw, &body) == nil {
		var inner wireError
		switch {
		case len(body.Error) > 0 && json.Unmarshal(body.Error, &inner) == nil && inner.Message != "":
			e.Message, e.Type = inner.Message, inner.Type
		case len(body.Error) > 0 && body.Error[0] == '"':
			_ = json.Unmarshal(body.Error, &e.Message)
		case body.Message != "":
			e.Message = body.Message
		case body.Detail != nil:
			e.Message = fmt.Sprint(body.Detail)
		}
	}
	if e.Message == "" {
		e.Message = strings.TrimSpace(truncate(raw, 300))
	}
	return e
}

// Chat sends a request unstreamed and returns the whole answer.
func (c *Client) Chat(ctx context.Context, req Request) (*Result, error) {
	body, err := c.body(req, false)
	if err != nil {
		return nil, err
	}
	start := c.clock()
	resp, err := c.do(ctx, http.MethodPost, "/v1/chat/completions", body, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading chat response: %w", err)
	}
	ch, err := ParseChunk(raw)
	if err != nil {
		return nil, err
	}
	res := &Result{ID: ch.ID, Model: ch.Model, Duration: c.clock().Sub(start)}
	res.TTFT = res.Duration
	if len(ch.Choices) == 0 {
		return nil, fmt.Errorf("chat response has no choices")
	}
	if m := ch.Choices[0].Message; m != nil {
		res.Content, res.Reasoning = m.Content, m.Reasoning
	}
	if fr := ch.Choices[0].FinishReason; fr != nil {
		res.FinishReason = *fr
	}
	if ch.Usage != nil {
		res.Usage, res.UsageKnown = ch.Usage.usage(), true
	}
	return res, nil
}

// ChatStream sends a request streamed, calls onDelta (if not nil) for every delta as it arrives, and
// returns the assembled answer with its timings. include_usage is requested, so servers that honour it
// report usage (and cached tokens) in the last chunk.
func (c *Client) ChatStream(ctx context.Context, req Request, onDelta func(Delta)) (*Result, error) {
	body, err := c.body(req, true)
	if err != nil {
		return nil, err
	}
	start := c.clock()
	resp, err := c.do(ctx, http.MethodPost, "/v1/chat/completions", body, "text/event-stream")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	res := &Result{}
	var content, reasoning strings.Builder
	err = consumeStream(resp.Body, func(ch *Chunk) {
		if res.ID == "" {
			res.ID = ch.ID
		}
		if ch.Model != "" {
			res.Model = ch.Model
		}
		if ch.Usage != nil {
			res.Usage, res.UsageKnown = ch.Usage.usage(), true
		}
		for _, choice := range ch.Choices {
			if choice.Index != 0 {
				continue
			}
			if choice.FinishReason != nil && *choice.FinishReason != "" {
				res.FinishReason = *choice.FinishReason
			}
			d := choice.Delta
			if d == nil {
				d = choice.Message
			}
			if d == nil || (d.Content == "" && d.Reasoning == "") {
				continue
			}
			if res.TTFT == 0 {
				res.TTFT = c.clock().Sub(start)
				if res.TTFT <= 0 {
					res.TTFT = time.Nanosecond // a first token was seen, however fast
				}
			}
			res.Chunks++
			content.WriteString(d.Content)
			reasoning.WriteString(d.Reasoning)
			if onDelta != nil {
				onDelta(*d)
			}
		}
	})
	res.Duration = c.clock().Sub(start)
	res.Content, res.Reasoning = content.String(), reasoning.String()
	if err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("chat stream: %w", ctx.Err())
		}
		return res, err
	}
	return res, nil
}

// consumeStream reads chunks until [DONE] or the end of the body.
func consumeStream(r io.Reader, fn func(*Chunk)) error {
	sse := NewSSEReader(r)
	for {
		ev, err := sse.Next()
		if errors.Is(err, io.EOF) {
			return nil // servers that omit [DONE] end the body instead
		}
		if err != nil {
			return err
		}
		if ev.Name == "error" {
			return &APIError{Message: strings.TrimSpace(truncate(ev.Data, 500))}
		}
		if bytes.Equal(bytes.TrimSpace(ev.Data), []byte("[DONE]")) {
			return nil
		}
		ch, err := ParseChunk(ev.Data)
		if err != nil {
			return err
		}
		fn(ch)
	}
}

// Model is one entry of GET /v1/models.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// Models lists the models the server serves.
func (c *Client) Models(ctx context.Context) ([]Model, error) {
	resp, err := c.do(ctx, http.MethodGet, "/v1/models", nil, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Data []Model `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("decoding /v1/models: %w", err)
	}
	return body.Data, nil
}

// DefaultModel returns the first served model's id: what `radix chat` uses without --model.
func (c *Client) DefaultModel(ctx context.Context) (string, error) {
	ms, err := c.Models(ctx)
	if err != nil {
		return "", err
	}
	if len(ms) == 0 {
		return "", errors.New("the server lists no models yet (no worker registered?)")
	}
	return ms[0].ID, nil
}
