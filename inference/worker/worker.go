package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/radixops/radix/inference/disagg"
	"github.com/radixops/radix/inference/discovery"
	"github.com/radixops/radix/inference/engine"
	"github.com/radixops/radix/inference/kvcache"
	"github.com/radixops/radix/inference/model"
	"github.com/radixops/radix/inference/server"
	"github.com/radixops/radix/inference/telemetry"
)

// Options are a worker's settings: the aggregated server's plus its place in a topology.
type Options struct {
	server.ServeOptions
	Role         discovery.Role // worker, prefill or decode
	Namespace    string         // the deployment's Dynamo namespace
	Frontend     string         // the frontend's base URL; "" runs unregistered
	TransferPort int            // prefill/decode: the KV transfer listener's port (0: any)
	// Heartbeat between discovery heartbeats (0: a third of the frontend's lease).
	Heartbeat time.Duration
	// Transfer timing (disagg defaults: 5 s heartbeats, 300 s timeout).
	Transfer disagg.Options
	// EventBuffer bounds each kv-events subscriber's queue (default 4096 events).
	EventBuffer int
}

// Serve runs a worker until ctx ends: the engine behind the internal API (and the OpenAI API, for
// direct use), the KV transfer listener of a disaggregated role, and the registration with the frontend.
func Serve(ctx context.Context, o Options) error {
	so := o.ServeOptions
	if so.Model == "" {
		return errors.New("worker: --model is required")
	}
	switch o.Role {
	case discovery.RoleWorker, discovery.RolePrefill, discovery.RoleDecode:
	default:
		return fmt.Errorf("worker: role %q: want worker, prefill or decode", o.Role)
	}
	if so.Host == "" {
		so.Host = "127.0.0.1"
	}
	if so.PageSize == 0 {
		so.PageSize = 16
	}
	if so.DrainTimeout == 0 {
		so.DrainTimeout = 60 * time.Second
	}
	if so.ServedModelName == "" {
		so.ServedModelName = strings.TrimSuffix(filepath.Base(filepath.Clean(so.Model)), ".gguf")
	}
	log := telemetry.NewLogger(so.Log, "radix::worker")
	if o.EventBuffer <= 0 {
		o.EventBuffer = 4096
	}
	o.ServeOptions = so
	w := &Worker{opts: o, log: log, hub: newHub(o.EventBuffer)}
	w.srv = server.New(server.Config{ModelName: so.ServedModelName, APIKey: so.APIKey, Logger: log})
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathGenerate, w.generate)
	mux.HandleFunc("GET "+PathKVEvents, w.kvEvents)
	mux.HandleFunc("GET "+PathModelInfo, w.modelInfo)
	mux.Handle("/", w.srv.Handler())

	ln, err := net.Listen("tcp", net.JoinHostPort(so.Host, strconv.Itoa(so.Port)))
	if err != nil {
		return fmt.Errorf("worker: listening on %s:%d: %w", so.Host, so.Port, err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	endpoint := "http://" + ln.Addr().String()
	log.Info("listening on " + endpoint + " role=" + string(o.Role))
	if so.Listening != nil {
		so.Listening(ln.Addr().String())
	}

	var tln net.Listener
	if o.Role != discovery.RoleWorker {
		tln, err = net.Listen("tcp", net.JoinHostPort(so.Host, strconv.Itoa(o.TransferPort)))
		if err != nil {
			shutdown(hs)
			return fmt.Errorf("worker: listening for KV transfers on %s:%d: %w", so.Host, o.TransferPort, err)
		}
		defer tln.Close()
		log.Info("kv transfer listener on " + tln.Addr().String())
	}

	engCtx, stopEngine := context.WithCancel(context.Background())
	defer stopEngine()
	engDone := make(chan error, 1)
	if err := w.load(engCtx, engDone); err != nil {
		shutdown(hs)
		return err
	}
	if o.Role == discovery.RolePrefill {
		go func() {
			if err := disagg.Serve(tln, w.prefill, o.Transfer); err != nil {
				log.Error("kv transfer listener: " + err.Error())
			}
		}()
	}

	keepCtx, stopKeep := context.WithCancel(context.Background())
	defer stopKeep()
	keepDone := make(chan error, 1)
	keeping := o.Frontend != ""
	if keeping {
		host, _ := os.Hostname()
		reg := discovery.Registration{
			ID:        fmt.Sprintf("%s-%d-%s", host, os.Getpid(), ln.Addr().String()),
			Namespace: o.Namespace, Model: so.ServedModelName, Role: o.Role, Endpoint: endpoint,
			KVTokens: w.eng.Pool().Config().Tokens, PageSize: so.PageSize,
		}
		if tln != nil {
			reg.Transfer = tln.Addr().String()
		}
		go func() {
			keepDone <- discovery.Keep(keepCtx, o.Frontend, reg, discovery.KeepOptions{Interval: o.Heartbeat, Log: log})
		}()
	}

	var runErr error
	select {
	case err := <-served:
		runErr = fmt.Errorf("worker: http server stopped: %w", err)
	case err := <-keepDone: // Keep returns early only when the frontend refuses the registration
		keeping = false
		runErr = fmt.Errorf("worker: registering with %s: %w", o.Frontend, err)
	case <-ctx.Done():
	}
	// Deregister first, so the frontend stops routing here, then drain.
	stopKeep()
	if keeping {
		<-keepDone
	}
	log.Info("shutting down: draining in-flight requests")
	dctx, cancel := context.WithTimeout(context.Background(), so.DrainTimeout)
	defer cancel()
	drainErr := w.srv.Drain(dctx)
	w.hub.close()
	shutdown(hs)
	stopEngine()
	<-engDone
	log.Info(telemetry.RemovedModel(so.ServedModelName))
	if runErr != nil {
		return runErr
	}
	if drainErr != nil {
		return fmt.Errorf("worker: %w", drainErr)
	}
	return nil
}

// Worker is a running worker process's state.
type Worker struct {
	opts       Options
	log        *telemetry.Logger
	srv        *server.Server
	eng        *engine.Engine
	hub        *hub
	contextLen int
}

func (w *Worker) load(ctx context.Context, done chan<- error) error {
	so := w.opts.ServeOptions
	m, err := model.Load(so.Model, model.LoadOptions{DType: so.DType, KVDType: so.KVDType})
	if err != nil {
		return fmt.Errorf("worker: loading %s: %w", so.Model, err)
	}
	tok := m.Tokenizer()
	if tok == nil {
		return fmt.Errorf("worker: %s has no tokenizer", so.Model)
	}
	cfg := m.Config()
	total := so.MaxTotalTokens
	if total == 0 {
		total = min(16*cfg.ContextLen, 65536)
	}
	pool, err := m.NewKVPool(total, so.PageSize)
	if err != nil {
		return fmt.Errorf("worker: allocating the KV pool of %d tokens: %w", total, err)
	}
	e, err := engine.New(engine.NewModelRunner(m), pool, engine.Config{
		ContextLen: cfg.ContextLen, ChunkedPrefillSize: so.ChunkedPrefillSize,
		MaxRunningRequests: so.MaxRunningRequests, Policy: engine.Policy(so.SchedulePolicy),
		DisableRadixCache: so.DisableRadixCache, StopTokenIDs: tok.StopIDs(), Logger: w.log,
		Events: w.hub.sink,
	})
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	w.eng, w.contextLen = e, cfg.ContextLen
	go func() { done <- e.Run(ctx) }()
	w.srv.SetBackend(server.EngineBackend{E: e}, tok, cfg.ContextLen)
	w.log.Info(telemetry.AddedModel(so.ServedModelName))
	return nil
}

func shutdown(hs *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		hs.Close()
	}
}

