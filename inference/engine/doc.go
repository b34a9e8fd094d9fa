// Package engine is radix's worker: the scheduler loop that owns one KV pool and its radix tree, batches
// prefill and decode continuously over a model, samples tokens and streams them back per request.
//
// Data path of a request (DESIGN.md, path 6): Submit (token ids + sampling params) → waiting queue →
// admission (token budget, LPM or FCFS order, in-batch prefix dedupe) → radix match locks the cached
// prefix → prefill of the uncached tail, in chunks when it is long, inserting into the tree after every
// chunk → decode steps in the running batch → Sampler → Output stream. On finish the sequence's
// page-aligned tokens are inserted into the tree, duplicates and the partial tail freed, the prefix
// unlocked; on cancel the same happens with what was computed so far; when decode runs out of pages the
// request with the fewest output tokens is retracted and re-queued.
//
// One goroutine (Run) owns the pool and the tree; Submit, cancellation, Stats and CheckInvariant talk to
// it through a mutex-guarded inbox and published snapshots. The engine knows token ids only:
// tokenising, detokenising and stop strings are the HTTP layer's (inference/server), so a frontend can
// route token ids to workers. Sampling (Sampler) and the StopMatcher live here for both to use.
package engine
