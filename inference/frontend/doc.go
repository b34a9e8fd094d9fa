// Package frontend is `radix serve --role frontend` (Dynamo's frontend): the OpenAI API with chat
// templates and tokenisation, in front of workers that register with it (package discovery). Requests
// are routed by package router — round-robin, random, or KV-aware, fed by each worker's KV event stream
// (or approximate, from its own decisions, with --kv-events=false) — and every decision is logged with
// its scores. With prefill and decode workers registered instead of aggregated ones, each request is
// paired across them under a random 63-bit bootstrap room, and the decode worker pulls the prompt's KV
// from the prefill worker (package disagg).
//
// The frontend needs no copy of the model: it fetches tokenizer.json, tokenizer_config.json and
// generation_config.json from the first worker that registers (GET /internal/model-info), unless
// --model names a model directory. /health answers as the current Dynamo frontend does: 503
// {"status":"not_ready","message":"Initial model discovery in progress",…} until a worker is registered
// and the tokenizer loaded, then 200 {"status":"healthy",…} with the endpoints and instances; it logs
// "Chat completions is ready" and "Completions is ready" when it becomes ready.
//
// profile.go runs a whole profile (frontend and workers) as child processes: `radix serve --profile`.
package frontend