func replyError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ErrorReply{Error: err.Error(), Kind: KindOf(err)})
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, engine.ErrOverloaded), errors.Is(err, engine.ErrDraining):
		return http.StatusServiceUnavailable
	case KindOf(err) != "":
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// generate serves POST /internal/generate: an NDJSON stream of outputs. The request ends when the
// client goes away.
func (w *Worker) generate(rw http.ResponseWriter, r *http.Request) {
	var req GenerateRequest
	dec := json.NewDecoder(http.MaxBytesReader(rw, r.Body, 16<<20))
	if err := dec.Decode(&req); err != nil {
		replyError(rw, http.StatusBadRequest, fmt.Errorf("decoding generate request: %w", err))
		return
	}
	ctx := r.Context()
	ereq := engine.Request{Tokens: req.Tokens, Params: req.Params, Namespace: kvcache.Namespace(req.Namespace)}
	var stream server.TokenStream
	switch {
	case req.Disagg != nil && w.opts.Role == discovery.RoleDecode:
		p, err := w.eng.SubmitPrefilled(ctx, ereq)
		if err != nil {
			replyError(rw, statusOf(err), err)
			return
		}
		if err := w.fetch(ctx, p, ereq, req.Disagg); err != nil {
			replyError(rw, http.StatusInternalServerError, err)
			return
		}
		stream = p.Stream()
	case req.Disagg != nil:
		replyError(rw, http.StatusBadRequest, fmt.Errorf("a %s worker takes no disaggregated requests", w.opts.Role))
		return
	default:
		s, err := w.eng.Submit(ctx, ereq)
		if err != nil {
			replyError(rw, statusOf(err), err)
			return
		}
		stream = s
	}
	rw.Header().Set("Content-Type", "application/x-ndjson")
	rw.WriteHeader(http.StatusOK)
	fl, _ := rw.(http.Flusher)
	enc := json.NewEncoder(rw)
	for {
		o, err := stream.Recv(ctx)
		if err != nil {
			return // io.EOF after the final output, or the client left (the engine cancels through ctx)
		}
		if err := enc.Encode(FromEngine(o)); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
	}
}

