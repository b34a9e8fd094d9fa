// Package router picks the worker that serves a request: round-robin, random, or KV-aware.
//
// The KV-aware policy follows NVIDIA Dynamo's KV router. Every worker publishes the pages its radix
// cache stores and evicts (kvcache.Event, identified by chained page hashes that all workers compute the
// same way); the Indexer keeps, per page hash, the set of workers holding it. For a request the router
// hashes its full pages, counts for each worker how many leading pages it already holds (the overlap),
// and scores
//
//	cost = overlap_score_weight × prefill_blocks + decode_blocks
//
// where prefill_blocks are the pages that worker would still have to compute for this request plus the
// prefill it already has in flight, and decode_blocks the pages of all requests active on it. The lowest
// cost wins at temperature 0; above 0 the router samples from a softmax over the min-max normalised
// negative costs, which spreads load between near-equal workers.
//
// When workers publish no events, the approximate mode predicts their caches from the router's own
// decisions: a routed request's pages are assumed cached on the chosen worker for a time-to-live.
//
// A Router is safe for concurrent use: the frontend's request handlers call Route and the per-worker
// event streams call Apply from their own goroutines.
package router
