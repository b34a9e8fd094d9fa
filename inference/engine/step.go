package engine

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/radixops/radix/inference/telemetry"
)

// step runs one scheduler iteration: secure a page for every decoding request's next token (retracting
// when the pool is exhausted), admit waiting requests into the prefill budget, run one forward pass
// over the mixed batch, then sample, stream and finish.
func (e *Engine) step() {
	start := time.Now()
	e.batch, e.bReqs, e.bLens = e.batch[:0], e.bReqs[:0], e.bLens[:0]

	// 1. Running requests: decoders take one token, a chunked prefill continues.
	budget := e.cfg.ChunkedPrefillSize
	nDecode := 0
	for i := 0; i < len(e.running); i++ {
		r := e.running[i]
		n := len(r.tokens) - r.kvLen
		if r.prefilling { // a chunked prefill in progress
			n = e.chunkLen(n, budget)
			if n == 0 {
				continue
			}
			budget -= n
		}
		if !e.ensurePages(r, r.kvLen+n) {
			// ensurePages retracted requests (maybe r); restart the pass over what is left.
			e.batch, e.bReqs, e.bLens = e.batch[:0], e.bReqs[:0], e.bLens[:0]
			budget, nDecode, i = e.cfg.ChunkedPrefillSize, 0, -1
			continue
		}
		e.addToBatch(r, n)
		if !r.prefilling {
			nDecode++
		}
	}
	runningBefore := len(e.running)

	// 2. Admit waiting requests into what is left of the prefill budget.
	newSeq, cachedTok := e.admit(budget)
	if len(e.batch) == 0 {
		return
	}
	newTok := 0
	for i, r := range e.bReqs {
		if r.prefilling {
			newTok += e.bLens[i]
		}
	}

	// 3. Forward.
	for len(e.logits) < len(e.batch) {
		e.logits = append(e.logits, make([]float32, e.m.VocabSize()))
	}
	if err := e.m.Forward(e.batch, e.pool, e.logits[:len(e.batch)]); err != nil {
		err = fmt.Errorf("engine: forward step of %d sequences: %w", len(e.batch), err)
		e.log.Error(err.Error())
		for _, r := range e.bReqs {
			e.removeRunning(r)
			r.kvLen = min(r.kvLen, r.cachedLen) // what the step wrote is not trustworthy
			e.abort(r, err)
		}
		e.st.Steps++
		e.st.StepTime += time.Since(start)
		return
	}

	// 4. Sample, stream, finish, cache.
	prefillTokens := 0
	for i, r := range e.bReqs {
		n := e.bLens[i]
		wasPrefill := r.prefilling
		if wasPrefill {
			prefillTokens += n
		}
		r.kvLen += n
		if r.kvLen < len(r.tokens) { // chunk done, more to come
			e.cacheUnfinished(r)
			continue
		}
		r.prefilling = false
		e.sampleAndEmit(r, e.logits[i], wasPrefill)
	}
	e.st.PrefillTokens += uint64(prefillTokens)

	if prefillTokens > 0 {
		e.log.Info(telemetry.PrefillBatch{
			NewSeq: newSeq, NewToken: newTok, CachedToken: cachedTok, TokenUsage: e.tokenUsage(),
			Running: runningBefore, Queued: len(e.waiting),
		}.String())
	}
	if nDecode > 0 {
		e.ratio = max(MinNewTokenRatio, e.ratio-(InitNewTokenRatio-MinNewTokenRatio)/RatioDecaySteps)
		e.decodeSteps++
		e.decodeTokensSince += nDecode
		if e.decodeSteps%DecodeLogInterval == 0 {
			now := time.Now()
			el := now.Sub(e.lastDecodeLog).Seconds()
			if el > 0 {
				e.st.GenThroughput = float64(e.decodeTokensSince) / el
			}
			tokens := 0
			for _, r := range e.running {
				tokens += r.kvLen
			}
			e.log.Info(telemetry.DecodeBatch{Running: len(e.running), Tokens: tokens, TokenUsage: e.tokenUsage(),
				GenThroughput: e.st.GenThroughput, Queued: len(e.waiting)}.String())
			e.lastDecodeLog, e.decodeTokensSince = now, 0
		}
	}
	e.st.Steps++
	e.st.StepTime += time.Since(start)
}

