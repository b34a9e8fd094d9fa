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
	f.Fuzz(func(t *testing.T, s string) {
		fams, err := parseMetrics([]byte(s))
		if err != nil {
			return
		}
		WorkerStatsFromMetrics(fams)
		FrontendStatsFromMetrics(fams)
	})
}
