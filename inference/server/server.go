package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/radixops/radix/inference/engine"
	"github.com/radixops/radix/inference/telemetry"
	"github.com/radixops/radix/inference/tokenizer"
)

// Config configures the HTTP layer.
type Config struct {
	ModelName    string // the served model name; requests naming another model get 404
	APIKey       string // when set, /v1/* and /debug/* need "Authorization: Bearer <key>"
	MaxBodyBytes int64  // request body limit (default 4 MiB); larger bodies get 413
	Logger       *telemetry.Logger
}

// Server is the OpenAI-compatible HTTP front of a Backend. It serves /health (503) and /live before
// the model is loaded; SetBackend makes it ready.
type Server struct {
	cfg      Config
	state    atomic.Pointer[readyState]
	draining atomic.Bool
	metrics  *metrics
	mux      *http.ServeMux
	created  int64
}

type readyState struct {
	backend    Backend
	tok        *tokenizer.Tokenizer
	contextLen int
}

// New builds the server; it is not ready until SetBackend.
func New(cfg Config) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 4 << 20
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), created: time.Now().Unix()}
	s.metrics = newMetrics(cfg.ModelName, func() (engine.Stats, bool) {
		st := s.state.Load()
		if st == nil {
			return engine.Stats{}, false
		}
		src, ok := st.backend.(StatsSource)
		if !ok {
			return engine.Stats{}, false
		}
		return src.Stats(), true
	})
	s.mux.HandleFunc("GET /health", s.health)
	s.mux.HandleFunc("GET /live", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]string{"status": "live"})
	})
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /v1/models", s.auth(s.models))
	s.mux.HandleFunc("POST /v1/chat/completions", s.auth(s.chat))
	s.mux.HandleFunc("POST /v1/completions", s.auth(s.completions))
	s.mux.HandleFunc("GET /debug/invariant", s.auth(s.invariant))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &httpError{status: 404, typ: "invalid_request_error", code: "not_found",
			msg: fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)})
	})
	return s
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.mux }

// SetBackend makes the server ready: requests go to b, text through tok. It writes Dynamo's
// registration lines.
func (s *Server) SetBackend(b Backend, tok *tokenizer.Tokenizer, contextLen int) {
	s.state.Store(&readyState{backend: b, tok: tok, contextLen: contextLen})
	s.cfg.Logger.Info(telemetry.MsgRegistered)
	s.cfg.Logger.Info(telemetry.MsgRegistrationSucceed)
}

// Drain stops accepting generations (503 with Retry-After) and waits for the backend to finish what
// is in flight. Call http.Server.Shutdown afterwards to close connections.
func (s *Server) Drain(ctx context.Context) error {
	s.draining.Store(true)
	st := s.state.Load()
	if st == nil {
		return nil
	}
	if d, ok := st.backend.(Drainer); ok {
		return d.Drain(ctx)
	}
	return nil
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	if s.state.Load() == nil || s.draining.Load() {
		writeJSON(w, 503, map[string]string{"status": "unhealthy", "message": "No endpoints available"})
		return
	}
	writeJSON(w, 200, map[string]any{"status": "healthy", "endpoints": []string{"/v1/chat/completions", "/v1/completions"}})
}

