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

// WorkerStatsFromMetrics reads a worker's figures from its /metrics: SGLang's own metrics when
// --enable-metrics is on, Dynamo's kvstats otherwise. ok is false when neither is there.
func WorkerStatsFromMetrics(fams map[string]*dto.MetricFamily) (ws WorkerStats, ok bool) {
	ws.Source = "metrics"
	prompt, np := sumGauge(fams, telemetry.SGLangPromptTokensTotal)
	cached, nc := sumGauge(fams, telemetry.SGLangCachedTokensTotal)
	if np > 0 || nc > 0 {
		ok = true
		ws.PromptTokens, ws.CachedTokens = prompt, cached
		if prompt > 0 {
			ws.CacheHitRate = cached / prompt
		}
	}
	if np == 0 {
		if v, n := sumGauge(fams, telemetry.SGLangCacheHitRate); n > 0 {
			ok, ws.CacheHitRate = true, v/float64(n)
		} else if v, n := sumGauge(fams, telemetry.DynamoComponentKVStatsGPUPrefixCacheHitRt); n > 0 {
			ok, ws.CacheHitRate = true, v/float64(n)
		}
	}
	if v, n := sumGauge(fams, telemetry.SGLangTokenUsage); n > 0 {
		ok, ws.TokenUsage = true, v/float64(n)
	} else if v, n := sumGauge(fams, telemetry.DynamoComponentKVStatsGPUCacheUsagePct); n > 0 {
		ok, ws.TokenUsage = true, v/float64(n)
		if ws.TokenUsage > 1 { // a percentage, not a fraction
			ws.TokenUsage /= 100
		}
	}
	if v, n := sumGauge(fams, telemetry.SGLangNumRunningReqs); n > 0 {
		ok, ws.Running = true, int(v)
	} else if v, n := sumGauge(fams, telemetry.DynamoComponentInflightRequests); n > 0 {
		ok, ws.Running = true, int(v)
	}
	if v, n := sumGauge(fams, telemetry.SGLangNumQueueReqs); n > 0 {
		ws.Queued = int(v)
	}
	if v, n := sumGauge(fams, telemetry.SGLangGenThroughput); n > 0 {
		ws.GenThroughput = v
	}
	if m := histogramMean(fams, telemetry.SGLangTimeToFirstTokenSeconds); m > 0 {
		ws.TTFT = time.Duration(m * float64(time.Second))
	}
	return ws, ok
}

// FrontendStatsFromMetrics reads a Dynamo frontend's /metrics: in-flight requests and mean TTFT.
func FrontendStatsFromMetrics(fams map[string]*dto.MetricFamily) (ws WorkerStats, ok bool) {
	ws.Source, ws.Role = "metrics", config.RoleFrontend
	if v, n := sumGauge(fams, telemetry.DynamoFrontendInflightRequests); n > 0 {
		ok, ws.Running = true, int(v)
	}
	if m := histogramMean(fams, telemetry.DynamoFrontendTimeToFirstTokenSeconds); m > 0 {
		ok, ws.TTFT = true, time.Duration(m*float64(time.Second))
	}
	return ws, ok
}

// WorkerStatsFromLog folds SGLang scheduler lines (Prefill batch / Decode batch) into the figures:
// the source that works when --enable-metrics is off.
func WorkerStatsFromLog(lines []string) (WorkerStats, bool) {
	var st telemetry.CacheStats
	n := 0
	for _, l := range lines {
		if st.AddLine(l) {
			n++
		}
	}
	if st.PrefillBatches == 0 && st.DecodeBatches == 0 {
		return WorkerStats{Source: "logs"}, false
	}
	return WorkerStats{
		Source:        "logs",
		At:            st.Last,
		CacheHitRate:  st.HitRate(),
		TokenUsage:    st.TokenUsage,
		Running:       st.Running,
		Queued:        st.Queued,
		GenThroughput: st.GenThroughput,
		CachedTokens:  float64(st.CachedTokens),
		PromptTokens:  float64(st.CachedTokens + st.NewTokens),
	}, n > 0
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
		if scrapeErr == nil {
			if ws, ok := WorkerStatsFromMetrics(fams); ok {
				ws.Pod, ws.Role, ws.At = p.Name, role, now
				out = append(out, ws)
				continue
			}
		}
		lines, err := c.logLines(ctx, namespace, p.Name, logTailForStats)
		if err != nil {
			continue
		}
		ws, _ := WorkerStatsFromLog(lines)
		ws.Pod, ws.Role = p.Name, role
		if ws.At.IsZero() {
			ws.At = now
		}
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
