package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/radixops/radix/inference/engine"
	"github.com/radixops/radix/inference/tokenizer"
)

// echoBackend stands in for a worker (the frontend role's seam): it streams the prompt's tokens back,
// up to max_tokens, honouring cancellation.
type echoBackend struct{}

type echoStream struct {
	toks []int32
	i    int
	n    int
	ctx  context.Context
}

func (echoBackend) Generate(ctx context.Context, r engine.Request) (TokenStream, error) {
	if len(r.Tokens) == 0 {
		return nil, engine.ErrEmptyPrompt
	}
	if len(r.Tokens) >= 256 {
		return nil, engine.ErrPromptTooLong
	}
	return &echoStream{toks: r.Tokens, n: min(r.Params.MaxNewTokens, 8), ctx: ctx}, nil
}

func (s *echoStream) Recv(ctx context.Context) (engine.Output, error) {
	if s.i > s.n {
		return engine.Output{}, io.EOF
	}
	if s.ctx.Err() != nil {
		s.i = s.n + 1
		return engine.Output{Finish: engine.FinishAbort, Err: s.ctx.Err()}, nil
	}
	o := engine.Output{HasToken: true, Token: s.toks[s.i%len(s.toks)], PromptTokens: len(s.toks)}
	s.i++
	if s.i == s.n {
		o.Finish = engine.FinishLength
		s.i++
	}
	return o, nil
}

func newFuzzServer(f *testing.F) http.Handler {
	j, err := tokenizer.SyntheticByteLevel(512)
	if err != nil {
		f.Fatal(err)
	}
	cfg, err := tokenizer.SyntheticTokenizerConfig()
	if err != nil {
		f.Fatal(err)
	}
	tok, err := tokenizer.FromJSON(j, cfg)
	if err != nil {
		f.Fatal(err)
	}
	s := New(Config{ModelName: "m", MaxBodyBytes: 1 << 16})
	s.SetBackend(echoBackend{}, tok, 256)
	return s.Handler()
}

// Any request body gets a well-formed answer: 200 with a response (or an SSE stream), or an OpenAI
// error body with a 4xx status — never a panic or a 5xx.
func FuzzRequestJSON(f *testing.F) {
	h := newFuzzServer(f)
	for _, s := range []string{
		chatBody,
		`{"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"stream":true,"stream_options":{"include_usage":true},"stop":["a","b"]}`,
		`{"prompt":[1,2,3],"max_tokens":3,"logprobs":2}`,
		`{"prompt":"x","stop":"y","seed":-1,"top_k":5,"min_p":0.1,"repetition_penalty":1.1}`,
		`{"messages":[{"role":"user","content":null}],"logprobs":true,"top_logprobs":3}`,
		`{"messages":5}`, `[]`, `null`, `{"prompt":["a","b"]}`, `{}`,
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, body string, completions bool) {
		path := "/v1/chat/completions"
		if completions {
			path = "/v1/completions"
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(body)))
		res := rec.Result()
		if res.StatusCode >= 500 {
			t.Fatalf("status %d for %q: %s", res.StatusCode, body, rec.Body.String())
		}
		if res.StatusCode != 200 {
			var eb ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Message == "" {
				t.Fatalf("status %d without an OpenAI error body: %q", res.StatusCode, rec.Body.String())
			}
			return
		}
		if strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
			if !strings.HasSuffix(rec.Body.String(), "data: [DONE]\n\n") {
				t.Fatalf("stream without [DONE]: %q", rec.Body.String())
			}
			return
		}
		var v map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v["usage"] == nil {
			t.Fatalf("200 without a JSON response with usage: %q", rec.Body.String())
		}
	})
}
