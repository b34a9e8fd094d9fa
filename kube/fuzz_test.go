package kube

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// FuzzDeploymentFromObject: whatever a DGD object in a cluster holds (other operators' versions,
// hand-edited objects), mapping it never panics.
func FuzzDeploymentFromObject(f *testing.F) {
	b, _ := json.Marshal(testDGD("ns", "x").Object)
	f.Add(string(b))
	f.Add(`{"spec":{"services":{"A":{"replicas":"x","resources":{"limits":{"gpu":[1]}},"extraPodSpec":{"mainContainer":{"args":[1,"--page-size"]}}}}},"status":{"conditions":[1,{"type":"Ready","observedGeneration":"a"}]}}`)
	f.Add(`{"spec":{"services":[]},"status":"bad"}`)
	f.Fuzz(func(t *testing.T, s string) {
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) != nil {
			return
		}
		u := &unstructured.Unstructured{Object: m}
		d := DeploymentFromObject(u, []*corev1.Pod{{}})
		// Every service of the object is listed, however odd its content.
		svcs, _ := nested(m, "spec", "services").(map[string]any)
		if len(d.Services) != len(svcs) {
			t.Fatalf("%d services mapped from %d", len(d.Services), len(svcs))
		}
		_ = conditions(u)
		_ = readyObservedGeneration(u)
	})
}

// FuzzMetrics: any /metrics body a pod answers with gives figures or nothing, never a panic.
func FuzzMetrics(f *testing.F) {
	f.Add("# TYPE sglang:prompt_tokens_total counter\nsglang:prompt_tokens_total 10\nsglang:cached_tokens_total 5\n")
	f.Add("dynamo_component_kvstats_gpu_cache_usage_percent 55\nsglang:time_to_first_token_seconds_sum 1\nsglang:time_to_first_token_seconds_count 0\n")
	f.Add("x{a=\"\n")
	f.Add("dynamo_component_kvstats_total_blocks 0\ndynamo_component_kvstats_gpu_prefix_cache_hit_rate 0\n")
	f.Add("dynamo_component_total_blocks 4096\ndynamo_component_gpu_cache_usage_percent 130\ndynamo_component_kv_cache_hit_rate NaN\n")
	f.Add("sglang:prompt_tokens_total 0\nsglang:cached_tokens_total{cache_source=\"device\"} 5\nsglang:cached_tokens_total{cache_source=\"host\"} +Inf\n")
	f.Add("dynamo_frontend_requests_total{status=\"error\",error_type=\"internal\"} 3\ndynamo_frontend_requests_total{error_type=\"none\"} -1\n")
	f.Fuzz(func(t *testing.T, s string) {
		fams, err := parseMetrics([]byte(s))
		if err != nil {
			return
		}
		ws, _ := WorkerStatsFromMetrics(fams)
		if ws.CacheSource == SourceMetrics && ws.PromptTokens == 0 && (ws.CacheHitRate < 0 || ws.CacheHitRate > 1 || ws.TokenUsage < 0 || ws.TokenUsage > 1) {
			t.Fatalf("a gauge fraction outside [0,1]: %+v", ws)
		}
		if ws.CacheSource == "" && ws.CacheHitRate != 0 {
			t.Fatalf("a hit rate without a cache figure: %+v", ws)
		}
		fe, _ := FrontendStatsFromMetrics(fams)
		if fe.Errors > fe.Requests || fe.Errors < 0 {
			t.Fatalf("errors %v of %v requests", fe.Errors, fe.Requests)
		}
	})
}
