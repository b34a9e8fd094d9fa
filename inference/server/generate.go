package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/radixops/radix/inference/engine"
	"github.com/radixops/radix/inference/tokenizer"
)

// job is one generation as the handlers prepare it.
type job struct {
	endpoint     string
	prompt       []int32
	params       engine.SamplingParams
	stops        []string
	stream       bool
	includeUsage bool
	logprobs     bool
}

// piece is what one step of a generation contributes to the response.
type piece struct {
	text     string
	logprobs []LogprobToken
}

// generation consumes a backend stream: detokenises, applies stop strings, measures latency.
type generation struct {
	s      *Server
	st     *readyState
	ts     TokenStream
	cancel context.CancelFunc
	j      *job
	start  time.Time
	usage  Usage
	finish string
}

// begin submits the job. Errors here come before any response byte, so they get a proper status.
func (s *Server) begin(ctx context.Context, st *readyState, j *job) (*generation, error) {
	gctx, cancel := context.WithCancel(ctx)
	ts, err := st.backend.Generate(gctx, engine.Request{Tokens: j.prompt, Params: j.params})
	if err != nil {
		cancel()
		return nil, err
	}
	s.metrics.inflight.Inc()
	return &generation{s: s, st: st, ts: ts, cancel: cancel, j: j, start: time.Now(),
		usage: Usage{PromptTokens: len(j.prompt)}}, nil
}

// run streams pieces to emit until the generation finishes. A stop string ends it early (the backend
// request is cancelled, freeing its KV). It returns the finish reason.
func (g *generation) run(ctx context.Context, emit func(piece) error) (err error) {
	defer func() {
		g.cancel()
		g.s.metrics.inflight.Dec()
		status := "success"
		if err != nil {
			status = "error"
		}
		g.s.metrics.requests.WithLabelValues(g.j.endpoint, status).Inc()
		g.s.metrics.e2e.Observe(time.Since(g.start).Seconds())
	}()
	tok := g.st.tok
	det := tok.NewStream()
	stop := engine.NewStopMatcher(g.j.stops)
	last := time.Time{}
	for {
		o, err := g.ts.Recv(ctx)
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("generation ended without a finish reason")
		}
		if err != nil {
			return fmt.Errorf("waiting for tokens: %w", err)
		}
		if o.PromptTokens > 0 {
			g.usage.PromptTokens = o.PromptTokens
		}
		g.usage.PromptTokensDetails.CachedTokens = o.CachedTokens
		var p piece
		if o.HasToken {
			now := time.Now()
			if last.IsZero() {
				g.s.metrics.ttft.Observe(now.Sub(g.start).Seconds())
			} else {
				g.s.metrics.itl.Observe(now.Sub(last).Seconds())
			}
			last = now
			g.usage.CompletionTokens++
			if g.j.logprobs {
				p.logprobs = []LogprobToken{logprobToken(tok, o)}
			}
			if !o.StopToken {
				var stopped bool
				p.text, stopped = stop.Push(det.Add(o.Token))
				if stopped {
					g.finish = "stop"
					g.cancel()
					return g.emitFinal(emit, p)
				}
			}
		}
		if o.Finish != "" {
			if o.Finish == engine.FinishAbort {
				if o.Err == nil {
					o.Err = engine.ErrCancelled
				}
				return fmt.Errorf("generation aborted: %w", o.Err)
			}
			tail, stopped := stop.Push(det.Flush())
			p.text += tail
			if !stopped {
				p.text += stop.Flush()
			}
			g.finish = string(o.Finish)
			if stopped {
				g.finish = "stop"
			}
			return g.emitFinal(emit, p)
		}
		if p.text != "" || p.logprobs != nil {
			if err := emit(p); err != nil {
				return err
			}
		}
	}
}

func (g *generation) emitFinal(emit func(piece) error, p piece) error {
	g.usage.TotalTokens = g.usage.PromptTokens + g.usage.CompletionTokens
	if p.text != "" || p.logprobs != nil {
		return emit(p)
	}
	return nil
}

func logprobToken(tok *tokenizer.Tokenizer, o engine.Output) LogprobToken {
	text := tok.Decode([]int32{o.Token})
	lt := LogprobToken{Token: text, Logprob: o.Logprob, Bytes: bytesOf(text), TopLogprobs: []LogprobEntry{}}
	for _, a := range o.TopLogprobs {
		t := tok.Decode([]int32{a.Token})
		lt.TopLogprobs = append(lt.TopLogprobs, LogprobEntry{Token: t, Logprob: a.Logprob, Bytes: bytesOf(t)})
	}
	return lt
}

