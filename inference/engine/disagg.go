package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/radixops/radix/inference/disagg"
	"github.com/radixops/radix/inference/kvcache"
)

// Disaggregated prefill and decode (SGLang's PD disaggregation) need two hooks in the scheduler:
//
//   - a prefill worker runs a request's prompt as usual (its radix cache serves cached prefixes), samples
//     the first token, and then HOLDS the request's KV pages instead of decoding, until the transfer to the
//     decode worker is done (SubmitHeld, Held.Release);
//   - a decode worker allocates pages for a prompt it will not compute (SubmitPrefilled), lets the
//     transfer write them, and admits the request straight into decoding with the first token
//     (Prefilled.Complete), or frees the pages when the transfer fails (Prefilled.Fail).
//
// Both run their page bookkeeping on the scheduler goroutine through pdState, fed by the inbox.

// pdState is owned by the loop, except the inbox fields, which are guarded by Engine.mu.
type pdState struct {
	holds    map[uint64]*Held      // prefill requests that hold their KV once computed (inbox side)
	remotes  map[uint64]*Prefilled // decode requests whose prompt KV comes by transfer (inbox side)
	releases []uint64              // held requests to release (inbox side)
	results  []pdResult            // transfer outcomes (inbox side)

	held     map[uint64]*request // loop side: prefill done, KV held
	fetching map[uint64]*request // loop side: pages allocated, transfer in progress
}

type pdResult struct {
	id     uint64
	first  int32
	cached int
	err    error
}

func (p *pdState) idle() bool { return len(p.held) == 0 && len(p.fetching) == 0 }

// Held is a disaggregated prefill on the prefill worker.
type Held struct {
	e      *Engine
	stream *Stream
	id     uint64
	// Set by the loop before it streams the first token.
	pages  []int32
	first  int32
	cached int
}

// SubmitHeld queues a prefill-only request: the prompt is computed, the first token sampled, and the
// request's KV then stays in its pages until Release. Wait returns once that point is reached.
func (e *Engine) SubmitHeld(ctx context.Context, req Request) (*Held, error) {
	h := &Held{e: e}
	req.Params.MaxNewTokens = max(req.Params.MaxNewTokens, 1)
	s, err := e.submit(ctx, req, func(r *request) {
		if e.pd.holds == nil {
			e.pd.holds = map[uint64]*Held{}
		}
		e.pd.holds[r.id] = h
		h.id = r.id
	})
	if err != nil {
		return nil, err
	}
	h.stream = s
	return h, nil
}

// Wait blocks until the prompt is computed, returning the prompt's pages (one per page of the prompt,
// the partial last one included), the first token and how many prompt tokens the cache served. The pages
// stay valid, and unwritten by the scheduler, until Release.
func (h *Held) Wait(ctx context.Context) (pages []int32, first int32, cached int, err error) {
	o, err := h.stream.Recv(ctx)
	if err != nil {
		return nil, 0, 0, err
	}
	if o.Finish != "" || !o.HasToken {
		if o.Err == nil {
			o.Err = fmt.Errorf("prefill ended (%s) before its KV was held", o.Finish)
		}
		return nil, 0, 0, o.Err
	}
	return h.pages, h.first, h.cached, nil
}

// Release ends the request: its computed prompt goes into the radix cache and its pages are unlocked or
// freed. Call it exactly once, whether or not Wait succeeded (it cancels a request still computing).
func (h *Held) Release() {
	e := h.e
	e.mu.Lock()
	e.pd.releases = append(e.pd.releases, h.id)
	e.cancels = append(e.cancels, h.id)
	e.mu.Unlock()
	e.signal()
}

// pdHold is called by the loop after a request's prefill sampled tok; it reports whether the request is
// a held prefill, which it then takes out of the running batch.
func (e *Engine) pdHold(r *request, tok int32) bool {
	e.mu.Lock()
	h, ok := e.pd.holds[r.id]
	delete(e.pd.holds, r.id)
	e.mu.Unlock()
	if !ok {
		return false
	}
	e.removeRunning(r)
	if e.pd.held == nil {
		e.pd.held = map[uint64]*request{}
	}
	e.pd.held[r.id] = r
	h.pages = slices.Clone(r.pages[:e.pool.PagesFor(r.promptLen)])
	h.first, h.cached = tok, r.firstCached
	r.stream.push(Output{HasToken: true, Token: tok, PromptTokens: r.promptLen, CachedTokens: r.firstCached})
	return true
}

// Prefilled is a decode-side request whose prompt KV arrives by transfer.
type Prefilled struct {
	e      *Engine
	stream *Stream
	id     uint64
	ready  chan []int32 // the allocated pages, or nil when allocation failed (the stream says why)
}

