// Package worker is `radix serve --role worker|prefill|decode`: the engine of one worker process behind
// an internal token-id API for the frontend — POST /internal/generate (NDJSON outputs), GET
// /internal/kv-events (the radix tree's Stored/Removed/Cleared page hashes for the KV-aware router), GET
// /internal/model-info (tokenizer files, so the frontend needs no model) — next to the OpenAI API,
// /health, /metrics and /debug/invariant of package server. A worker registers with its frontend and
// keeps a lease (package discovery). Disaggregated roles also listen for KV transfers (package disagg):
// a prefill worker computes prompts and sends their pages; a decode worker fetches them into pages it
// allocated and decodes.
package worker
