package kube

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"

	"github.com/radixops/radix/config"
	"github.com/radixops/radix/inference/telemetry"
)

// logTailForStats is how many log lines the fallback parses per worker.
const logTailForStats = 5000

// parseMetrics parses a Prometheus text exposition. Metric names may contain colons (sglang:*).
func parseMetrics(raw []byte) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing metrics: %w", err)
	}
	return fams, nil
}

// sumGauge sums the values of a family's samples (gauge, counter or untyped) and counts them.
func sumGauge(fams map[string]*dto.MetricFamily, name string) (float64, int) {
	f := fams[name]
	if f == nil {
		return 0, 0
	}
	sum, n := 0.0, 0
	for _, m := range f.Metric {
		var v float64
		switch {
		case m.Gauge != nil:
			v = m.Gauge.GetValue()
		case m.Counter != nil:
			v = m.Counter.GetValue()
		case m.Untyped != nil:
			v = m.Untyped.GetValue()
		default:
			continue
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		sum += v
		n++
	}
	return sum, n
}

// histogramMean is sum/count of a histogram family (0 when empty or absent).
func histogramMean(fams map[string]*dto.MetricFamily, name string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	var sum float64
	var count uint64
	for _, m := range f.Metric {
		if h := m.Histogram; h != nil {
			sum += h.GetSampleSum()
			count += h.GetSampleCount()
		}
	}
	if count == 0 {
		// Untyped exposition (no TYPE line): _sum and _count arrive as their own families.
		s, _ := sumGauge(fams, name+"_sum")
		c, _ := sumGauge(fams, name+"_count")
		if c > 0 {
			return s / c
		}
		return 0
	}
	return sum / float64(count)
}

// Where a WorkerStats' figures come from.
const (
	SourceMetrics = "metrics"
	SourceLogs    = "logs"
)

// WorkerStatsFromMetrics reads a worker's figures from its /metrics, in the names of both operator
// generations: SGLang's own (with --enable-metrics; sglang:cached_tokens_total summed over its
// cache_source series), the current Dynamo worker's dynamo_component_{total_blocks,
// gpu_cache_usage_percent,kv_cache_hit_rate}, 0.5.0's dynamo_component_kvstats_*, and the request
// gauges. ok is false when none is there. A scrape without a real cache figure — only request counts,
// or KV stats that are all zero as 0.5.0 exposes them before the first batch — leaves CacheSource
// empty and says why in CacheNote: the cache figures must come from somewhere else (the log lines).
func WorkerStatsFromMetrics(fams map[string]*dto.MetricFamily) (ws WorkerStats, ok bool) {
	ws.Source = SourceMetrics
	if v, n := sumGauge(fams, telemetry.SGLangNumRunningReqs); n > 0 {
		ok, ws.Running = true, int(v)
	} else if v, n := sumGauge(fams, telemetry.DynamoComponentInflightRequests); n > 0 {
		ok, ws.Running = true, int(v)
	}
	if _, n := sumGauge(fams, telemetry.DynamoComponentRequestsTotal); n > 0 {
		ok = true
	}
	if v, n := sumGauge(fams, telemetry.SGLangNumQueueReqs); n > 0 {
		ok, ws.Queued = true, int(v)
	}
	if v, n := sumGauge(fams, telemetry.SGLangGenThroughput); n > 0 {
		ok, ws.GenThroughput = true, v
	}
	if m := histogramMean(fams, telemetry.SGLangTimeToFirstTokenSeconds); m > 0 {
		ok, ws.TTFT = true, time.Duration(m*float64(time.Second))
	}

	// Cache figures, the honest first: SGLang's cumulative counters.
	prompt, np := sumGauge(fams, telemetry.SGLangPromptTokensTotal)
	cached, nc := sumGauge(fams, telemetry.SGLangCachedTokensTotal)
	if np > 0 && nc > 0 {
		ok, ws.CacheSource, ws.CacheNote = true, SourceMetrics, "sglang:cached_tokens_total / sglang:prompt_tokens_total"
		ws.PromptTokens, ws.CachedTokens = prompt, cached
		if prompt > 0 {
			ws.CacheHitRate = cached / prompt
		}
		if v, n := sumGauge(fams, telemetry.SGLangTokenUsage); n > 0 {
			ws.TokenUsage = v / float64(n)
		} else if u, found := dynamoUsage(fams); found {
			ws.TokenUsage = u
		}
		return ws, ok
	}
	// Dynamo's KV gauges: real once the worker has published a pool size.
	names := [3]string{telemetry.DynamoComponentTotalBlocks, telemetry.DynamoComponentGPUCacheUsagePercent, telemetry.DynamoComponentKVCacheHitRate}
	if _, n := sumGauge(fams, names[0]); n == 0 {
		names = [3]string{telemetry.DynamoComponentKVStatsTotalBlocks, telemetry.DynamoComponentKVStatsGPUCacheUsagePct, telemetry.DynamoComponentKVStatsGPUPrefixCacheHitRt}
	}
	total, nt := sumGauge(fams, names[0])
	switch {
	case nt > 0 && total > 0:
		ok, ws.CacheSource = true, SourceMetrics
		ws.CacheNote = names[2] + " (the last prefill batch's)"
		ws.TokenUsage, _ = dynamoUsage(fams)
		if v, n := sumGauge(fams, names[2]); n > 0 {
			ws.CacheHitRate = fraction(v / float64(n))
		}
	case nt > 0:
		ok = true
		ws.CacheNote = "/metrics has no cache figure: " + names[0] + " is 0 (no KV stats published yet)"
	case ok:
		ws.CacheNote = "/metrics has no cache figure (only request counts: SGLang's --enable-metrics is off)"
	}
	return ws, ok
}

// dynamoUsage is the worker's KV pool usage from Dynamo's gauge of either generation (a fraction,
// whatever the "percent" in its name says; a value over 1 is read as a percentage).
func dynamoUsage(fams map[string]*dto.MetricFamily) (float64, bool) {
	for _, name := range []string{telemetry.DynamoComponentGPUCacheUsagePercent, telemetry.DynamoComponentKVStatsGPUCacheUsagePct} {
		if v, n := sumGauge(fams, name); n > 0 {
			return fraction(v / float64(n)), true
		}
	}
	return 0, false
}

func fraction(v float64) float64 {
	if v > 1 {
		v /= 100
	}
	return min(max(v, 0), 1)
}

// FrontendStatsFromMetrics reads a Dynamo frontend's /metrics: in-flight requests, mean TTFT, and
// the requests answered and failed (dynamo_frontend_requests_total: status "success" or not, or,
// without a status label, an error_type other than none).
func FrontendStatsFromMetrics(fams map[string]*dto.MetricFamily) (ws WorkerStats, ok bool) {
	ws.Source, ws.Role = SourceMetrics, config.RoleFrontend
	if v, n := sumGauge(fams, telemetry.DynamoFrontendInflightRequests); n > 0 {
		ok, ws.Running = true, int(v)
	}
	if m := histogramMean(fams, telemetry.DynamoFrontendTimeToFirstTokenSeconds); m > 0 {
		ok, ws.TTFT = true, time.Duration(m*float64(time.Second))
	}
	if f := fams[telemetry.DynamoFrontendRequestsTotal]; f != nil {
		for _, m := range f.Metric {
			v := sampleValue(m)
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				continue
			}
			ok = true
			ws.Requests += v
			status, errType, hasStatus := "", "", false
			for _, l := range m.Label {
				switch l.GetName() {
				case "status":
					status, hasStatus = l.GetValue(), true
				case "error_type":
					errType = l.GetValue()
				}
			}
			if (hasStatus && status != "success") || (!hasStatus && errType != "" && errType != "none") {
				ws.Errors += v
			}
		}
	}
	return ws, ok
}

