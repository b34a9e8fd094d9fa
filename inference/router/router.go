package router

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/radixops/radix/inference/kvcache"
)

// Mode is a routing policy, as `--router-mode` names it.
type Mode string

const (
	RoundRobin Mode = "round-robin"
	Random     Mode = "random"
	KV         Mode = "kv"
)

// ParseMode accepts the values of --router-mode.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(s)); m {
	case RoundRobin, Random, KV:
		return m, nil
	}
	return "", fmt.Errorf("router mode %q: want round-robin, random or kv", s)
}

// Config sets a Router up. Zero values take Dynamo's defaults.
type Config struct {
	Mode Mode
	// PageSize is the workers' KV page (block) size; all workers of a model share it.
	PageSize int
	// OverlapScoreWeight weighs prefill blocks against decode blocks (--kv-overlap-score-weight, 1.0).
	OverlapScoreWeight float64
	// Temperature 0 picks the lowest cost; above 0 samples a softmax over normalised costs.
	Temperature float64
	// Approximate predicts caches from routing decisions instead of workers' events (kv mode with
	// events off). Predictions live for ApproxTTL (default 120 s).
	Approximate bool
	ApproxTTL   time.Duration
	// Seed makes random choices repeatable (random mode, ties, softmax sampling).
	Seed uint64
	// Now is the clock; tests set it.
	Now func() time.Time
}

// ErrNoWorkers is returned when no worker is registered.
var ErrNoWorkers = errors.New("no workers available")

// Router routes requests to workers. Safe for concurrent use.
type Router struct {
	cfg Config

	mu      sync.Mutex
	rng     *rand.Rand
	workers []WorkerID // sorted, so ties and round-robin are stable
	load    map[WorkerID]*load
	ix      *indexer
	next    int // round-robin cursor
	routed  int
}

// load is the router's own account of what it has sent each worker and not yet seen finish.
type load struct {
	prefillBlocks int // blocks still to be computed by requests in prefill
	activeBlocks  int // blocks of every request active on the worker
	requests      int
}

// New returns a Router with no workers.
func New(cfg Config) *Router {
	if cfg.Mode == "" {
		cfg.Mode = RoundRobin
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 16
	}
	if cfg.OverlapScoreWeight == 0 {
		cfg.OverlapScoreWeight = 1
	}
	if cfg.ApproxTTL <= 0 {
		cfg.ApproxTTL = 120 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Router{
		cfg:  cfg,
		rng:  rand.New(rand.NewPCG(cfg.Seed, 0x726f75746572)),
		load: map[WorkerID]*load{},
		ix:   newIndexer(),
	}
}

// Config returns the router's settings after defaults.
func (r *Router) Config() Config { return r.cfg }

// AddWorker makes a worker routable; adding one twice is harmless.
func (r *Router) AddWorker(w WorkerID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.load[w]; ok {
		return
	}
	r.load[w] = &load{}
	r.workers = append(r.workers, w)
	slices.Sort(r.workers)
}

// RemoveWorker forgets a worker and everything it was known to cache.
func (r *Router) RemoveWorker(w WorkerID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.load[w]; !ok {
		return
	}
	delete(r.load, w)
	r.workers = slices.DeleteFunc(r.workers, func(x WorkerID) bool { return x == w })
	r.ix.clear(w)
}

// Workers lists the routable workers.
func (r *Router) Workers() []WorkerID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.workers)
}

// Apply folds a worker's KV cache event into the index. Events of unknown workers are dropped: a worker
// registers before it streams.
func (r *Router) Apply(w WorkerID, ev kvcache.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.load[w]; !ok {
		return
	}
	r.ix.apply(w, ev)
}

// IndexedPages is the number of (worker, page) pairs the router believes cached.
func (r *Router) IndexedPages() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ix.size()
}

// Request is what the router needs to know of a request.
type Request struct {
	Tokens    []int32
	Namespace kvcache.Namespace
}

// Score is one worker's standing in a routing decision.
type Score struct {
	Worker        WorkerID
	Overlap       int // leading blocks already cached there
	PrefillBlocks int // blocks it would compute for this request, plus prefill in flight
	DecodeBlocks  int // blocks active on it
	Cost          float64
	Probability   float64 // of being chosen (1 for the argmin at temperature 0)
}

// Decision is a routed request. Call PrefillDone when the first token arrives and Finish when the
// request ends (either way), so the router's load accounting stays right.
type Decision struct {
	Worker  WorkerID
	Mode    Mode
	Blocks  int // blocks of the request, partial last one included
	Overlap int // cached blocks on the chosen worker (as the router believed)
	Scores  []Score

	r           *Router
	prefillLeft int
	mu          sync.Mutex
	prefillDone bool
	finished    bool
}

