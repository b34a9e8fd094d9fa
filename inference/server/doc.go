// Package server is radix's OpenAI-compatible HTTP layer: POST /v1/chat/completions and /v1/completions
// (SSE streaming and not), GET /v1/models, /health, /live, /metrics (SGLang's and Dynamo's metric
// names) and a debug endpoint that runs the KV pool's invariant check.
//
// The HTTP layer owns everything text: chat template, tokenising, streaming detokenisation and stop
// strings. Below it sits a Backend that takes token ids and streams token ids back — the local engine
// for `radix serve` (EngineBackend), or, for a frontend, something that routes to workers. So the same
// handlers serve both roles.
//
// Requests end when the client goes away: the request context is the generation's context, and the
// engine frees what the request held. Shutdown stops accepting, drains in-flight generations, then
// closes.
package server
