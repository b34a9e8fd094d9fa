package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/radixops/radix/inference/kvcache"
	"github.com/radixops/radix/inference/telemetry"
)

// Seq is one sequence's share of a forward step: len(Tokens) >= 1 new tokens at positions Pos..; Slots
// maps every position 0..Pos+len(Tokens)-1 to its KV slot. It mirrors model.Seq (see ModelRunner).
type Seq struct {
	Tokens []int32
	Pos    int
	Slots  []int32
}

// Runner is what the scheduler needs of a model: a forward step over a mixed batch of prefill chunks and
// decode tokens that writes K/V into the pool and returns each sequence's last-token logits.
type Runner interface {
	Forward(batch []Seq, kv *kvcache.Pool, logits [][]float32) error
	VocabSize() int
}

// Policy orders the waiting queue.
type Policy string

const (
	PolicyLPM  Policy = "lpm"  // longest cached prefix first (falls back to FCFS past LPMLimit waiting)
	PolicyFCFS Policy = "fcfs" // arrival order
)

// SGLang's scheduling constants (REFERENCE §4).
const (
	InitNewTokenRatio  = 0.7
	MinNewTokenRatio   = 0.098
	RatioDecaySteps    = 600
	ClipMaxNewTokens   = 4096 // reservation per request is clipped to this
	LPMLimit           = 128  // LPM falls back to FCFS with more waiting than this
	DecodeLogInterval  = 40
	dedupeThreshold    = 32 // in-batch prefix dedupe: a waiting request sharing this many new tokens waits
	retractDecodeSteps = 20 // SGLang's estimate of steps a retracted request still decodes
)

// Config sets the scheduler's limits. Zero values take the defaults noted.
type Config struct {
	ContextLen         int    // model context; prompts at or past it are rejected (required)
	ChunkedPrefillSize int    // prefill tokens per step; longer prompts are chunked (default 512)
	MaxRunningRequests int    // default 64
	MaxQueued          int    // waiting requests before Submit says ErrOverloaded (default 1024)
	Policy             Policy // default lpm
	DisableRadixCache  bool
	StopTokenIDs       []int32 // the model's EOS ids; always stop unless a request sets IgnoreEOS
	Logger             *telemetry.Logger
	Events             kvcache.EventSink // KV events for a KV-aware router (nil: none)
}

// Engine is the scheduler. Create with New, run Run on one goroutine, Submit from any.
type Engine struct {
	cfg  Config
	m    Runner
	pool *kvcache.Pool
	tree *kvcache.Tree // nil with DisableRadixCache
	ps   int
	log  *telemetry.Logger

	mu       sync.Mutex // guards the inbox side below
	inbox    []*request
	cancels  []uint64
	checks   []chan error
	draining bool
	nextID   uint64
	wake     chan struct{}
	pub      Stats
	idle     chan struct{} // closed and replaced when the engine has no work (for Drain)

	// Owned by the loop goroutine.
	waiting           []*request
	running           []*request
	ratio             float64
	logits            [][]float32
	batch             []Seq
	bReqs             []*request
	bLens             []int
	scratch           []int32
	st                Stats
	decodeSteps       int
	lastDecodeLog     time.Time
	decodeTokensSince int

	pd pdState // disaggregation: held prefills and transferring decodes (disagg.go)
}

type request struct {
	id      uint64
	stream  *Stream
	params  SamplingParams
	ns      kvcache.Namespace
	maxNew  int
	sampler *Sampler

	tokens    []int32 // prompt + generated
	promptLen int
	out       int

	pages     []int32
	slots     []int32 // slot of every position covered by pages
	kvLen     int     // positions whose K/V is in the pool
	cachedLen int     // [0, cachedLen) belongs to the tree, locked through node
	node      *kvcache.Node

	firstCached int
	admitted    bool // admitted at least once (firstCached is set)
	prefilling  bool // running, and its uncomputed tokens are a prefill (possibly chunked)
	matchLen    int  // scratch: cached prefix length for ordering
}