func (e *Engine) tokenUsage() float64 {
	u := e.pool.Usage()
	if u.TotalPages == 0 {
		return 0
	}
	return float64(u.TotalPages-u.FreePages-u.EvictablePages) / float64(u.TotalPages)
}

// chunkLen is how many of n remaining prefill tokens fit the budget; a partial chunk ends on a page
// boundary so every chunk's pages can be cached whole.
func (e *Engine) chunkLen(n, budget int) int {
	if n <= budget {
		return n
	}
	return budget - budget%e.ps
}

func (e *Engine) addToBatch(r *request, n int) {
	e.batch = append(e.batch, Seq{Tokens: r.tokens[r.kvLen : r.kvLen+n], Pos: r.kvLen, Slots: r.slots[:r.kvLen+n]})
	e.bReqs = append(e.bReqs, r)
	e.bLens = append(e.bLens, n)
}

// allocPages extends r's page table to cover upTo positions. It evicts cached pages as needed and
// reports false, changing nothing, when the pool cannot supply them.
func (e *Engine) allocPages(r *request, upTo int) bool {
	need := (upTo+e.ps-1)/e.ps - len(r.pages)
	if need <= 0 {
		return true
	}
	var err error
	old := len(r.pages)
	if e.tree != nil {
		t := time.Now()
		r.pages, err = e.tree.AllocInto(r.pages, need)
		e.treeTimed(t)
	} else {
		r.pages, err = e.pool.AllocInto(r.pages, need)
	}
	if err != nil {
		r.pages = r.pages[:old]
		return false
	}
	for _, pg := range r.pages[old:] {
		for k := range e.ps {
			r.slots = append(r.slots, pg*int32(e.ps)+int32(k))
		}
	}
	return true
}

// ensurePages gets r the pages for upTo positions, retracting running requests (fewest output tokens
// first) until it can. It returns false when anything was retracted, so the caller rebuilds its batch.
// A request that cannot fit even alone is finished with "length".
func (e *Engine) ensurePages(r *request, upTo int) bool {
	if e.allocPages(r, upTo) {
		return true
	}
	from := e.ratio
	retracted := 0
	for !e.allocPages(r, upTo) {
		victim := e.retractVictim()
		if victim == nil || (victim == r && len(e.running) == 1) {
			// r alone exhausts the pool: it can go no further.
			e.removeRunning(r)
			e.finish(r, Output{Finish: FinishLength})
			break
		}
		e.removeRunning(victim)
		e.release(victim, true)
		e.waiting = append([]*request{victim}, e.waiting...) // first in line when memory frees up
		retracted++
		if victim == r {
			break
		}
	}
	if retracted > 0 {
		e.st.Retracted += uint64(retracted)
		e.ratio = e.retractRatio()
		e.log.Warn(telemetry.Retract{Retracted: retracted, RatioFrom: from, RatioTo: e.ratio}.String())
	}
	return false
}

// retractVictim is the running request with the fewest output tokens (ties: the latest admitted).
func (e *Engine) retractVictim() *request {
	var v *request
	for _, r := range e.running {
		if v == nil || r.out < v.out || (r.out == v.out && r.id > v.id) {
			v = r
		}
	}
	return v
}

// retractRatio raises the new-token ratio after a retraction to what the running requests actually
// need: their decoded tokens plus a few more steps each, over their total budget (SGLang's estimate).
func (e *Engine) retractRatio() float64 {
	var dec, total int
	for _, r := range e.running {
		dec += r.out + retractDecodeSteps
		total += r.maxNew
	}
	if total == 0 {
		return InitNewTokenRatio
	}
	return min(1, max(e.ratio, float64(dec)/float64(total)))
}

func (e *Engine) removeRunning(r *request) {
	if i := slices.Index(e.running, r); i >= 0 {
		e.running = slices.Delete(e.running, i, i+1)
	}
}

