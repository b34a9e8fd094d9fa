package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/radixops/radix/inference/engine"
	t "github.com/radixops/radix/inference/telemetry"
)

// metrics are the worker's Prometheus series under SGLang's and Dynamo's names, so existing dashboards
// work. Gauges and counters the scheduler keeps are read from its published Stats at scrape time;
// latency histograms are observed here, where the client's view of time is.
type metrics struct {
	reg       *prometheus.Registry
	ttft      prometheus.Histogram
	itl       prometheus.Histogram
	e2e       prometheus.Histogram
	requests  *prometheus.CounterVec // dynamo_component_requests_total{status}
	inflight  prometheus.Gauge
	stats     func() (engine.Stats, bool)
	modelName string
}

func newMetrics(modelName string, stats func() (engine.Stats, bool)) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), stats: stats, modelName: modelName}
	labels := prometheus.Labels{"model_name": modelName}
	buckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	m.ttft = prometheus.NewHistogram(prometheus.HistogramOpts{Name: t.SGLangTimeToFirstTokenSeconds,
		Help: "Time to first token.", ConstLabels: labels, Buckets: buckets})
	m.itl = prometheus.NewHistogram(prometheus.HistogramOpts{Name: t.SGLangInterTokenLatencySeconds,
		Help: "Time between streamed tokens.", ConstLabels: labels, Buckets: buckets})
	m.e2e = prometheus.NewHistogram(prometheus.HistogramOpts{Name: t.SGLangE2ERequestLatencySeconds,
		Help: "Request latency end to end.", ConstLabels: labels, Buckets: buckets})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: t.DynamoComponentRequestsTotal,
		Help: "Requests handled by this worker.", ConstLabels: labels}, []string{"endpoint", "status"})
	m.inflight = prometheus.NewGauge(prometheus.GaugeOpts{Name: t.DynamoComponentInflightRequests,
		Help: "Requests in flight.", ConstLabels: labels})
	m.reg.MustRegister(m.ttft, m.itl, m.e2e, m.requests, m.inflight)

	gauge := func(name, help string, f func(engine.Stats) float64) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 {
				s, ok := m.stats()
				if !ok {
					return 0
				}
				return f(s)
			}))
	}
	counter := func(name, help string, f func(engine.Stats) float64) {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 {
				s, ok := m.stats()
				if !ok {
					return 0
				}
				return f(s)
			}))
	}
	gauge(t.SGLangNumRunningReqs, "Running requests.", func(s engine.Stats) float64 { return float64(s.Running) })
	gauge(t.SGLangNumQueueReqs, "Waiting requests.", func(s engine.Stats) float64 { return float64(s.Waiting) })
	gauge(t.SGLangNumUsedTokens, "KV tokens in use (not free, not evictable).", func(s engine.Stats) float64 { return float64(s.UsedTokens) })
	gauge(t.SGLangTokenUsage, "(total - free - evictable cached) / total.", func(s engine.Stats) float64 { return s.TokenUsage })
	gauge(t.SGLangGenThroughput, "Decode tokens per second.", func(s engine.Stats) float64 { return s.GenThroughput })
	gauge(t.SGLangCacheHitRate, "Cached / prompt tokens since start.", func(s engine.Stats) float64 { return s.HitRate() })
	gauge(t.SGLangMaxTotalNumTokens, "KV pool size in tokens.", func(s engine.Stats) float64 { return float64(s.MaxTotalTokens) })
	counter(t.SGLangPromptTokensTotal, "Prompt tokens.", func(s engine.Stats) float64 { return float64(s.PromptTokens) })
	counter(t.SGLangGenerationTokensTotal, "Generated tokens.", func(s engine.Stats) float64 { return float64(s.GenerationTokens) })
	counter(t.SGLangCachedTokensTotal, "Prompt tokens served from the radix cache.", func(s engine.Stats) float64 { return float64(s.CachedTokens) })
	counter(t.SGLangNumRequestsTotal, "Requests accepted.", func(s engine.Stats) float64 { return float64(s.Requests) })
	counter(t.SGLangNumAbortedRequestsTotal, "Requests aborted.", func(s engine.Stats) float64 { return float64(s.Aborted) })
	counter(t.SGLangEvictedTokensTotal, "Cached tokens evicted.", func(s engine.Stats) float64 { return float64(s.EvictedTokens) })
	counter(t.SGLangNumRetractedRequestsTotal, "Requests retracted when decode ran out of KV pages.", func(s engine.Stats) float64 { return float64(s.Retracted) })
	gauge(t.DynamoComponentKVStatsActiveBlocks, "KV pages in use.", func(s engine.Stats) float64 { return float64(s.ActivePages) })
	gauge(t.DynamoComponentKVStatsTotalBlocks, "KV pages in the pool.", func(s engine.Stats) float64 { return float64(s.TotalPages) })
	gauge(t.DynamoComponentKVStatsGPUCacheUsagePct, "KV pool usage (0-1, as Dynamo reports it).", func(s engine.Stats) float64 { return s.TokenUsage })
	gauge(t.DynamoComponentKVStatsGPUPrefixCacheHitRt, "Prefix cache hit rate since start.", func(s engine.Stats) float64 { return s.HitRate() })
	// radix's own: where scheduler time goes, for the RadixAttention paper's "tree overhead" figure.
	counter(MetricStepSeconds, "Wall time of scheduler steps.", func(s engine.Stats) float64 { return s.StepTime.Seconds() })
	counter(MetricTreeSeconds, "Wall time of radix tree operations inside scheduler steps.", func(s engine.Stats) float64 { return s.TreeTime.Seconds() })
	counter(MetricPrefillTokens, "Prefill tokens actually computed.", func(s engine.Stats) float64 { return float64(s.PrefillTokens) })
	return m
}

// radix's own metric names.
const (
	MetricStepSeconds   = "radix:scheduler_step_seconds_total"
	MetricTreeSeconds   = "radix:radix_tree_seconds_total"
	MetricPrefillTokens = "radix:prefill_computed_tokens_total"
)
