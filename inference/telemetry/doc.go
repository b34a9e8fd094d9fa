// Package telemetry holds radix's SGLang-format observability vocabulary: the scheduler log lines of
// SGLang 0.5.0 and of current SGLang (comma form, [N] iterations, hybrid pools, disaggregation fields),
// Dynamo's registration and readiness lines, its log prefix (ANSI-coloured or not) and JSONL records,
// the Prometheus metric names of SGLang and of both Dynamo generations, the frontend's /health body,
// and an aggregator that turns parsed lines into cache statistics.
//
// The runtime writes these lines (engine, server) and the console parses them (kube, tui), so both sides
// share one definition and an operator's greps and dashboards carry over from a real SGLang deployment.
// Nothing here does I/O beyond formatting to an io.Writer; metrics registration lives with the server.
package telemetry