// admit moves waiting requests into the batch while the token budget, the prefill budget and the
// running limit allow. It returns the number admitted, their new tokens and their cached tokens.
func (e *Engine) admit(budget int) (newSeq, cachedTok int) {
	if len(e.waiting) == 0 || budget < e.ps || len(e.running) >= e.cfg.MaxRunningRequests {
		return
	}
	e.order()
	avail := e.availableTokens()
	for _, r := range e.running {
		avail -= e.reserve(r)
	}
	chunking := false
	for _, r := range e.running {
		if r.prefilling {
			chunking = true // SGLang runs one chunked request at a time
		}
	}
	var admitted []*request
	kept := e.waiting[:0]
	stop := false
	for _, r := range e.waiting {
		if stop || len(e.running) >= e.cfg.MaxRunningRequests || budget < e.ps {
			kept = append(kept, r)
			stop = true
			continue
		}
		m := r.matchLen
		if e.dedupe(r, m, admitted) {
			kept = append(kept, r)
			continue
		}
		extend := len(r.tokens) - m
		// Conservative: the matched prefix may be evictable now and becomes locked on admission.
		need := extend + int(float64(min(r.maxNew-r.out, ClipMaxNewTokens))*e.ratio)
		// With nothing running the reservation is moot: a prompt that fits the pool runs alone.
		alone := len(e.running) == 0 && extend <= avail
		if len(e.running) == 0 && !alone {
			// Even alone it cannot fit: a retracted request whose output grew past the pool. It can go
			// no further; waiting would spin forever.
			e.finish(r, Output{Finish: FinishLength})
			continue
		}
		if need > avail-m && !alone {
			kept = append(kept, r)
			stop = true // admission is in order; do not let later requests overtake
			continue
		}
		n := extend
		if n > budget {
			if chunking {
				kept = append(kept, r)
				stop = true
				continue
			}
			n = e.chunkLen(n, budget)
			chunking = true
		}
		if !e.start(r, n) {
			kept = append(kept, r)
			stop = true
			continue
		}
		budget -= n
		avail -= need
		newSeq++
		cachedTok += r.kvLen
		admitted = append(admitted, r)
	}
	e.waiting = kept
	return
}

// order sorts the waiting queue: LPM by cached prefix length (stable, so FCFS among equals), or FCFS.
// Each request's cached prefix length is computed once here without touching the tree's LRU or stats.
func (e *Engine) order() {
	lpm := e.tree != nil && e.cfg.Policy == PolicyLPM && len(e.waiting) <= LPMLimit
	for _, r := range e.waiting {
		r.matchLen = 0
		if e.tree != nil {
			t := time.Now()
			r.matchLen = e.tree.MatchLen(r.ns, r.tokens[:len(r.tokens)-1])
			e.treeTimed(t)
		}
	}
	if lpm {
		sort.SliceStable(e.waiting, func(i, j int) bool { return e.waiting[i].matchLen > e.waiting[j].matchLen })
	} else {
		sort.SliceStable(e.waiting, func(i, j int) bool { return e.waiting[i].id < e.waiting[j].id })
	}
}

// dedupe reports whether r should wait a step because a request admitted in this batch is computing a
// long stretch of the same uncached prefix: once that one is cached, r will hit it.
func (e *Engine) dedupe(r *request, matched int, admitted []*request) bool {
	if e.tree == nil {
		return false
	}
	for _, a := range admitted {
		k := matched
		lim := min(len(a.tokens), len(r.tokens)-1)
		for k < lim && a.tokens[k] == r.tokens[k] {
			k++
		}
		if k-matched >= dedupeThreshold {
			return true
		}
	}
	return false
}

// start matches and locks r's cached prefix, allocates pages for its first n uncached tokens and adds it
// to the batch. On failure it changes nothing and returns false.
func (e *Engine) start(r *request, n int) bool {
	if e.tree != nil {
		t := time.Now()
		var m int
		m, r.pages, r.node = e.tree.Match(r.ns, r.tokens[:len(r.tokens)-1], r.pages[:0])
		e.tree.Lock(r.node)
		e.treeTimed(t)
		r.kvLen, r.cachedLen = m, m
		r.slots = e.pool.Slots(r.slots[:0], r.pages, m)
		extend := len(r.tokens) - m
		if n > extend {
			n = extend
		}
	}
	if !e.allocPages(r, r.kvLen+n) {
		e.release(r, false)
		return false
	}
	if !r.admitted {
		r.admitted = true
		r.firstCached = r.kvLen
		e.st.PromptTokens += uint64(r.promptLen)
		e.st.CachedTokens += uint64(min(r.kvLen, r.promptLen))
	}
	r.prefilling = true
	e.running = append(e.running, r)
	e.addToBatch(r, n)
	return true
}