func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return math.NaN()
}

// WorkerStatsFromLog folds SGLang scheduler lines (Prefill batch / Decode batch, in any of the
// shapes telemetry.ParseLine reads) into the figures: the source that works when --enable-metrics is
// off. ok is false when no batch line was among them.
func WorkerStatsFromLog(lines []string) (WorkerStats, bool) {
	var st telemetry.CacheStats
	for _, l := range lines {
		st.AddLine(l)
	}
	if st.PrefillBatches == 0 && st.DecodeBatches == 0 {
		return WorkerStats{Source: SourceLogs}, false
	}
	return WorkerStats{
		Source:        SourceLogs,
		CacheSource:   SourceLogs,
		CacheNote:     fmt.Sprintf("#cached-token of %d prefill batch lines", st.PrefillBatches),
		At:            st.Last,
		CacheHitRate:  st.HitRate(),
		TokenUsage:    st.TokenUsage,
		Running:       st.Running,
		Queued:        st.Queued,
		GenThroughput: st.GenThroughput,
		CachedTokens:  float64(st.CachedTokens),
		PromptTokens:  float64(st.CachedTokens + st.NewTokens),
	}, true
}

// workerStats decides a worker's figures from its scrape (fams, or scrapeErr) and, when that has no
// cache figure, its log lines (read only then): the cache figures from the lines, the load figures
// from the scrape where there was one.
func workerStats(fams map[string]*dto.MetricFamily, scrapeErr error, readLog func() ([]string, error), now time.Time) WorkerStats {
	var ws WorkerStats
	fromMetrics := false
	why := ""
	switch {
	case scrapeErr != nil:
		why = "no /metrics (" + scrapeErr.Error() + ")"
	default:
		ws, fromMetrics = WorkerStatsFromMetrics(fams)
		why = ws.CacheNote
		if !fromMetrics {
			why = "/metrics has none of the worker metrics"
		}
	}
	if !fromMetrics {
		ws = WorkerStats{Source: SourceLogs}
	}
	ws.At = now
	if ws.CacheSource != "" {
		return ws
	}
	lines, err := readLog()
	if err != nil {
		ws.CacheNote = why + "; " + err.Error()
		return ws
	}
	lw, ok := WorkerStatsFromLog(lines)
	if !ok {
		ws.CacheNote = why + "; no SGLang batch line in the log yet"
		return ws
	}
	if lw.At.IsZero() {
		lw.At = now
	}
	return withLogCache(ws, fromMetrics, lw, why)
}

