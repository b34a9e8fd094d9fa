package kube

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Tests in this file need no API server.

func TestLogFilterPresetsAndRegex(t *testing.T) {
	lines := map[string][]string{
		"cache":    {"Prefill batch. #new-seq: 1, #new-token: 5, #cached-token: 35, token usage: 0.00", "radix tree evicted 32 tokens", "cache hit rate 0.5"},
		"register": {"Successfully registered LLM with runtime config", "added model model_name=qwen", "clear_namespace dynamo", "worker ready"},
		"errors":   {"ERROR target: connection refused", "Traceback (most recent call last):", "request failed: timeout"},
		"disagg":   {"bootstrap room 12345 assigned", "KV transfer via nixl done", "prefill worker offline", "Decode batch. #running-req: 1"},
	}
	neutral := "GET /health 200"
	for preset, ls := range lines {
		f, err := ParseLogFilter(preset, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			if !f.Match(l) {
				t.Errorf("preset %s misses %q", preset, l)
			}
		}
		if f.Match(neutral) {
			t.Errorf("preset %s matches %q", preset, neutral)
		}
		inv, _ := ParseLogFilter("!"+preset, false)
		if inv.Match(ls[0]) || !inv.Match(neutral) || inv.String() != "!"+preset {
			t.Errorf("inverted preset %s wrong (%q)", preset, inv.String())
		}
		inv2, _ := ParseLogFilter(preset, true)
		if inv2.Match(ls[0]) {
			t.Errorf("--invert of %s wrong", preset)
		}
	}
	re, err := ParseLogFilter(`token usage: 0\.[1-9]`, false)
	if err != nil || re.Match("token usage: 0.00") || !re.Match("token usage: 0.25") {
		t.Fatalf("regex filter: %v", err)
	}
	if _, err := ParseLogFilter("([", false); err == nil || !strings.Contains(err.Error(), "preset") {
		t.Fatalf("bad regex: %v", err)
	}
	var none *LogFilter
	empty, _ := ParseLogFilter("", true)
	if !none.Match("x") || !empty.Match("x") {
		t.Fatal("an empty filter must pass everything")
	}
}

func TestParseTimestampedLine(t *testing.T) {
	tm, text, ok := ParseTimestampedLine("2025-05-13T13:47:38.880123456Z  INFO dynamo: added model")
	if !ok || text != " INFO dynamo: added model" || tm.Nanosecond() != 880123456 {
		t.Fatalf("%v %q %v", tm, text, ok)
	}
	if _, text, ok := ParseTimestampedLine("no timestamp here"); ok || text != "no timestamp here" {
		t.Fatal("a line without a timestamp must come back whole")
	}
	if _, text, ok := ParseTimestampedLine("2025-05-13T13:47:38Z"); !ok || text != "" {
		t.Fatal("timestamp-only line")
	}
}

