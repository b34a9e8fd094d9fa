package kube

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
	if m.Source != "metrics" || m.Role != "worker" || m.CacheHitRate != 0.75 || m.TokenUsage != 0.25 || m.Running != 3 || m.Queued != 1 ||
		m.GenThroughput != 42.5 || m.TTFT != 250*time.Millisecond || m.CachedTokens != 750 || m.PromptTokens != 1000 {
		t.Errorf("metrics worker: %+v", m)
	}
	if l.Source != "logs" || l.CacheHitRate != 0.5 || l.CachedTokens != 400 || l.PromptTokens != 800 || l.TokenUsage != 0.15 ||
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