// SubmitPrefilled queues a request whose prompt the scheduler will not compute: it allocates pages for
// the prompt (Pages returns them), and the request joins the decode batch on Complete. The returned
// Stream carries the first token (from Complete) and everything decoded after it.
func (e *Engine) SubmitPrefilled(ctx context.Context, req Request) (*Prefilled, error) {
	p := &Prefilled{e: e, ready: make(chan []int32, 1)}
	s, err := e.submit(ctx, req, func(r *request) {
		if e.pd.remotes == nil {
			e.pd.remotes = map[uint64]*Prefilled{}
		}
		e.pd.remotes[r.id] = p
		p.id = r.id
	})
	if err != nil {
		return nil, err
	}
	p.stream = s
	return p, nil
}

// Stream is the request's output stream.
func (p *Prefilled) Stream() *Stream { return p.stream }

// Pages waits for the pre-allocated pages of the prompt (one per page, the partial last one included).
// Until Complete or Fail the scheduler neither reads nor writes them.
func (p *Prefilled) Pages(ctx context.Context) ([]int32, error) {
	select {
	case pages := <-p.ready:
		if pages == nil {
			o, _ := p.stream.Recv(ctx)
			if o.Err != nil {
				return nil, o.Err
			}
			return nil, errors.New("engine: no pages for the transfer")
		}
		return pages, nil
	case <-ctx.Done():
		p.Fail(context.Cause(ctx))
		return nil, ctx.Err()
	}
}

// Complete admits the request into decoding: the prompt's KV is in its pages, first is the token prefill
// sampled and cached how many prompt tokens prefill found cached.
func (p *Prefilled) Complete(first int32, cached int) {
	p.result(pdResult{id: p.id, first: first, cached: cached})
}

// Fail aborts the request and frees its pages (the transfer failed).
func (p *Prefilled) Fail(err error) {
	if err == nil {
		err = errors.New("transfer failed")
	}
	p.result(pdResult{id: p.id, err: err})
}

func (p *Prefilled) result(res pdResult) {
	e := p.e
	e.mu.Lock()
	e.pd.results = append(e.pd.results, res)
	e.mu.Unlock()
	e.signal()
}

// pdTakeInbox runs on the loop after takeInbox: it allocates pages for new transfer requests, admits or
// aborts finished transfers, and releases held prefills.
func (e *Engine) pdTakeInbox() {
	e.mu.Lock()
	releases, results := e.pd.releases, e.pd.results
	e.pd.releases, e.pd.results = nil, nil
	var remotes []*Prefilled
	var rs []*request
	if len(e.pd.remotes) > 0 {
		kept := e.waiting[:0]
		for _, r := range e.waiting {
			if p, ok := e.pd.remotes[r.id]; ok {
				delete(e.pd.remotes, r.id)
				remotes, rs = append(remotes, p), append(rs, r)
				continue
			}
			kept = append(kept, r)
		}
		clear(e.waiting[len(kept):])
		e.waiting = kept
	}
	e.mu.Unlock()

	for i, r := range rs {
		e.pdAllocate(r, remotes[i])
	}
	for _, res := range results {
		r, ok := e.pd.fetching[res.id]
		if !ok {
			continue // aborted already (a second Fail, or the engine stopped)
		}
		delete(e.pd.fetching, res.id)
		if res.err != nil {
			e.abort(r, fmt.Errorf("engine: kv transfer: %w", res.err))
			continue
		}
		e.pdAdmit(r, res.first, res.cached)
	}
	for _, id := range releases {
		if r, ok := e.pd.held[id]; ok {
			delete(e.pd.held, id)
			e.release(r, true)
			e.st.Finished++
			r.stream.push(Output{Finish: FinishLength, PromptTokens: r.promptLen, CachedTokens: r.firstCached})
		}
		e.mu.Lock()
		delete(e.pd.holds, id) // cancelled before its prefill finished
		e.mu.Unlock()
	}
}

// pdAllocate gives a transfer request pages for its whole prompt, holding the tree's root lock as every
// running request holds a lock.
func (e *Engine) pdAllocate(r *request, p *Prefilled) {
	if e.tree != nil {
		_, r.pages, r.node = e.tree.Match(r.ns, nil, r.pages[:0])
		e.tree.Lock(r.node)
	}
	if !e.allocPages(r, r.promptLen) {
		p.ready <- nil
		e.abort(r, fmt.Errorf("%w: no free KV pages for a transferred prompt of %d tokens", ErrOverloaded, r.promptLen))
		return
	}
	r.admitted = true
	e.st.PromptTokens += uint64(r.promptLen)
	if e.pd.fetching == nil {
		e.pd.fetching = map[uint64]*request{}
	}
	e.pd.fetching[r.id] = r
	p.ready <- slices.Clone(r.pages)
}