// Stats is a snapshot of the scheduler's state and counters, published after every step.
type Stats struct {
	Running, Waiting int
	MaxTotalTokens   int
	UsedTokens       int     // held by requests or locked in the tree
	TokenUsage       float64 // (total − free − evictable) / total
	TotalPages       int
	ActivePages      int // pages not free and not evictable
	NewTokenRatio    float64
	GenThroughput    float64 // token/s over the last decode log interval

	Requests, Finished, Aborted, Retracted uint64
	PromptTokens                           uint64 // prompt tokens of admitted requests (first admission)
	CachedTokens                           uint64 // of which served by the radix cache
	PrefillTokens                          uint64 // tokens actually computed in prefill (retracts recompute)
	GenerationTokens                       uint64
	EvictedTokens                          uint64
	Steps                                  uint64
	StepTime, TreeTime                     time.Duration // wall time of steps, and of radix tree calls in them
}

// HitRate is the fraction of admitted prompt tokens served from the cache.
func (s Stats) HitRate() float64 {
	if s.PromptTokens == 0 {
		return 0
	}
	return float64(s.CachedTokens) / float64(s.PromptTokens)
}

// New makes a scheduler over m and pool (from the model's NewKVPool). It logs SGLang's startup line.
func New(m Runner, pool *kvcache.Pool, cfg Config) (*Engine, error) {
	if cfg.ContextLen <= 0 {
		return nil, fmt.Errorf("engine: context length must be positive, got %d", cfg.ContextLen)
	}
	if cfg.ChunkedPrefillSize <= 0 {
		cfg.ChunkedPrefillSize = 512
	}
	if cfg.MaxRunningRequests <= 0 {
		cfg.MaxRunningRequests = 64
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = 1024
	}
	switch cfg.Policy {
	case "":
		cfg.Policy = PolicyLPM
	case PolicyLPM, PolicyFCFS:
	default:
		return nil, fmt.Errorf("engine: unknown schedule policy %q (want lpm or fcfs)", cfg.Policy)
	}
	e := &Engine{cfg: cfg, m: m, pool: pool, ps: pool.PageSize(), log: cfg.Logger,
		wake: make(chan struct{}, 1), idle: make(chan struct{}), ratio: InitNewTokenRatio}
	if cfg.ChunkedPrefillSize < e.ps {
		e.cfg.ChunkedPrefillSize = e.ps
	}
	if !cfg.DisableRadixCache {
		t, err := kvcache.NewTree(pool, kvcache.TreeOptions{Events: cfg.Events})
		if err != nil {
			return nil, fmt.Errorf("engine: creating the radix tree: %w", err)
		}
		e.tree = t
	}
	e.st.MaxTotalTokens = pool.Config().Tokens
	e.st.NewTokenRatio = e.ratio
	e.publish()
	e.log.Info(telemetry.Startup{
		MaxTotalNumTokens:  e.st.MaxTotalTokens,
		ChunkedPrefillSize: e.cfg.ChunkedPrefillSize,
		MaxPrefillTokens:   e.cfg.ChunkedPrefillSize,
		MaxRunningRequests: e.cfg.MaxRunningRequests,
		ContextLen:         cfg.ContextLen,
	}.String())
	if e.tree == nil {
		e.log.Info("radix cache disabled (--disable-radix-cache): every prompt is prefilled in full")
	}
	return e, nil
}

// Config returns the effective configuration.
func (e *Engine) Config() Config { return e.cfg }

// Submit queues a request. The request ends when ctx does (its pages are freed) or by Stream.Cancel.
// Requests that can never run are rejected here, not queued.
func (e *Engine) Submit(ctx context.Context, req Request) (*Stream, error) {
	return e.submit(ctx, req, nil)
}