func bytesOf(s string) []int {
	b := make([]int, len(s))
	for i := range len(s) {
		b[i] = int(s[i])
	}
	return b
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var req ChatRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	st, err := s.ready(req.Model)
	if err != nil {
		writeError(w, err)
		return
	}
	if len(req.Messages) == 0 {
		writeError(w, badRequest("messages", "messages must not be empty"))
		return
	}
	maxTok := req.MaxCompletionTokens
	if maxTok == nil {
		maxTok = req.MaxTokens
	}
	j := &job{endpoint: "chat_completions", stops: req.Stop, stream: req.Stream, logprobs: req.Logprobs,
		includeUsage: req.StreamOptions != nil && req.StreamOptions.IncludeUsage}
	if j.params, err = s.params(&req.samplingFields, maxTok, st.contextLen); err != nil {
		writeError(w, err)
		return
	}
	if req.TopLogprobs != nil {
		if !req.Logprobs {
			writeError(w, badRequest("top_logprobs", "top_logprobs requires logprobs: true"))
			return
		}
		j.params.TopLogprobs = *req.TopLogprobs
	}
	j.params.Logprobs = req.Logprobs
	if err := j.params.Validate(); err != nil {
		writeError(w, badRequest(paramOf(err.Error()), err.Error()))
		return
	}
	msgs := make([]tokenizer.Message, len(req.Messages))
	for i, m := range req.Messages {
		if m.Role == "" {
			writeError(w, badRequest(fmt.Sprintf("messages[%d].role", i), "every message needs a role"))
			return
		}
		msgs[i] = tokenizer.Message{Role: m.Role, Content: string(m.Content)}
	}
	if j.prompt, err = st.tok.EncodeChat(msgs, true); err != nil {
		writeError(w, badRequest("messages", "applying the chat template: "+err.Error()))
		return
	}
	g, err := s.begin(r.Context(), st, j)
	if err != nil {
		writeError(w, err)
		return
	}
	id, created := newID("chatcmpl-"), time.Now().Unix()
	base := ChatResponse{ID: id, Created: created, Model: s.cfg.ModelName}
	if !j.stream {
		var text string
		var lps []LogprobToken
		err := g.run(r.Context(), func(p piece) error {
			text += p.text
			lps = append(lps, p.logprobs...)
			return nil
		})
		if err != nil {
			writeError(w, err)
			return
		}
		resp := base
		resp.Object = "chat.completion"
		fr := g.finish
		c := ChatChoice{Message: &ChatMessageOut{Role: "assistant", Content: text}, FinishReason: &fr}
		if j.logprobs {
			c.Logprobs = &Logprobs{Content: lps}
		}
		resp.Choices = []ChatChoice{c}
		resp.Usage = &g.usage
		writeJSON(w, 200, resp)
		return
	}
	sse := newSSE(w)
	chunk := func(c ChatChoice) error {
		resp := base
		resp.Object = "chat.completion.chunk"
		resp.Choices = []ChatChoice{c}
		return sse.send(resp)
	}
	empty := ""
	if err := chunk(ChatChoice{Delta: &ChatDelta{Role: "assistant", Content: &empty}}); err != nil {
		g.cancel()
		return
	}
	err = g.run(r.Context(), func(p piece) error {
		text := p.text
		c := ChatChoice{Delta: &ChatDelta{Content: &text}}
		if j.logprobs {
			c.Logprobs = &Logprobs{Content: p.logprobs}
		}
		return chunk(c)
	})
	if err != nil {
		sse.error(err)
		return
	}
	fr := g.finish
	if chunk(ChatChoice{Delta: &ChatDelta{}, FinishReason: &fr}) != nil {
		return
	}
	if j.includeUsage {
		resp := base
		resp.Object = "chat.completion.chunk"
		resp.Choices = []ChatChoice{}
		resp.Usage = &g.usage
		if sse.send(resp) != nil {
			return
		}
	}
	sse.done()
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) {
	var req CompletionRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	st, err := s.ready(req.Model)
	if err != nil {
		writeError(w, err)
		return
	}
	if req.Prompt == nil {
		writeError(w, badRequest("prompt", "prompt is required"))
		return
	}
	if req.Echo {
		writeError(w, badRequest("echo", "echo is not supported"))
		return
	}
	j := &job{endpoint: "completions", stops: req.Stop, stream: req.Stream,
		includeUsage: req.StreamOptions != nil && req.StreamOptions.IncludeUsage}
	if j.params, err = s.params(&req.samplingFields, req.MaxTokens, st.contextLen); err != nil {
		writeError(w, err)
		return
	}
	if req.Logprobs != nil {
		j.logprobs, j.params.Logprobs, j.params.TopLogprobs = true, true, *req.Logprobs
		if err := j.params.Validate(); err != nil {
			writeError(w, badRequest("logprobs", err.Error()))
			return
		}
	}
	if req.Prompt.IsIDs {
		for _, id := range req.Prompt.Tokens {
			if id < 0 || int(id) >= st.tok.VocabSize() {
				writeError(w, badRequest("prompt", fmt.Sprintf("token id %d is outside the vocabulary of %d", id, st.tok.VocabSize())))
				return
			}
		}
		j.prompt = req.Prompt.Tokens
	} else {
		j.prompt = st.tok.Encode(req.Prompt.Text, true)
	}
	g, err := s.begin(r.Context(), st, j)
	if err != nil {
		writeError(w, err)
		return
	}
	base := CompletionResponse{ID: newID("cmpl-"), Object: "text_completion", Created: time.Now().Unix(), Model: s.cfg.ModelName}
	if !j.stream {
		var text string
		var lps []LogprobToken
		err := g.run(r.Context(), func(p piece) error {
			text += p.text
			lps = append(lps, p.logprobs...)
			return nil
		})
		if err != nil {
			writeError(w, err)
			return
		}
		fr := g.finish
		c := CompletionChoice{Text: text, FinishReason: &fr}
		if j.logprobs {
			c.Logprobs = legacyLogprobs(lps)
		}
		resp := base
		resp.Choices = []CompletionChoice{c}
		resp.Usage = &g.usage
		writeJSON(w, 200, resp)
		return
	}
	sse := newSSE(w)
	err = g.run(r.Context(), func(p piece) error {
		resp := base
		c := CompletionChoice{Text: p.text}
		if j.logprobs {
			c.Logprobs = legacyLogprobs(p.logprobs)
		}
		resp.Choices = []CompletionChoice{c}
		return sse.send(resp)
	})
	if err != nil {
		sse.error(err)
		return
	}
	fr := g.finish
	resp := base
	resp.Choices = []CompletionChoice{{FinishReason: &fr}}
	if sse.send(resp) != nil {
		return
	}
	if j.includeUsage {
		resp := base
		resp.Choices = []CompletionChoice{}
		resp.Usage = &g.usage
		if sse.send(resp) != nil {
			return
		}
	}
	sse.done()
}