// pdAdmit puts a transferred request into the decode batch with the first token prefill sampled.
func (e *Engine) pdAdmit(r *request, first int32, cached int) {
	r.kvLen = r.promptLen
	r.firstCached = min(cached, r.promptLen)
	e.st.CachedTokens += uint64(r.firstCached)
	if r.params.Temperature != 0 {
		// Prefill drew once from the same seeded stream for the first token: skip that draw, so a seeded
		// request decodes here exactly what it would have decoded aggregated.
		r.sampler.rng.Float64()
	}
	r.sampler.Observe(first)
	r.tokens = append(r.tokens, first)
	r.out++
	e.st.GenerationTokens++
	o := Output{HasToken: true, Token: first, PromptTokens: r.promptLen, CachedTokens: r.firstCached}
	switch {
	case e.isStop(r, first):
		o.Finish, o.StopToken = FinishStop, true
	case r.out >= r.maxNew || len(r.tokens) >= e.cfg.ContextLen:
		o.Finish = FinishLength
	}
	if o.Finish != "" {
		e.finish(r, o)
		return
	}
	r.stream.push(o)
	r.prefilling = false
	e.running = append(e.running, r)
}

// pdOwnedPages counts the pages held by disaggregated requests outside the running batch.
func (e *Engine) pdOwnedPages() int {
	n := 0
	for _, m := range []map[uint64]*request{e.pd.held, e.pd.fetching} {
		for _, r := range m {
			n += len(r.pages) - r.cachedLen/e.ps
		}
	}
	return n
}

// KVLayout describes the pool's pages for a transfer.
func KVLayout(pool *kvcache.Pool) disagg.Layout {
	c := pool.Config()
	es := 4
	if c.DType != kvcache.F32 {
		es = 2
	}
	return disagg.Layout{Layers: c.Layers, KVHeads: c.KVHeads, HeadDim: c.HeadDim, PageSize: c.PageSize,
		ElemSize: es, DType: uint8(c.DType)}
}

// ReadPages appends the K and V of pages to dst as disagg.KVPages lays them out: per page, per layer,
// K then V, little-endian. The pages must not be written meanwhile (a held prefill's are not).
func ReadPages(pool *kvcache.Pool, pages []int32, dst []byte) []byte {
	c := pool.Config()
	per := c.PageSize * c.KVHeads * c.HeadDim
	for _, pg := range pages {
		lo := int(pg) * per
		for l := range c.Layers {
			if c.DType == kvcache.F32 {
				k, v := pool.F32(l)
				for _, a := range [][]float32{k[lo : lo+per], v[lo : lo+per]} {
					for _, x := range a {
						dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(x))
					}
				}
			} else {
				k, v := pool.U16(l)
				for _, a := range [][]uint16{k[lo : lo+per], v[lo : lo+per]} {
					for _, x := range a {
						dst = binary.LittleEndian.AppendUint16(dst, x)
					}
				}
			}
		}
	}
	return dst
}

// WritePages writes data (ReadPages' layout) into pages of pool; the pools must share a layout.
func WritePages(pool *kvcache.Pool, pages []int32, data []byte) error {
	c := pool.Config()
	per := c.PageSize * c.KVHeads * c.HeadDim
	if want := len(pages) * KVLayout(pool).PageBytes(); len(data) != want {
		return fmt.Errorf("writing %d pages: %d bytes, want %d", len(pages), len(data), want)
	}
	total := pool.TotalPages()
	for _, pg := range pages {
		if pg < 0 || int(pg) >= total {
			return fmt.Errorf("writing page %d: outside the pool's %d pages", pg, total)
		}
		lo := int(pg) * per
		for l := range c.Layers {
			if c.DType == kvcache.F32 {
				k, v := pool.F32(l)
				for _, a := range [][]float32{k[lo : lo+per], v[lo : lo+per]} {
					for i := range a {
						a[i] = math.Float32frombits(binary.LittleEndian.Uint32(data))
						data = data[4:]
					}
				}
			} else {
				k, v := pool.U16(l)
				for _, a := range [][]uint16{k[lo : lo+per], v[lo : lo+per]} {
					for i := range a {
						a[i] = binary.LittleEndian.Uint16(data)
						data = data[2:]
					}
				}
			}
		}
	}
	return nil
}