// submit is Submit; prep, when set, sees the request under the inbox lock before the loop can (the
// disaggregation hooks mark their requests there).
func (e *Engine) submit(ctx context.Context, req Request, prep func(*request)) (*Stream, error) {
	n := len(req.Tokens)
	if n == 0 {
		return nil, ErrEmptyPrompt
	}
	if n >= e.cfg.ContextLen {
		return nil, fmt.Errorf("%w: %d prompt tokens, context %d", ErrPromptTooLong, n, e.cfg.ContextLen)
	}
	if total := e.pool.Config().Tokens; n+1 > total {
		return nil, fmt.Errorf("%w: %d prompt tokens need more than the pool's %d", ErrNeverFits, n, total)
	}
	if err := req.Params.Validate(); err != nil {
		return nil, err
	}
	maxNew := min(req.Params.MaxNewTokens, e.cfg.ContextLen-n)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.draining {
		return nil, ErrDraining
	}
	if len(e.inbox)+e.pub.Waiting >= e.cfg.MaxQueued {
		return nil, ErrOverloaded
	}
	e.nextID++
	r := &request{
		id: e.nextID, params: req.Params, ns: req.Namespace, maxNew: maxNew,
		tokens: append(make([]int32, 0, n+min(maxNew, 256)), req.Tokens...), promptLen: n,
	}
	r.sampler = NewSampler(req.Params, req.Tokens, rand.Uint64())
	r.stream = newStream(r.id, e)
	id := r.id
	r.stream.stop = context.AfterFunc(ctx, func() { e.cancel(id) })
	if prep != nil {
		prep(r)
	}
	e.inbox = append(e.inbox, r)
	e.signal()
	return r.stream, nil
}

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *Engine) cancel(id uint64) {
	e.mu.Lock()
	e.cancels = append(e.cancels, id)
	e.mu.Unlock()
	e.signal()
}

// Stats returns the snapshot published after the last step. Safe from any goroutine.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pub
}

// Pool returns the KV pool (its Usage is safe from any goroutine; nothing else is).
func (e *Engine) Pool() *kvcache.Pool { return e.pool }

// Tree returns the radix tree, nil when the cache is disabled (Stats and Usage are safe from any
// goroutine; nothing else is).
func (e *Engine) Tree() *kvcache.Tree { return e.tree }

