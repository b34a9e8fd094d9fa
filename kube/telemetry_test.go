package kube

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/radixops/radix/config"
)

func createGPUNode(t *testing.T, c *KubeCluster, name, pool string, gpus int64) {
	t.Helper()
	ctx := context.Background()
	n, err := c.Clientset().CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		config.NodePoolLabel: pool, LabelInstanceType: "g5.2xlarge", LabelGPUProduct: "NVIDIA-A10G"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q := *resourceQuantity(gpus)
	n.Status.Capacity = corev1.ResourceList{config.GPUResourceName: q}
	n.Status.Allocatable = corev1.ResourceList{config.GPUResourceName: q}
	if _, err := c.Clientset().CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// The node inventory comes from the real API server; metrics.k8s.io (metrics-server) and the DCGM
// exporter's /metrics (behind the pod proxy) cannot run here and are served by httptest servers in
// their real wire formats: a NodeMetricsList as JSON, and Prometheus text.
func TestGPUInventory(t *testing.T) {
	e := sharedEnv(t)
	const ns = "gpus"
	createNamespace(t, adminClientset(t, e), ns)
	c := adminCluster(t, e, ns)
	ctx := context.Background()
	createGPUNode(t, c, "gpu-node-a", "gpu-test-pool", 4)
	if _, err := c.Clientset().CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "cpu-node"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, dgd := range []string{"alpha", "beta"} {
		p := testPod(ns, dgd, "SGLangWorker", "worker", dgd+"-w", int64(i+1))
		p.Spec.NodeName = "gpu-node-a"
		if _, err := c.Clientset().CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := c.GPUs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Nodes) != 1 {
		t.Fatalf("GPU nodes: %+v", rep.Nodes)
	}
	n := rep.Nodes[0]
	if n.Name != "gpu-node-a" || n.Pool != "gpu-test-pool" || n.InstanceType != "g5.2xlarge" || n.Product != "NVIDIA-A10G" ||
		n.Capacity != 4 || n.Allocatable != 4 || n.Requested != 3 || strings.Join(n.Holders, ",") != "gpus/alpha,gpus/beta" ||
		n.CPUMilli != -1 || n.Utilization != -1 {
		t.Fatalf("node: %+v", n)
	}
	if !strings.Contains(rep.Note, "metrics-server not installed") || !strings.Contains(rep.Note, "no DCGM exporter") {
		t.Fatalf("note: %q", rep.Note)
	}

	// metrics-server present (served here) and a DCGM exporter pod on the node.
	ms := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/apis/metrics.k8s.io/v1beta1/nodes" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
			"items": []any{map[string]any{"metadata": map[string]any{"name": "gpu-node-a"}, "timestamp": time.Now().UTC().Format(time.RFC3339),
				"window": "10s", "usage": map[string]any{"cpu": "1500m", "memory": "8Gi"}}}})
	}))
	defer ms.Close()
	if err := c.SetMetricsClient(&rest.Config{Host: ms.URL}); err != nil {
		t.Fatal(err)
	}
	ps := newPodServer(t)
	if err := c.SetPodClient(ps.config()); err != nil {
		t.Fatal(err)
	}
	exp := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "dcgm-x", Namespace: ns, Labels: map[string]string{"app": "nvidia-dcgm-exporter"}},
		Spec: corev1.PodSpec{NodeName: "gpu-node-a", Containers: []corev1.Container{{Name: "exporter", Image: "dcgm-exporter"}}}}
	exp, err = c.Clientset().CoreV1().Pods(ns).Create(ctx, exp, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	exp.Status.Phase = corev1.PodRunning
	if _, err := c.Clientset().CoreV1().Pods(ns).UpdateStatus(ctx, exp, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ps.mu.Lock()
	ps.proxy["dcgm-x:9400/metrics"] = `# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).
# TYPE DCGM_FI_DEV_GPU_UTIL gauge
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-1",device="nvidia0",modelName="NVIDIA A10G",Hostname="gpu-node-a"} 80
DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-2",device="nvidia1",modelName="NVIDIA A10G",Hostname="gpu-node-a"} 40
# HELP DCGM_FI_DEV_FB_USED Framebuffer memory used (in MiB).
# TYPE DCGM_FI_DEV_FB_USED gauge
DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-1"} 20000
DCGM_FI_DEV_FB_USED{gpu="1",UUID="GPU-2"} 1000
# HELP DCGM_FI_DEV_FB_FREE Framebuffer memory free (in MiB).
# TYPE DCGM_FI_DEV_FB_FREE gauge
DCGM_FI_DEV_FB_FREE{gpu="0",UUID="GPU-1"} 2564
DCGM_FI_DEV_FB_FREE{gpu="1",UUID="GPU-2"} 21564
`
	ps.mu.Unlock()
	rep, err = c.GPUs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n = rep.Nodes[0]
	if n.CPUMilli != 1500 || n.MemoryBytes != 8<<30 || n.Utilization != 60 || n.MemUsedMiB != 21000 || n.MemTotalMiB != 45128 || rep.Note != "" {
		t.Fatalf("with metrics: %+v note %q", n, rep.Note)
	}
}

// Worker /metrics through the pod proxy cannot be reached without a kubelet: podServer serves the
// proxy path with Prometheus text for one worker and fails for the other, whose stats then come from
// its SGLang log lines.
func TestCacheStatsFromMetricsAndLogs(t *testing.T) {
	e := sharedEnv(t)
	const ns = "cache"
	createNamespace(t, adminClientset(t, e), ns)
	c := adminCluster(t, e, ns)
	ctx := context.Background()
	obj := testDGD(ns, "kv")
	if _, err := c.Dynamic().Resource(DGDResource).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	runningPod(t, c, ns, "kv", "SGLangWorker", "kv-w-0")
	runningPod(t, c, ns, "kv", "SGLangWorker", "kv-w-1")
	fe := testPod(ns, "kv", "Frontend", "frontend", "kv-fe", 0)
	fe, err := c.Clientset().CoreV1().Pods(ns).Create(ctx, fe, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fe.Status.Phase = corev1.PodRunning
	if _, err := c.Clientset().CoreV1().Pods(ns).UpdateStatus(ctx, fe, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ps := newPodServer(t)
	if err := c.SetPodClient(ps.config()); err != nil {
		t.Fatal(err)
	}
	ps.mu.Lock()
	ps.proxy["kv-w-0:9090/metrics"] = `# HELP sglang:prompt_tokens_total Number of prefill tokens processed.
# TYPE sglang:prompt_tokens_total counter
sglang:prompt_tokens_total{model_name="Qwen/Qwen3-0.6B"} 1000
# TYPE sglang:cached_tokens_total counter
sglang:cached_tokens_total{model_name="Qwen/Qwen3-0.6B"} 750
# TYPE sglang:token_usage gauge
sglang:token_usage{model_name="Qwen/Qwen3-0.6B"} 0.25
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{model_name="Qwen/Qwen3-0.6B"} 3
# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{model_name="Qwen/Qwen3-0.6B"} 1
# TYPE sglang:gen_throughput gauge
sglang:gen_throughput{model_name="Qwen/Qwen3-0.6B"} 42.5
# TYPE sglang:time_to_first_token_seconds histogram
sglang:time_to_first_token_seconds_bucket{le="0.1"} 1
sglang:time_to_first_token_seconds_bucket{le="+Inf"} 2
sglang:time_to_first_token_seconds_sum 0.5
sglang:time_to_first_token_seconds_count 2
`
	ps.status["kv-w-1:9090/metrics"] = http.StatusBadGateway
	ps.proxy["kv-fe:8000/metrics"] = `# TYPE dynamo_frontend_inflight_requests gauge
dynamo_frontend_inflight_requests{model="qwen"} 2
# TYPE dynamo_frontend_time_to_first_token_seconds histogram
dynamo_frontend_time_to_first_token_seconds_bucket{model="qwen",le="+Inf"} 4
dynamo_frontend_time_to_first_token_seconds_sum{model="qwen"} 1
dynamo_frontend_time_to_first_token_seconds_count{model="qwen"} 4
`
	ps.mu.Unlock()
	ps.setLog("kv-w-1",
		"2025-05-13T13:47:38.880000000Z [2025-05-13 13:47:38 TP0] Prefill batch. #new-seq: 1, #new-token: 300, #cached-token: 100, token usage: 0.10, #running-req: 0, #queue-req: 0, ",
		"2025-05-13T13:47:39.880000000Z [2025-05-13 13:47:39 TP0] Prefill batch. #new-seq: 1, #new-token: 100, #cached-token: 300, token usage: 0.12, #running-req: 1, #queue-req: 2, ",
		"2025-05-13T13:47:40.880000000Z [2025-05-13 13:47:40 TP0] Decode batch. #running-req: 2, #token: 900, token usage: 0.15, cuda graph: True, gen throughput (token/s): 33.50, #queue-req: 0, ")
	stats, err := c.CacheStats(ctx, ns, "kv")
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]WorkerStats{}
	for _, s := range stats {
		by[s.Pod] = s
	}
	m, l, f := by["kv-w-0"], by["kv-w-1"], by["kv-fe"]
	if m.Source != "metrics" || m.CacheSource != "metrics" || m.Role != "worker" || m.CacheHitRate != 0.75 || m.TokenUsage != 0.25 || m.Running != 3 || m.Queued != 1 ||
		m.GenThroughput != 42.5 || m.TTFT != 250*time.Millisecond || m.CachedTokens != 750 || m.PromptTokens != 1000 {
		t.Errorf("metrics worker: %+v", m)
	}
	if l.Source != "logs" || l.CacheSource != "logs" || !strings.Contains(l.CacheNote, "no /metrics") || l.CacheHitRate != 0.5 || l.CachedTokens != 400 || l.PromptTokens != 800 || l.TokenUsage != 0.15 ||
		l.Running != 2 || l.GenThroughput != 33.5 {
		t.Errorf("log worker: %+v", l)
	}
	if f.Role != "frontend" || f.Running != 2 || f.TTFT != 250*time.Millisecond {
		t.Errorf("frontend: %+v", f)
	}
	if len(stats) != 3 {
		t.Errorf("stats: %+v", stats)
	}
	if _, err := c.CacheStats(ctx, ns, "missing"); err == nil {
		t.Error("stats of a missing deployment")
	}
}

// Worker and frontend expositions of both operator generations, hand-written in the Prometheus text
// format with the metric names and labels the workers write, and the figures the cache panel must show
// for each. Where /metrics has no cache figure the figures come from the worker's SGLang lines.
func TestMetricsExpositionsOfBothGenerations(t *testing.T) {
	now := time.Date(2025, 5, 13, 13, 50, 0, 0, time.UTC)
	logLines := []string{
		"[2025-05-13 13:47:38 TP0] Prefill batch, #new-seq: 1, #new-token: 300, #cached-token: 100, token usage: 0.10, #running-req: 0, #queue-req: 0, ",
		"\x1b[2m2025-05-13T13:47:39.500000Z\x1b[0m \x1b[32m INFO\x1b[0m \x1b[1mscheduler_metrics_mixin.log_prefill_stats\x1b[0m\x1b[2m:\x1b[0m Prefill batch [7], #new-seq: 1, #new-token: 100, #cached-token: 300, token usage: 0.12, #running-req: 1, #queue-req: 2, ",
		`{"time":"2025-05-13T13:47:40.880000Z","level":"INFO","file":"scheduler_metrics_mixin.py","line":300,"target":"scheduler_metrics_mixin.log_decode_stats","message":"Decode batch, #running-req: 2, #token: 900, token usage: 0.15, cuda graph: True, gen throughput (token/s): 33.50, #queue-req: 0, "}`,
	}
	lastLine := time.Date(2025, 5, 13, 13, 47, 40, 880e6, time.UTC)
	const dynLabels = `dynamo_namespace="llm-sglang-agg",dynamo_component="backend",dynamo_endpoint="generate",model="Qwen/Qwen3-0.6B"`
	const sgLabels = `model_name="Qwen/Qwen3-0.6B",engine_type="unified",tp_rank="0",pp_rank="0"`
	cases := []struct {
		name  string
		expo  string
		want  WorkerStats // Pod and Role left out
		logs  bool        // the log lines were read
		notes []string    // what CacheNote must mention
	}{
		{"0.5.0 start-up zeros fall back to the log lines", `# HELP dynamo_component_requests_total Total number of requests processed by component endpoint
# TYPE dynamo_component_requests_total counter
dynamo_component_requests_total{` + dynLabels + `} 0
# TYPE dynamo_component_inflight_requests gauge
dynamo_component_inflight_requests{` + dynLabels + `} 0
# TYPE dynamo_component_kvstats_active_blocks gauge
dynamo_component_kvstats_active_blocks{` + dynLabels + `} 0
# TYPE dynamo_component_kvstats_total_blocks gauge
dynamo_component_kvstats_total_blocks{` + dynLabels + `} 0
# TYPE dynamo_component_kvstats_gpu_cache_usage_percent gauge
dynamo_component_kvstats_gpu_cache_usage_percent{` + dynLabels + `} 0
# TYPE dynamo_component_kvstats_gpu_prefix_cache_hit_rate gauge
dynamo_component_kvstats_gpu_prefix_cache_hit_rate{` + dynLabels + `} 0
`, WorkerStats{Source: SourceMetrics, CacheSource: SourceLogs, At: now, CacheHitRate: 0.5, TokenUsage: 0.15, CachedTokens: 400, PromptTokens: 800, GenThroughput: 33.5},
			true, []string{"kvstats_total_blocks is 0", "2 prefill batch lines"}},
		{"0.5.0 with published KV stats", `# TYPE dynamo_component_inflight_requests gauge
dynamo_component_inflight_requests{` + dynLabels + `} 2
# TYPE dynamo_component_kvstats_total_blocks gauge
dynamo_component_kvstats_total_blocks{` + dynLabels + `} 41612
# TYPE dynamo_component_kvstats_active_blocks gauge
dynamo_component_kvstats_active_blocks{` + dynLabels + `} 1040
# TYPE dynamo_component_kvstats_gpu_cache_usage_percent gauge
dynamo_component_kvstats_gpu_cache_usage_percent{` + dynLabels + `} 0.025
# TYPE dynamo_component_kvstats_gpu_prefix_cache_hit_rate gauge
dynamo_component_kvstats_gpu_prefix_cache_hit_rate{` + dynLabels + `} 0.8
`, WorkerStats{Source: SourceMetrics, CacheSource: SourceMetrics, At: now, Running: 2, TokenUsage: 0.025, CacheHitRate: 0.8},
			false, []string{"kvstats_gpu_prefix_cache_hit_rate"}},
		{"1.5 without --enable-metrics: request counts only", `# HELP dynamo_component_requests_total Total number of requests processed by component endpoint
# TYPE dynamo_component_requests_total counter
dynamo_component_requests_total{` + dynLabels + `} 12
# TYPE dynamo_component_inflight_requests gauge
dynamo_component_inflight_requests{` + dynLabels + `} 1
# TYPE dynamo_component_model_load_time_seconds gauge
dynamo_component_model_load_time_seconds{` + dynLabels + `} 41.7
`, WorkerStats{Source: SourceMetrics, CacheSource: SourceLogs, At: now, Running: 1, CacheHitRate: 0.5, TokenUsage: 0.15, CachedTokens: 400, PromptTokens: 800, GenThroughput: 33.5},
			true, []string{"--enable-metrics is off"}},
		{"1.5 without --enable-metrics, KV gauges published", `# TYPE dynamo_component_inflight_requests gauge
dynamo_component_inflight_requests{` + dynLabels + `} 3
# TYPE dynamo_component_total_blocks gauge
dynamo_component_total_blocks{` + dynLabels + `} 4096
# TYPE dynamo_component_gpu_cache_usage_percent gauge
dynamo_component_gpu_cache_usage_percent{` + dynLabels + `} 0.3
# TYPE dynamo_component_kv_cache_hit_rate gauge
dynamo_component_kv_cache_hit_rate{` + dynLabels + `} 0.6
`, WorkerStats{Source: SourceMetrics, CacheSource: SourceMetrics, At: now, Running: 3, TokenUsage: 0.3, CacheHitRate: 0.6},
			false, []string{"dynamo_component_kv_cache_hit_rate"}},
		{"1.5 with --enable-metrics: SGLang's counters, summed over cache_source", `# HELP sglang:prompt_tokens_total Number of prefill tokens processed.
# TYPE sglang:prompt_tokens_total counter
sglang:prompt_tokens_total{` + sgLabels + `} 1000
# HELP sglang:cached_tokens_total Number of cached prompt tokens.
# TYPE sglang:cached_tokens_total counter
sglang:cached_tokens_total{` + sgLabels + `,cache_source="device"} 600
sglang:cached_tokens_total{` + sgLabels + `,cache_source="host"} 150
sglang:cached_tokens_total{` + sgLabels + `,cache_source="storage"} 0
# TYPE sglang:token_usage gauge
sglang:token_usage{` + sgLabels + `} 0.25
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{` + sgLabels + `} 3
# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{` + sgLabels + `} 1
# TYPE sglang:gen_throughput gauge
sglang:gen_throughput{` + sgLabels + `} 42.5
# TYPE sglang:cache_hit_rate gauge
sglang:cache_hit_rate{` + sgLabels + `} 0
# TYPE sglang:time_to_first_token_seconds histogram
sglang:time_to_first_token_seconds_bucket{` + sgLabels + `,le="0.1"} 1
sglang:time_to_first_token_seconds_bucket{` + sgLabels + `,le="+Inf"} 2
sglang:time_to_first_token_seconds_sum{` + sgLabels + `} 0.5
sglang:time_to_first_token_seconds_count{` + sgLabels + `} 2
# TYPE dynamo_component_inflight_requests gauge
dynamo_component_inflight_requests{` + dynLabels + `} 3
`, WorkerStats{Source: SourceMetrics, CacheSource: SourceMetrics, At: now, Running: 3, Queued: 1, GenThroughput: 42.5, TTFT: 250 * time.Millisecond,
			TokenUsage: 0.25, CacheHitRate: 0.75, CachedTokens: 750, PromptTokens: 1000},
			false, []string{"sglang:cached_tokens_total"}},
		{"no scrape at all: everything from the log lines", "",
			WorkerStats{Source: SourceLogs, CacheSource: SourceLogs, At: lastLine, CacheHitRate: 0.5, TokenUsage: 0.15, Running: 2, CachedTokens: 400, PromptTokens: 800, GenThroughput: 33.5},
			true, []string{"no /metrics", "502"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var fams map[string]*dto.MetricFamily
			var scrapeErr error
			if c.expo == "" {
				scrapeErr = errors.New("scraping w:9090/metrics: 502 Bad Gateway")
			} else {
				var err error
				if fams, err = parseMetrics([]byte(c.expo)); err != nil {
					t.Fatal(err)
				}
			}
			read := false
			got := workerStats(fams, scrapeErr, func() ([]string, error) { read = true; return logLines, nil }, now)
			if read != c.logs {
				t.Errorf("log read %v, want %v", read, c.logs)
			}
			for _, n := range c.notes {
				if !strings.Contains(got.CacheNote, n) {
					t.Errorf("note %q lacks %q", got.CacheNote, n)
				}
			}
			got.CacheNote = ""
			if got.CacheHitRate != c.want.CacheHitRate && math.Abs(got.CacheHitRate-c.want.CacheHitRate) < 1e-12 {
				got.CacheHitRate = c.want.CacheHitRate
			}
			if got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
	// A log without batch lines leaves the worker without cache figures, and says so.
	fams, _ := parseMetrics([]byte("dynamo_component_inflight_requests 0\n"))
	ws := workerStats(fams, nil, func() ([]string, error) { return []string{"loading weights"}, nil }, now)
	if ws.CacheSource != "" || !strings.Contains(ws.CacheNote, "no SGLang batch line") {
		t.Errorf("%+v", ws)
	}
}

func TestFrontendExpositions(t *testing.T) {
	const lbl = `model="qwen/qwen3-0.6b",endpoint="chat_completions",request_type="stream"`
	for _, c := range []struct {
		name, expo string
		want       WorkerStats
	}{
		{"0.5.0", `# HELP dynamo_frontend_requests_total Total number of LLM requests processed
# TYPE dynamo_frontend_requests_total counter
dynamo_frontend_requests_total{` + lbl + `,status="success"} 5
dynamo_frontend_requests_total{` + lbl + `,status="error"} 1
# TYPE dynamo_frontend_inflight_requests gauge
dynamo_frontend_inflight_requests{model="qwen/qwen3-0.6b"} 2
# TYPE dynamo_frontend_time_to_first_token_seconds histogram
dynamo_frontend_time_to_first_token_seconds_bucket{model="qwen/qwen3-0.6b",le="+Inf"} 4
dynamo_frontend_time_to_first_token_seconds_sum{model="qwen/qwen3-0.6b"} 1
dynamo_frontend_time_to_first_token_seconds_count{model="qwen/qwen3-0.6b"} 4
`, WorkerStats{Source: SourceMetrics, Role: "frontend", Running: 2, TTFT: 250 * time.Millisecond, Requests: 6, Errors: 1}},
		{"1.5 with error_type", `# TYPE dynamo_frontend_requests_total counter
dynamo_frontend_requests_total{` + lbl + `,status="success",error_type=""} 10
dynamo_frontend_requests_total{` + lbl + `,status="error",error_type="internal"} 2
dynamo_frontend_requests_total{` + lbl + `,status="error",error_type="validation"} 1
# TYPE dynamo_frontend_inflight_requests gauge
dynamo_frontend_inflight_requests{model="qwen/qwen3-0.6b"} 0
`, WorkerStats{Source: SourceMetrics, Role: "frontend", Requests: 13, Errors: 3}},
	} {
		fams, err := parseMetrics([]byte(c.expo))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := FrontendStatsFromMetrics(fams)
		if !ok || got != c.want {
			t.Errorf("%s: %v\ngot  %+v\nwant %+v", c.name, ok, got, c.want)
		}
	}
}