// cacheUnfinished inserts r's computed page-aligned prefix into the tree and moves its lock to the new
// end (SGLang's cache_unfinished_req), so requests behind it hit what it has computed so far.
func (e *Engine) cacheUnfinished(r *request) {
	if e.tree == nil {
		return
	}
	aligned := r.kvLen - r.kvLen%e.ps
	if aligned <= r.cachedLen {
		return
	}
	t := time.Now()
	defer e.treeTimed(t)
	cached, node, err := e.tree.Insert(r.ns, r.tokens[:r.kvLen], r.pages)
	if err != nil {
		e.log.Error(fmt.Sprintf("radix cache insert of request %d failed, continuing uncached: %v", r.id, err))
		return
	}
	if cached > r.cachedLen {
		// Another request cached [cachedLen, cached) meanwhile: drop our copies, use the tree's pages.
		e.pool.Free(r.pages[r.cachedLen/e.ps : cached/e.ps])
		// PagesOf, not Match: a second lookup would count as a cache query and hit, inflating the
		// hit rate whenever another request cached these tokens first.
		tp := e.tree.PagesOf(node, e.scratch[:0])
		e.scratch = tp[:0]
		copy(r.pages[:cached/e.ps], tp[:cached/e.ps])
		e.pool.Slots(r.slots[:0], r.pages, cached)
	}
	e.tree.Lock(node)
	if r.node != nil {
		e.tree.Unlock(r.node)
	}
	r.node, r.cachedLen = node, aligned
}

// release gives back everything r holds. With insert (and the cache on) its computed page-aligned tokens
// are cached first; duplicates of what is already cached and the partial tail are freed.
func (e *Engine) release(r *request, insert bool) {
	owned := r.pages[r.cachedLen/e.ps:]
	if e.tree != nil && r.node != nil {
		t := time.Now()
		done := false
		if insert && r.kvLen-r.kvLen%e.ps > r.cachedLen {
			cached, _, err := e.tree.Insert(r.ns, r.tokens[:r.kvLen], r.pages)
			if err == nil {
				aligned := r.kvLen - r.kvLen%e.ps
				if cached > r.cachedLen {
					e.pool.Free(r.pages[r.cachedLen/e.ps : cached/e.ps])
				}
				e.pool.Free(r.pages[aligned/e.ps:])
				done = true
			} else {
				e.log.Error(fmt.Sprintf("radix cache insert of request %d failed, freeing instead: %v", r.id, err))
			}
		}
		if !done {
			e.pool.Free(owned)
		}
		e.tree.Unlock(r.node)
		e.treeTimed(t)
	} else if len(owned) > 0 {
		e.pool.Free(owned)
	}
	r.pages, r.slots, r.node = r.pages[:0], r.slots[:0], nil
	r.kvLen, r.cachedLen = 0, 0
}

// sampleAndEmit samples r's next token from logits, streams it, and finishes r when a stop condition
// holds; after a prefill it caches the prompt so requests behind it hit.
func (e *Engine) sampleAndEmit(r *request, logits []float32, wasPrefill bool) {
	tok, lp, top, err := r.sampler.Sample(logits)
	if err != nil {
		e.removeRunning(r)
		e.abort(r, fmt.Errorf("engine: sampling request %d: %w", r.id, err))
		return
	}
	r.sampler.Observe(tok)
	r.tokens = append(r.tokens, tok)
	r.out++
	e.st.GenerationTokens++
	if wasPrefill && e.pdHold(r, tok) {
		return // a disaggregated prefill: its KV waits for the transfer (disagg.go)
	}
	o := Output{HasToken: true, Token: tok, Logprob: lp, TopLogprobs: top,
		PromptTokens: r.promptLen, CachedTokens: r.firstCached}
	switch {
	case e.isStop(r, tok):
		o.Finish, o.StopToken = FinishStop, true
	case r.out >= r.maxNew || len(r.tokens) >= e.cfg.ContextLen:
		o.Finish = FinishLength
	}
	if o.Finish != "" {
		e.removeRunning(r)
		e.finish(r, o)
		return
	}
	r.stream.push(o)
	if wasPrefill {
		e.cacheUnfinished(r)
	}
}

func (e *Engine) isStop(r *request, tok int32) bool {
	if slices.Contains(r.params.StopTokenIDs, tok) {
		return true
	}
	return !r.params.IgnoreEOS && slices.Contains(e.cfg.StopTokenIDs, tok)
}

// finish releases r (caching its sequence) and sends its final output.
func (e *Engine) finish(r *request, o Output) {
	e.release(r, true)
	e.st.Finished++
	o.PromptTokens, o.CachedTokens = r.promptLen, r.firstCached
	r.stream.push(o)
}
