package frontend

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/radixops/radix/inference/discovery"
	"github.com/radixops/radix/inference/engine"
	"github.com/radixops/radix/inference/kvcache"
	"github.com/radixops/radix/inference/router"
	"github.com/radixops/radix/inference/server"
	"github.com/radixops/radix/inference/telemetry"
	"github.com/radixops/radix/inference/tokenizer"
	"github.com/radixops/radix/inference/worker"
)

// Options are `radix serve --role frontend`'s settings.
type Options struct {
	Host      string
	Port      int
	Namespace string
	// Router: --router-mode, --kv-overlap-score-weight, --router-temperature; KVEvents false makes the
	// kv mode approximate (it predicts caches from its own decisions).
	RouterMode         string
	OverlapScoreWeight float64
	Temperature        float64
	KVEvents           bool
	LeaseTTL           time.Duration // discovery lease (default 10 s)
	// Model, when set, is a model directory whose tokenizer the frontend loads; otherwise it fetches the
	// tokenizer files from the first worker that registers.
	Model        string
	APIKey       string
	DrainTimeout time.Duration
	Log          io.Writer
	Listening    func(addr string)
}

// Frontend is the OpenAI API in front of registered workers.
type Frontend struct {
	opts Options
	log  *telemetry.Logger
	reg  *discovery.Registry
	mode router.Mode
	srv  atomic.Pointer[server.Server]
	hc   *http.Client

	mu      sync.Mutex
	workers map[string]*workerState
	routers map[discovery.Role]*router.Router
	loading bool
	ctx     context.Context
}

type workerState struct {
	reg    discovery.Registration
	cancel context.CancelFunc
}