// FuzzScanLog: any bytes a log stream may carry yield lines, never a panic, and lines are bounded.
func FuzzScanLog(f *testing.F) {
	f.Add("2025-05-13T13:47:38.880Z a\n2025-05-13T13:47:39Z b\nno ts\n")
	f.Add("\n\n\r\n")
	f.Add("2025-13-45T99:99:99Z x")
	f.Fuzz(func(t *testing.T, s string) {
		n := 0
		err := scanLog(strings.NewReader(s), func(tm time.Time, text string) bool {
			n++
			if len(text) > maxLogLine {
				t.Fatalf("line of %d bytes", len(text))
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if n > strings.Count(s, "\n")+1 {
			t.Fatalf("%d lines from %d newlines", n, strings.Count(s, "\n"))
		}
	})
}

func TestMergeLinesOrdersWithinTheWindow(t *testing.T) {
	in := make(chan LogLine)
	out := make(chan LogLine, 10)
	go mergeLines(context.Background(), in, out)
	base := time.Unix(1000, 0)
	for _, ms := range []int{30, 10, 20} {
		in <- LogLine{Time: base.Add(time.Duration(ms) * time.Millisecond), Text: time.Duration(ms).String()}
	}
	close(in)
	var got []int64
	for l := range out {
		got = append(got, l.Time.Sub(base).Milliseconds())
	}
	if len(got) != 3 || got[0] != 10 || got[1] != 20 || got[2] != 30 {
		t.Fatalf("order %v", got)
	}
}

// Every catalog profile maps to the model with the fields the console shows.
func TestDeploymentFromRenderedProfiles(t *testing.T) {
	cases := []struct {
		profile        string
		services, gpus int
		model          string
		subTypes       string
	}{
		{"sglang-aggregated-default", 2, 1, "deepseek-ai/DeepSeek-R1-Distill-Llama-8B", ","},
		{"sglang-disaggregated-default", 3, 2, "deepseek-ai/DeepSeek-R1-Distill-Llama-8B", ",decode,prefill"},
		{"sglang-router", 2, 2, "Qwen/Qwen3-0.6B", ","},
	}
	for _, tc := range cases {
		r, err := CatalogRenderer(DeployRequest{Profile: tc.profile, APIVersion: "v1alpha1"}, "dynamo-cloud")
		if err != nil {
			t.Fatal(err)
		}
		obj := &unstructured.Unstructured{Object: r.Object}
		obj.SetCreationTimestamp(metav1.Now())
		d := DeploymentFromObject(obj, nil)
		var subs []string
		for _, s := range d.Services {
			subs = append(subs, s.SubType)
		}
		if d.Name == "" || d.Namespace != "dynamo-cloud" || d.Profile != tc.profile || len(d.Services) != tc.services ||
			d.GPUs != tc.gpus || d.Model != tc.model || d.PageSize != 16 || d.Backend != "sglang" || d.State != StatePending ||
			d.Services[0].ComponentType != "frontend" || strings.Join(subs, ",") != tc.subTypes {
			t.Errorf("%s: %+v (subtypes %q)", tc.profile, d, strings.Join(subs, ","))
		}
		for _, ch := range r.Checks {
			if !ch.OK && ch.Blocking {
				t.Errorf("%s: a rendering check blocks: %+v", tc.profile, ch)
			}
		}
	}
	// As published, the defects come back as warnings.
	r, err := CatalogRenderer(DeployRequest{Profile: "sglang-router", AsPublished: true}, "dynamo-cloud")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ch := range r.Checks {
		if strings.Contains(ch.Name, "kv-events") && !ch.OK && ch.Fix != "" {
			found = true
		}
	}
	if !found {
		t.Errorf("as-published router lacks the kv-events warning: %+v", r.Checks)
	}
}

func TestPodReasons(t *testing.T) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{Phase: corev1.PodPending,
		ContainerStatuses: []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
			Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "pull access denied"}}}}}}
	if got := PodFromObject(p); got.Reason != "ImagePullBackOff" || !podProblem(got) {
		t.Fatalf("%+v", got)
	}
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}
	if got := PodFromObject(p); got.Reason != "" || podProblem(got) {
		t.Fatalf("ContainerCreating is not a problem: %+v", got)
	}
	now := metav1.Now()
	p.DeletionTimestamp = &now
	if got := PodFromObject(p); got.Reason != "Terminating" || podProblem(got) {
		t.Fatalf("%+v", got)
	}
}

func TestSplitWordsAndFlags(t *testing.T) {
	w := splitWords(`python3 -m dynamo.sglang --model-path 'a b' --page-size=32 --x "y z"`)
	if flagValue(w, "--model-path") != "a b" || flagValue(w, "--page-size") != "32" || flagValue(w, "--x") != "y z" || flagValue(w, "--nope") != "" {
		t.Fatalf("%q", w)
	}
}

// BenchmarkBuildSnapshot measures the rebuild after one change in fleets of 10 and 1000 deployments
// (4 pods each): compare the two per-deployment costs to see that the rebuild stays linear.
func BenchmarkBuildSnapshot(b *testing.B) {
	for _, n := range []int{10, 1000} {
		r, err := CatalogRenderer(DeployRequest{Profile: "sglang-disaggregated-default", APIVersion: "v1alpha1"}, "dynamo-cloud")
		if err != nil {
			b.Fatal(err)
		}
		var dgds []*unstructured.Unstructured
		var pods []*corev1.Pod
		for i := 0; i < n; i++ {
			u := (&unstructured.Unstructured{Object: r.Object}).DeepCopy()
			name := "d" + strings.Repeat("0", 4-len(itoa(i))) + itoa(i)
			u.SetName(name)
			dgds = append(dgds, u)
			for j := 0; j < 4; j++ {
				pods = append(pods, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name + "-" + itoa(j), Namespace: "dynamo-cloud",
					Labels: map[string]string{"nvidia.com/dynamo-graph-deployment-name": name, "nvidia.com/dynamo-component": "SGLangDecodeWorker"}}})
			}
		}
		b.Run(itoa(n)+"-deployments", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				s := buildSnapshot(dgds, pods, nil)
				if len(s.Deployments) != n {
					b.Fatal(len(s.Deployments))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/deployment")
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