func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	if s.cfg.APIKey == "" {
		return h
	}
	want := []byte("Bearer " + s.cfg.APIKey)
	return func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="radix"`)
			writeError(w, &httpError{status: 401, typ: "invalid_request_error", code: "invalid_api_key",
				msg: "missing or wrong API key: send Authorization: Bearer <key>"})
			return
		}
		h(w, r)
	}
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	data := []map[string]any{}
	if s.state.Load() != nil {
		data = append(data, map[string]any{"id": s.cfg.ModelName, "object": "model", "created": s.created, "owned_by": "radix"})
	}
	writeJSON(w, 200, map[string]any{"object": "list", "data": data})
}

func (s *Server) invariant(w http.ResponseWriter, r *http.Request) {
	st := s.state.Load()
	if st == nil {
		writeError(w, &httpError{status: 503, typ: "server_error", msg: "model not loaded", retryAfter: "5"})
		return
	}
	c, ok := st.backend.(InvariantChecker)
	if !ok {
		writeError(w, &httpError{status: 404, typ: "invalid_request_error", msg: "this backend has no KV pool to check"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if err := c.CheckInvariant(ctx); err != nil {
		writeError(w, &httpError{status: 500, typ: "server_error", code: "invariant_violated", msg: err.Error()})
		return
	}
	resp := map[string]any{"ok": true}
	if src, ok := st.backend.(StatsSource); ok {
		resp["stats"] = src.Stats()
	}
	writeJSON(w, 200, resp)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do about it
}

func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// decodeBody reads a JSON body under the size limit: 413 when too large, 400 when malformed.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &httpError{status: 413, typ: "invalid_request_error", code: "request_too_large",
				msg: fmt.Sprintf("request body exceeds %d bytes", mbe.Limit)}
		}
		return badRequest("", "malformed JSON body: "+err.Error())
	}
	if dec.More() {
		return badRequest("", "malformed JSON body: trailing data after the object")
	}
	return nil
}

// ready returns the backend for a request naming model (empty: the served one):
// a 503 while loading or draining, else a 404 when model is not the one served.
func (s *Server) ready(model string) (*readyState, error) {
	if s.draining.Load() {
		return nil, engine.ErrDraining
	}
	st := s.state.Load()
	if st == nil {
		return nil, &httpError{status: 503, typ: "server_error", code: "model_loading", msg: "the model is still loading", retryAfter: "5"}
	}
	if model != "" && model != s.cfg.ModelName {
		return nil, &httpError{status: 404, typ: "invalid_request_error", code: "model_not_found", param: "model",
			msg: fmt.Sprintf("the model %q does not exist; this server serves %q", model, s.cfg.ModelName)}
	}
	return st, nil
}

// params turns the shared fields into sampling parameters, validating ranges (400 on bad values).
func (s *Server) params(f *samplingFields, maxTokens *int, contextLen int) (engine.SamplingParams, error) {
	if f.N != nil && *f.N != 1 {
		return engine.SamplingParams{}, badRequest("n", "only n=1 is supported")
	}
	p := engine.SamplingParams{MaxNewTokens: contextLen, Temperature: 1, TopP: 1,
		StopTokenIDs: f.StopTokenIDs, IgnoreEOS: f.IgnoreEOS}
	if maxTokens != nil {
		if *maxTokens <= 0 {
			return p, badRequest("max_tokens", fmt.Sprintf("max_tokens must be positive, got %d", *maxTokens))
		}
		p.MaxNewTokens = *maxTokens
	}
	if f.Temperature != nil {
		p.Temperature = *f.Temperature
	}
	if f.TopP != nil {
		p.TopP = *f.TopP
	}
	if f.TopK != nil {
		p.TopK = *f.TopK
	}
	if f.MinP != nil {
		p.MinP = *f.MinP
	}
	if f.PresencePenalty != nil {
		p.PresencePenalty = *f.PresencePenalty
	}
	if f.FrequencyPenalty != nil {
		p.FrequencyPenalty = *f.FrequencyPenalty
	}
	if f.RepetitionPenalty != nil {
		p.RepetitionPenalty = *f.RepetitionPenalty
	}
	if f.Seed != nil {
		u := uint64(*f.Seed)
		p.Seed = &u
	}
	if err := p.Validate(); err != nil {
		return p, badRequest(paramOf(err.Error()), err.Error())
	}
	return p, nil
}

// paramOf names the parameter an engine validation message is about (its first word).
func paramOf(msg string) string {
	name, _, _ := strings.Cut(msg, " ")
	return name
}