// Serve runs a frontend until ctx ends.
func Serve(ctx context.Context, o Options) error {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.RouterMode == "" {
		o.RouterMode = string(router.RoundRobin)
	}
	mode, err := router.ParseMode(o.RouterMode)
	if err != nil {
		return fmt.Errorf("frontend: %w", err)
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 60 * time.Second
	}
	log := telemetry.NewLogger(o.Log, "dynamo_llm::frontend")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := &Frontend{opts: o, log: log, mode: mode, workers: map[string]*workerState{},
		routers: map[discovery.Role]*router.Router{}, ctx: ctx,
		// No overall timeout: streams last as long as generation does; the dial is bounded.
		hc: &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
		}}}
	f.reg = discovery.NewRegistry(discovery.RegistryOptions{Namespace: o.Namespace, TTL: o.LeaseTTL, Log: log})
	f.reg.Subscribe(f.onChange)
	go f.reg.Run(ctx)

	mux := http.NewServeMux()
	dh := f.reg.Handler()
	mux.Handle("/internal/discovery/", dh)
	mux.HandleFunc("GET /health", f.health)
	mux.HandleFunc("GET /v1/models", f.models)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if s := f.srv.Load(); s != nil {
			s.Handler().ServeHTTP(w, r)
			return
		}
		if r.URL.Path == "/live" {
			writeJSON(w, 200, map[string]string{"status": "live"})
			return
		}
		w.Header().Set("Retry-After", "2")
		writeJSON(w, 503, map[string]any{"error": map[string]any{"message": "No endpoints available", "type": "server_error", "code": "no_endpoints"}})
	})
	ln, err := net.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)))
	if err != nil {
		return fmt.Errorf("frontend: listening on %s:%d: %w", o.Host, o.Port, err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info(fmt.Sprintf("frontend listening on http://%s namespace=%s router_mode=%s kv_events=%t", ln.Addr(), o.Namespace, mode, o.KVEvents))
	if o.Listening != nil {
		o.Listening(ln.Addr().String())
	}
	select {
	case err := <-served:
		return fmt.Errorf("frontend: http server stopped: %w", err)
	case <-ctx.Done():
	}
	if s := f.srv.Load(); s != nil {
		dctx, cancelDrain := context.WithTimeout(context.Background(), o.DrainTimeout)
		_ = s.Drain(dctx)
		cancelDrain()
	}
	sctx, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// routerFor returns the router of a role's workers, made on first use with the worker's page size.
// Aggregated and prefill workers are routed in the configured mode (prefill workers hold the cache);
// decode workers by load. f.mu is held.
func (f *Frontend) routerFor(reg discovery.Registration) *router.Router {
	r := f.routers[reg.Role]
	if r == nil {
		cfg := router.Config{Mode: f.mode, PageSize: reg.PageSize, OverlapScoreWeight: f.opts.OverlapScoreWeight,
			Temperature: f.opts.Temperature, Approximate: f.mode == router.KV && !f.opts.KVEvents}
		if reg.Role == discovery.RoleDecode && f.mode == router.KV {
			cfg.Approximate = true // decode workers' caches do not matter; their load does
		}
		r = router.New(cfg)
		f.routers[reg.Role] = r
	}
	return r
}

// onChange follows the registry: workers join and leave the routers; the kv router subscribes to each
// cache-holding worker's events.
func (f *Frontend) onChange(c discovery.Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := c.Worker.ID
	switch c.Kind {
	case discovery.Added:
		if old, ok := f.workers[id]; ok {
			old.cancel()
		}
		ctx, cancel := context.WithCancel(f.ctx)
		f.workers[id] = &workerState{reg: c.Worker, cancel: cancel}
		r := f.routerFor(c.Worker)
		r.AddWorker(router.WorkerID(id))
		if f.mode == router.KV && f.opts.KVEvents && c.Worker.Role != discovery.RoleDecode {
			go f.followEvents(ctx, r, c.Worker)
		}
		if f.srv.Load() == nil && !f.loading {
			f.loading = true
			go f.loadTokenizer(c.Worker)
		}
	case discovery.Removed:
		if w, ok := f.workers[id]; ok {
			w.cancel()
			delete(f.workers, id)
			if r := f.routers[w.reg.Role]; r != nil {
				r.RemoveWorker(router.WorkerID(id))
			}
		}
	}
}

// followEvents streams a worker's KV events into the router until ctx ends, reconnecting; whenever the
// stream breaks the worker's cache is treated as cleared, and re-learnt from later events.
func (f *Frontend) followEvents(ctx context.Context, r *router.Router, reg discovery.Registration) {
	wid := router.WorkerID(reg.ID)
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, reg.Endpoint+worker.PathKVEvents, nil)
		resp, err := f.hc.Do(req)
		if err == nil {
			if resp.StatusCode == http.StatusOK {
				err = worker.ReadEvents(resp.Body, func(ev kvcache.Event, _ bool) { r.Apply(wid, ev) })
			} else {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			resp.Body.Close()
		}
		r.Apply(wid, kvcache.Event{Kind: kvcache.Cleared})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			f.log.Warn(fmt.Sprintf("kv events of worker %s: %v; reconnecting", reg.ID, err))
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// loadTokenizer makes the frontend ready: the tokenizer from --model or from a worker, then the
// OpenAI server over this frontend's routing backend.
func (f *Frontend) loadTokenizer(reg discovery.Registration) {
	for attempt := 0; f.ctx.Err() == nil; attempt++ {
		err := f.tryLoad(reg)
		if err == nil {
			return
		}
		f.log.Warn(fmt.Sprintf("loading the tokenizer (from worker %s): %v; retrying", reg.Endpoint, err))
		select {
		case <-f.ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
		// Try another registered worker when this one went away.
		f.mu.Lock()
		for _, w := range f.workers {
			reg = w.reg
			break
		}
		f.mu.Unlock()
	}
}

func (f *Frontend) tryLoad(reg discovery.Registration) error {
	ctx, cancel := context.WithTimeout(f.ctx, 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, reg.Endpoint+worker.PathModelInfo, nil)
	resp, err := f.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var info worker.ModelInfo
	if resp.StatusCode != http.StatusOK && f.opts.Model == "" {
		var er worker.ErrorReply
		_ = json.NewDecoder(resp.Body).Decode(&er)
		return er.ErrorOf(resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil && f.opts.Model == "" {
		return fmt.Errorf("decoding model info: %w", err)
	}
	if info.ContextLen <= 0 {
		info.ContextLen = 4096
	}
	if info.Model == "" {
		info.Model = reg.Model
	}
	dir := f.opts.Model
	if dir == "" {
		tmp, err := os.MkdirTemp("", "radix-frontend-tokenizer-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		for name, b := range map[string][]byte{"tokenizer.json": info.TokenizerJSON,
			"tokenizer_config.json": info.TokenizerConfig, "generation_config.json": info.GenerationCfg} {
			if len(b) > 0 {
				if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
					return err
				}
			}
		}
		dir = tmp
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return fmt.Errorf("loading the tokenizer: %w", err)
	}
	s := server.New(server.Config{ModelName: reg.Model, APIKey: f.opts.APIKey, Logger: f.log})
	s.SetBackend(f, tok, info.ContextLen)
	f.srv.Store(s)
	// The current frontend's readiness lines, one per API, once the model's pipeline is built.
	f.log.Info(telemetry.MsgChatReady)
	f.log.Info(telemetry.MsgCompletionsReady)
	return nil
}

// health answers as the current Dynamo frontend does: 503 "not_ready" until its initial model
// discovery is complete (here: a worker has registered and its tokenizer is loaded), 503
// "shutting_down" once it stops, 200 "healthy" otherwise; every answer lists the endpoints and
// instances registered, a worker's URL as its transport.
func (f *Frontend) health(w http.ResponseWriter, _ *http.Request) {
	ws := f.reg.Workers()
	h := telemetry.Health{Endpoints: []string{}, Instances: []telemetry.HealthInstance{}}
	for _, r := range ws {
		component := "backend" // Dynamo's SGLang workers: backend (aggregated, decode) and prefill
		if r.Role == discovery.RolePrefill {
			component = "prefill"
		}
		ns := r.Namespace
		if ns == "" {
			ns = "dynamo"
		}
		h.Endpoints = append(h.Endpoints, "dyn://"+ns+"."+component+".generate")
		id := fnv.New64a()
		id.Write([]byte(r.ID))
		h.Instances = append(h.Instances, telemetry.HealthInstance{Component: component, Endpoint: "generate", Namespace: ns,
			InstanceID: id.Sum64(), Transport: map[string]string{"http": r.Endpoint}})
	}
	slices.Sort(h.Endpoints)
	h.Endpoints = slices.Compact(h.Endpoints)
	slices.SortFunc(h.Instances, func(a, b telemetry.HealthInstance) int {
		return cmp.Or(cmp.Compare(a.Component, b.Component), cmp.Compare(a.InstanceID, b.InstanceID))
	})
	code := http.StatusOK
	h.InitialDiscoveryComplete = len(ws) > 0 && f.srv.Load() != nil
	switch {
	case f.ctx.Err() != nil:
		code, h.Status, h.Message = http.StatusServiceUnavailable, telemetry.HealthShuttingDown, telemetry.MsgShuttingDown
	case !h.InitialDiscoveryComplete:
		code, h.Status, h.Message = http.StatusServiceUnavailable, telemetry.HealthNotReady, telemetry.MsgDiscovering
	default:
		h.Status, h.Message = telemetry.HealthHealthy, telemetry.MsgHealthy
	}
	writeJSON(w, code, h)
}

func (f *Frontend) models(w http.ResponseWriter, _ *http.Request) {
	seen := map[string]bool{}
	data := []map[string]any{}
	for _, r := range f.reg.Workers() {
		if !seen[r.Model] {
			seen[r.Model] = true
			data = append(data, map[string]any{"id": r.Model, "object": "model", "owned_by": "radix"})
		}
	}
	writeJSON(w, 200, map[string]any{"object": "list", "data": data})
}

// errNoEndpoints is answered with 503 (ErrOverloaded's status) and Retry-After.
var errNoEndpoints = fmt.Errorf("%w: no endpoints available for this request", engine.ErrOverloaded)

// Generate routes one request: to an aggregated worker when there is one, else to a prefill and a
// decode worker paired under a random bootstrap room.
func (f *Frontend) Generate(ctx context.Context, req engine.Request) (server.TokenStream, error) {
	f.mu.Lock()
	agg, pre, dec := f.routers[discovery.RoleWorker], f.routers[discovery.RolePrefill], f.routers[discovery.RoleDecode]
	f.mu.Unlock()
	rreq := router.Request{Tokens: req.Tokens, Namespace: req.Namespace}
	body := worker.GenerateRequest{Tokens: req.Tokens, Params: req.Params, Namespace: uint64(req.Namespace)}
	for attempt := 0; attempt < 3; attempt++ {
		switch {
		case agg != nil && len(agg.Workers()) > 0:
			d, err := agg.Route(rreq)
			if err != nil {
				continue
			}
			f.log.Info(d.String())
			ts, err := f.call(ctx, d.Worker, body, d)
			if errors.Is(err, errUnreachable) {
				continue
			}
			return ts, err
		case pre != nil && dec != nil && len(pre.Workers()) > 0 && len(dec.Workers()) > 0:
			dp, err := pre.Route(rreq)
			if err != nil {
				continue
			}
			dd, err := dec.Route(rreq)
			if err != nil {
				dp.Finish()
				continue
			}
			f.mu.Lock()
			pw := f.workers[string(dp.Worker)]
			f.mu.Unlock()
			if pw == nil {
				dp.Finish()
				dd.Finish()
				continue
			}
			room := rand.Uint64() >> 1
			f.log.Info(fmt.Sprintf("disaggregated request bootstrap_room=%d prefill=%s decode=%s; prefill %s", room, dp.Worker, dd.Worker, dp))
			b := body
			b.Disagg = &worker.DisaggInfo{Room: room, Prefill: pw.reg.Transfer}
			ts, err := f.call(ctx, dd.Worker, b, dd, dp)
			if errors.Is(err, errUnreachable) {
				continue
			}
			return ts, err
		default:
			return nil, errNoEndpoints
		}
	}
	return nil, errNoEndpoints
}

var errUnreachable = errors.New("worker unreachable")

// call posts body to a worker and returns its output stream. The decisions are released as the
// request progresses (prefill load at the first token, the rest at the end). A worker that refuses the
// connection is dropped from the registry (it registers again if it is alive) and errUnreachable lets
// the caller route elsewhere.
func (f *Frontend) call(ctx context.Context, wid router.WorkerID, body worker.GenerateRequest, ds ...*router.Decision) (server.TokenStream, error) {
	finish := func() {
		for _, d := range ds {
			d.Finish()
		}
	}
	f.mu.Lock()
	w := f.workers[string(wid)]
	f.mu.Unlock()
	if w == nil {
		finish()
		return nil, errUnreachable
	}
	b, err := json.Marshal(body)
	if err != nil {
		finish()
		return nil, err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, w.reg.Endpoint+worker.PathGenerate, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.hc.Do(req)
	if err != nil {
		finish()
		if errors.Is(err, syscall.ECONNREFUSED) {
			f.log.Warn(fmt.Sprintf("worker %s refused the connection; dropping it until it registers again", wid))
			f.reg.Deregister(string(wid))
			return nil, errUnreachable
		}
		return nil, fmt.Errorf("sending the request to worker %s: %w", wid, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		finish()
		var er worker.ErrorReply
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&er); err != nil {
			er.Error = fmt.Sprintf("unreadable error body: %v", err)
		}
		return nil, er.ErrorOf(resp.StatusCode)
	}
	stop := context.AfterFunc(ctx, finish)
	return &stream{wid: wid, body: resp.Body, dec: json.NewDecoder(resp.Body), ds: ds, stop: stop, finish: finish}, nil
}

// stream reads a worker's NDJSON outputs.
type stream struct {
	wid    router.WorkerID
	body   io.ReadCloser
	dec    *json.Decoder
	ds     []*router.Decision
	stop   func() bool
	finish func()
	first  bool
	done   bool
}

func (s *stream) Recv(ctx context.Context) (engine.Output, error) {
	if s.done {
		return engine.Output{}, io.EOF
	}
	var o worker.Output
	if err := s.dec.Decode(&o); err != nil {
		s.end()
		if ctx.Err() != nil {
			return engine.Output{}, ctx.Err()
		}
		// The worker died or the connection broke: the client hears it now, not at a timeout.
		return engine.Output{}, fmt.Errorf("worker %s stream broken: %w", s.wid, noEOF(err))
	}
	if o.HasToken && !s.first {
		s.first = true
		for _, d := range s.ds {
			d.PrefillDone()
		}
		if len(s.ds) == 2 {
			s.ds[1].Finish() // the prefill worker's part is over
		}
	}
	if o.Finish != "" {
		s.end()
	}
	return o.Engine(), nil
}

func (s *stream) end() {
	s.done = true
	s.stop()
	s.finish()
	s.body.Close()
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
