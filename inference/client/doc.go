// Package client is radix's OpenAI-compatible chat client: POST /v1/chat/completions streamed as
// server-sent events (with stream_options.include_usage) or not, GET /v1/models, and the figures an
// operator checks a cache with — time to first token, output tokens per second and the prompt tokens the
// server reports as cached (usage.prompt_tokens_details.cached_tokens).
//
// It speaks to anything OpenAI-compatible: a Dynamo frontend behind a port-forward, SGLang directly, or
// radix's own runtime. `radix chat`, `radix cache-test`, the console's chat pane and `radix bench serve`
// all use it. The SSE and JSON parsing is fuzzed: a bad stream yields an error, never a panic.
package client