// fetch pulls the prompt's KV from the prefill worker into the pages the engine allocated, then admits
// the request into decoding. On failure the pages are freed (and prefill frees its own).
func (w *Worker) fetch(ctx context.Context, p *engine.Prefilled, req engine.Request, d *DisaggInfo) error {
	pages, err := p.Pages(ctx)
	if err != nil {
		return fmt.Errorf("allocating pages for the transfer: %w", err)
	}
	params, err := json.Marshal(req.Params)
	if err != nil {
		p.Fail(err)
		return err
	}
	pool := w.eng.Pool()
	layout := engine.KVLayout(pool)
	kr := disagg.KVRequest{Layout: layout, Tokens: req.Tokens, DstPages: pages, Params: params}
	first, err := disagg.Fetch(ctx, d.Prefill, d.Room, kr, func(kp disagg.KVPages) error {
		return engine.WritePages(pool, pages[kp.First:kp.First+kp.Count], kp.Data)
	}, w.opts.Transfer)
	if err != nil {
		p.Fail(err)
		w.log.Error(fmt.Sprintf("disaggregated request room=%d failed: %v", d.Room, err))
		return err
	}
	p.Complete(first.Token, first.CachedTokens)
	return nil
}

// prefill serves one transfer on a prefill worker: compute the prompt through the engine (its radix cache
// serves cached prefixes), send the held pages and the first token, release.
func (w *Worker) prefill(ctx context.Context, room uint64, req disagg.KVRequest, s *disagg.Sender) error {
	if got := engine.KVLayout(w.eng.Pool()); got != req.Layout {
		return fmt.Errorf("kv layout mismatch: decode %+v, prefill %+v", req.Layout, got)
	}
	var params engine.SamplingParams
	if err := json.Unmarshal(req.Params, &params); err != nil {
		return fmt.Errorf("decoding sampling parameters: %w", err)
	}
	h, err := w.eng.SubmitHeld(ctx, engine.Request{Tokens: req.Tokens, Params: params})
	if err != nil {
		return err
	}
	defer h.Release()
	pages, first, cached, err := h.Wait(ctx)
	if err != nil {
		return err
	}
	if len(pages) != len(req.DstPages) {
		return fmt.Errorf("prompt spans %d pages here, %d at decode", len(pages), len(req.DstPages))
	}
	pool := w.eng.Pool()
	const batch = 8
	var buf []byte
	for i := 0; i < len(pages); i += batch {
		n := min(batch, len(pages)-i)
		buf = engine.ReadPages(pool, pages[i:i+n], buf[:0])
		if err := s.SendPages(i, n, buf); err != nil {
			return err
		}
	}
	w.log.Info(fmt.Sprintf("disaggregated prefill room=%d sent %d pages, #cached-token: %d", room, len(pages), cached))
	return s.SendFirstToken(disagg.FirstToken{Token: first, CachedTokens: cached})
}