// withLogCache completes figures whose /metrics had no cache figure with those of the log lines: the
// cache figures always, the load figures too when there was no scrape (fromMetrics false).
func withLogCache(ws WorkerStats, fromMetrics bool, lw WorkerStats, why string) WorkerStats {
	if !fromMetrics {
		lw.CacheNote = why + "; " + lw.CacheNote
		return lw
	}
	ws.CacheSource, ws.CacheNote = SourceLogs, why+"; "+lw.CacheNote
	ws.CacheHitRate, ws.TokenUsage, ws.CachedTokens, ws.PromptTokens = lw.CacheHitRate, lw.TokenUsage, lw.CachedTokens, lw.PromptTokens
	if ws.GenThroughput == 0 {
		ws.GenThroughput = lw.GenThroughput
	}
	return ws
}

// CacheStats returns per-worker prefix-cache and load figures of a deployment: each worker's
// /metrics (port 9090) and the frontend's (port 8000) scraped through the API server's pod proxy,
// falling back to the worker's recent log lines when metrics are off or unreachable.
func (c *KubeCluster) CacheStats(ctx context.Context, namespace, name string) ([]WorkerStats, error) {
	namespace = c.ns(namespace)
	obj, err := c.getDGD(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	pods, err := c.podObjects(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	d := DeploymentFromObject(obj, pods)
	roles := map[string]string{}
	for _, s := range d.Services {
		role := s.ComponentType
		if s.SubType != "" {
			role = s.SubType
		}
		roles[s.Name] = role
	}
	var out []WorkerStats
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		role := roles[p.Labels[config.LabelComponent]]
		if role == "" {
			role = p.Labels[config.LabelComponentType]
		}
		now := time.Now()
		if role == config.RoleFrontend {
			if fams, err := c.scrape(ctx, p, config.FrontendPort); err == nil {
				if ws, ok := FrontendStatsFromMetrics(fams); ok {
					ws.Pod, ws.At = p.Name, now
					out = append(out, ws)
				}
			}
			continue
		}
		fams, scrapeErr := c.scrape(ctx, p, config.SystemPort)
		ws := workerStats(fams, scrapeErr, func() ([]string, error) {
			return c.logLines(ctx, namespace, p.Name, logTailForStats)
		}, now)
		ws.Pod, ws.Role = p.Name, role
		out = append(out, ws)
	}
	return out, nil
}

func (c *KubeCluster) scrape(ctx context.Context, p *corev1.Pod, port int) (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	raw, err := c.pods.CoreV1().Pods(p.Namespace).ProxyGet("http", p.Name, fmt.Sprint(port), "metrics", nil).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("scraping %s:%d/metrics: %w", p.Name, port, err)
	}
	return parseMetrics(raw)
}

func (c *KubeCluster) logLines(ctx context.Context, namespace, pod string, tail int64) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	raw, err := c.pods.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{
		Container: config.MainContainerName, TailLines: &tail}).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the log of %s: %w", pod, err)
	}
	return strings.Split(strings.TrimRight(string(raw), "\n"), "\n"), nil
}
