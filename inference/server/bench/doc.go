// Package bench is `radix bench serve`: an OpenAI-compatible load generator with SGLang's
// generated-shared-prefix workload, multi-turn chats and random prompts. It reports throughput, TTFT and
// inter-token latency percentiles and the cache hit rate the server reported (cached / prompt tokens),
// plus, from a radix server's /metrics, the share of scheduler time spent in radix tree operations.
// Several URLs run the same workload one after another, so a cache-on and a cache-off server compare in
// one run.
package bench