// kvEvents serves GET /internal/kv-events: the tree's events as NDJSON, from now on. A subscriber that
// falls a whole buffer behind gets a resync Cleared and is dropped; it reconnects and re-learns.
func (w *Worker) kvEvents(rw http.ResponseWriter, r *http.Request) {
	sub := w.hub.subscribe()
	defer w.hub.unsubscribe(sub)
	rw.Header().Set("Content-Type", "application/x-ndjson")
	rw.WriteHeader(http.StatusOK)
	fl, _ := rw.(http.Flusher)
	if fl != nil {
		fl.Flush()
	}
	enc := json.NewEncoder(rw)
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-sub.ch:
			if !ok {
				_ = enc.Encode(Event{Kind: "cleared", Resync: true})
				return
			}
			if err := enc.Encode(EventOf(ev)); err != nil {
				return
			}
			// Send what queued up together.
			for more := true; more; {
				select {
				case ev, ok := <-sub.ch:
					if !ok {
						_ = enc.Encode(Event{Kind: "cleared", Resync: true})
						return
					}
					if err := enc.Encode(EventOf(ev)); err != nil {
						return
					}
				default:
					more = false
				}
			}
			if fl != nil {
				fl.Flush()
			}
		}
	}
}

// modelInfo serves the tokenizer files, so a frontend needs no copy of the model.
func (w *Worker) modelInfo(rw http.ResponseWriter, _ *http.Request) {
	dir := w.opts.Model
	info := ModelInfo{Model: w.opts.ServedModelName, ContextLen: w.contextLen, PageSize: w.opts.PageSize}
	if info.Model == "" {
		info.Model = strings.TrimSuffix(filepath.Base(filepath.Clean(dir)), ".gguf")
	}
	var err error
	if info.TokenizerJSON, err = os.ReadFile(filepath.Join(dir, "tokenizer.json")); err != nil {
		replyError(rw, http.StatusNotImplemented, fmt.Errorf("this worker has no tokenizer.json to share (GGUF models: give the frontend --model): %w", err))
		return
	}
	info.TokenizerConfig, _ = os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	info.GenerationCfg, _ = os.ReadFile(filepath.Join(dir, "generation_config.json"))
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(info)
}

// hub fans the tree's events out to kv-events subscribers without ever blocking the scheduler.
type hub struct {
	size int
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct{ ch chan kvcache.Event }

func newHub(size int) *hub { return &hub{size: size, subs: map[*subscriber]struct{}{}} }

// sink runs on the scheduler goroutine. Event slices are immutable, so they are passed as they are.
func (h *hub) sink(ev kvcache.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.ch <- ev:
		default:
			close(s.ch) // fell behind: dropped, it resyncs
			delete(h.subs, s)
		}
	}
}

func (h *hub) subscribe() *subscriber {
	s := &subscriber{ch: make(chan kvcache.Event, h.size)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
	}
	h.mu.Unlock()
}

func (h *hub) close() {
	h.mu.Lock()
	for s := range h.subs {
		delete(h.subs, s)
		close(s.ch)
	}
	h.mu.Unlock()
}