// legacyLogprobs is the completions endpoint's logprobs shape.
func legacyLogprobs(lps []LogprobToken) map[string]any {
	tokens := make([]string, len(lps))
	values := make([]float32, len(lps))
	top := make([]map[string]float32, len(lps))
	for i, l := range lps {
		tokens[i], values[i] = l.Token, l.Logprob
		top[i] = map[string]float32{}
		for _, a := range l.TopLogprobs {
			top[i][a.Token] = a.Logprob
		}
	}
	return map[string]any{"tokens": tokens, "token_logprobs": values, "top_logprobs": top}
}

// sse writes server-sent events, flushing each.
type sse struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func newSSE(w http.ResponseWriter) *sse {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	w.WriteHeader(200)
	return &sse{w: w, rc: http.NewResponseController(w)}
}

func (s *sse) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding an SSE event: %w", err)
	}
	if _, err := fmt.Fprintf(s.w, "data: %s\n\n", b); err != nil {
		return fmt.Errorf("writing an SSE event: %w", err)
	}
	if err := s.rc.Flush(); err != nil {
		return fmt.Errorf("flushing an SSE event: %w", err)
	}
	return nil
}

// error reports a failure inside a stream, where the status is already sent.
func (s *sse) error(err error) {
	he := classify(err)
	_ = s.send(errorBody(he)) // best effort: the client may be the reason we failed
	s.done()
}

func (s *sse) done() {
	_, _ = io.WriteString(s.w, "data: [DONE]\n\n")
	_ = s.rc.Flush()
}