// CheckInvariant asks the loop to verify the pool and tree invariant and that every in-flight page is
// owned by exactly one request. It waits for the loop (which must be running) or ctx.
func (e *Engine) CheckInvariant(ctx context.Context) error {
	ch := make(chan error, 1)
	e.mu.Lock()
	e.checks = append(e.checks, ch)
	e.mu.Unlock()
	e.signal()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Drain stops accepting requests and waits until every queued and running request has finished, or
// ctx ends.
func (e *Engine) Drain(ctx context.Context) error {
	e.mu.Lock()
	e.draining = true
	e.mu.Unlock()
	for {
		e.mu.Lock()
		busy := len(e.inbox) > 0 || e.pub.Running > 0 || e.pub.Waiting > 0
		idle := e.idle
		e.mu.Unlock()
		if !busy {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("engine: draining: %w", ctx.Err())
		}
	}
}

// Run is the scheduler loop; it owns the pool and tree until it returns (when ctx ends, aborting what
// is left).
func (e *Engine) Run(ctx context.Context) error {
	e.lastDecodeLog = time.Now()
	for {
		e.takeInbox()
		if ctx.Err() != nil {
			for _, r := range slices.Concat(e.running, e.waiting) {
				e.abort(r, fmt.Errorf("%w: engine stopped", ErrCancelled))
			}
			e.running, e.waiting = nil, nil
			e.publish()
			return ctx.Err()
		}
		if len(e.running) == 0 && len(e.waiting) == 0 {
			e.ratio = InitNewTokenRatio
			e.publish()
			select {
			case <-ctx.Done():
			case <-e.wake:
			}
			continue
		}
		e.step()
		e.publish()
	}
}

// takeInbox moves new requests to the waiting queue, applies cancellations and the disaggregation
// hand-offs, then runs invariant checks.
func (e *Engine) takeInbox() {
	e.mu.Lock()
	in, cancels, checks := e.inbox, e.cancels, e.checks
	e.inbox, e.cancels, e.checks = nil, nil, nil
	e.mu.Unlock()
	e.waiting = append(e.waiting, in...)
	e.st.Requests += uint64(len(in))
	for _, id := range cancels {
		e.cancelOne(id)
	}
	e.pdTakeInbox()
	// Checks last: a check answers for every call made before it, and a held
	// prefill's Release (taken by pdTakeInbox) may have been one of them.
	for _, ch := range checks {
		ch <- e.checkInvariant()
	}
}

func (e *Engine) cancelOne(id uint64) {
	for i, r := range e.waiting {
		if r.id == id {
			e.waiting = slices.Delete(e.waiting, i, i+1)
			e.abort(r, ErrCancelled)
			return
		}
	}
	for i, r := range e.running {
		if r.id == id {
			e.running = slices.Delete(e.running, i, i+1)
			e.abort(r, ErrCancelled)
			return
		}
	}
}

// abort releases what r holds (caching what it computed: that KV is good) and ends its stream.
func (e *Engine) abort(r *request, err error) {
	e.release(r, true)
	e.st.Aborted++
	r.stream.push(Output{Finish: FinishAbort, Err: err, PromptTokens: r.promptLen, CachedTokens: r.firstCached})
}

func (e *Engine) checkInvariant() error {
	if err := e.pool.CheckInvariant(); err != nil {
		return err
	}
	owned := 0
	seen := map[int32]uint64{}
	for _, r := range e.running {
		for _, pg := range r.pages[r.cachedLen/e.ps:] {
			if other, dup := seen[pg]; dup {
				return fmt.Errorf("engine: invariant: page %d owned by requests %d and %d", pg, other, r.id)
			}
			seen[pg] = r.id
		}
		owned += len(r.pages) - r.cachedLen/e.ps
		if e.tree != nil && r.node == nil {
			return fmt.Errorf("engine: invariant: running request %d holds no tree lock", r.id)
		}
	}
	for _, r := range e.waiting {
		if len(r.pages) != 0 || r.node != nil {
			return fmt.Errorf("engine: invariant: waiting request %d holds %d pages", r.id, len(r.pages))
		}
	}
	owned += e.pdOwnedPages()
	if u := e.pool.Usage(); u.InFlightPages != owned {
		return fmt.Errorf("engine: invariant: %d pages in flight but running requests own %d", u.InFlightPages, owned)
	}
	if e.tree != nil && len(e.running) == 0 && e.pd.idle() {
		if u := e.pool.Usage(); u.ProtectedPages != 0 {
			return fmt.Errorf("engine: invariant: no request runs but %d cached pages are locked", u.ProtectedPages)
		}
	}
	return nil
}

func (e *Engine) publish() {
	s := e.st
	s.Running, s.Waiting = len(e.running), len(e.waiting)
	u := e.pool.Usage()
	s.TotalPages = u.TotalPages
	s.ActivePages = u.TotalPages - u.FreePages - u.EvictablePages
	s.UsedTokens = s.ActivePages * e.ps
	if u.TotalPages > 0 {
		s.TokenUsage = float64(s.ActivePages) / float64(u.TotalPages)
	}
	s.NewTokenRatio = e.ratio
	if e.tree != nil {
		s.EvictedTokens = e.tree.Stats().EvictedTokens
	}
	e.mu.Lock()
	e.pub = s
	if s.Running == 0 && s.Waiting == 0 && len(e.inbox) == 0 {
		close(e.idle)
		e.idle = make(chan struct{})
	}
	e.mu.Unlock()
}

// availableTokens is what allocations can get without retracting: free plus evictable cached tokens.
func (e *Engine) availableTokens() int {
	n := e.pool.FreePages() * e.ps
	if e.tree != nil {
		n += e.tree.EvictableTokens()
	}
	return n
}

// reserve is what a running request is expected to still need: its uncomputed tokens plus its
// remaining output, clipped and scaled by the decaying new-token ratio.
func (e *Engine) reserve(r *request) int {
	rest := len(r.tokens) - r.kvLen - (len(r.pages)*e.ps - r.kvLen) // tokens not yet backed by pages
	return max(rest, 0) + int(float64(min(r.maxNew-r.out, ClipMaxNewTokens))*e.ratio)
}

// timed runs f and adds its duration to the tree time.
func (e *Engine) treeTimed(start time.Time) { e.st.TreeTime += time.Since(start) }