// Route picks a worker for req and books the request's load on it.
func (r *Router) Route(req Request) (*Decision, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.workers) == 0 {
		return nil, ErrNoWorkers
	}
	ps := r.cfg.PageSize
	blocks := (len(req.Tokens) + ps - 1) / ps
	now := r.cfg.Now()
	d := &Decision{Mode: r.cfg.Mode, Blocks: blocks, r: r}

	var hashes []uint64
	var overlap map[WorkerID]int
	if r.cfg.Mode == KV {
		hashes = BlockHashes(req.Namespace, req.Tokens, ps)
		overlap = r.ix.overlap(hashes, now)
	}

	switch r.cfg.Mode {
	case RoundRobin:
		d.Worker = r.workers[r.next%len(r.workers)]
		r.next++
	case Random:
		d.Worker = r.workers[r.rng.IntN(len(r.workers))]
	case KV:
		d.Scores = make([]Score, len(r.workers))
		for i, w := range r.workers {
			l := r.load[w]
			o := overlap[w]
			s := Score{Worker: w, Overlap: o, PrefillBlocks: blocks - o + l.prefillBlocks, DecodeBlocks: l.activeBlocks}
			s.Cost = r.cfg.OverlapScoreWeight*float64(s.PrefillBlocks) + float64(s.DecodeBlocks)
			d.Scores[i] = s
		}
		d.Worker = d.Scores[r.pick(d.Scores)].Worker
	}
	d.Overlap = overlap[d.Worker]
	d.prefillLeft = blocks - d.Overlap
	l := r.load[d.Worker]
	l.prefillBlocks += d.prefillLeft
	l.activeBlocks += blocks
	l.requests++

	if r.cfg.Mode == KV && r.cfg.Approximate {
		exp := now.Add(r.cfg.ApproxTTL)
		for _, h := range hashes {
			r.ix.add(d.Worker, h, exp)
		}
		r.routed++
		if r.routed%256 == 0 {
			r.ix.sweep(now)
		}
	}
	return d, nil
}

// pick chooses among scores by cost: argmin at temperature 0 (ties broken at random), else a sample
// from softmax(−normalised cost / T). It fills in each score's probability.
func (r *Router) pick(scores []Score) int {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range scores {
		lo = min(lo, s.Cost)
		hi = max(hi, s.Cost)
	}
	if r.cfg.Temperature <= 0 {
		var best []int
		for i, s := range scores {
			if s.Cost == lo {
				best = append(best, i)
			}
		}
		for _, i := range best {
			scores[i].Probability = 1 / float64(len(best))
		}
		return best[r.rng.IntN(len(best))]
	}
	weights := make([]float64, len(scores))
	total := 0.0
	for i, s := range scores {
		z := 0.0
		if hi > lo {
			z = (s.Cost - lo) / (hi - lo)
		}
		weights[i] = math.Exp(-z / r.cfg.Temperature)
		total += weights[i]
	}
	x := r.rng.Float64() * total
	chosen := -1
	for i, w := range weights {
		scores[i].Probability = w / total
		if chosen < 0 && x < w {
			chosen = i
		}
		x -= w
	}
	if chosen < 0 { // rounding left x past the last weight
		chosen = len(scores) - 1
	}
	return chosen
}

// PrefillDone releases the request's pending prefill from the worker's load.
func (d *Decision) PrefillDone() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.prefillDone || d.finished {
		return
	}
	d.prefillDone = true
	d.r.release(d.Worker, d.prefillLeft, 0)
}

// Finish releases the request from the worker's load; calling it again does nothing.
func (d *Decision) Finish() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.finished {
		return
	}
	d.finished = true
	prefill := 0
	if !d.prefillDone {
		prefill = d.prefillLeft
	}
	d.r.release(d.Worker, prefill, d.Blocks)
}

func (r *Router) release(w WorkerID, prefill, active int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.load[w]
	if !ok {
		return // the worker left; its load went with it
	}
	l.prefillBlocks -= prefill
	l.activeBlocks -= active
	if active > 0 {
		l.requests--
	}
}

// Load reports the router's account of a worker: blocks in prefill, blocks active, requests active.
func (r *Router) Load(w WorkerID) (prefillBlocks, activeBlocks, requests int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.load[w]
	if !ok {
		return 0, 0, 0, false
	}
	return l.prefillBlocks, l.activeBlocks, l.requests, true
}

// String is the decision as one log line, with every worker's score in the kv mode.
func (d *Decision) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "routing decision: mode=%s worker=%s blocks=%d overlap=%d", d.Mode, d.Worker, d.Blocks, d.Overlap)
	for _, s := range d.Scores {
		fmt.Fprintf(&b, " [%s overlap=%d prefill_blocks=%d decode_blocks=%d cost=%.3f p=%.3f]",
			s.Worker, s.Overlap, s.PrefillBlocks, s.DecodeBlocks, s.Cost, s.Probability)
	}
	return b.String()
}
