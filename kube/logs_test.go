package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func runningPod(t *testing.T, c *KubeCluster, ns, dgd, component, name string) {
	t.Helper()
	ctx := context.Background()
	p, err := c.Clientset().CoreV1().Pods(ns).Create(ctx, testPod(ns, dgd, component, "worker", name, 0), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	if _, err := c.Clientset().CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func ts(base time.Time, ms int) string {
	return base.Add(time.Duration(ms) * time.Millisecond).UTC().Format(time.RFC3339Nano)
}

// collect reads lines until n non-error lines arrived.
func collect(t *testing.T, ch <-chan LogLine, n int, limit time.Duration) (lines, errs []LogLine) {
	t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for len(lines) < n {
		select {
		case l, ok := <-ch:
			if !ok {
				t.Fatalf("log channel closed after %d lines: %+v", len(lines), lines)
			}
			if l.Err {
				errs = append(errs, l)
				continue
			}
			lines = append(lines, l)
		case <-timer.C:
			t.Fatalf("got %d of %d lines: %+v (errors %+v)", len(lines), n, lines, errs)
		}
	}
	return lines, errs
}

// Pod logs need a kubelet, which cannot run here: the pods live in the real API server, and their
// logs are served by podServer in the kubelet's wire format.
func TestLogsFollowMergesResumesAndPicksUpNewPods(t *testing.T) {
	e := sharedEnv(t)
	const ns = "logs"
	createNamespace(t, adminClientset(t, e), ns)
	c := adminCluster(t, e, ns)
	ps := newPodServer(t)
	if err := c.SetPodClient(ps.config()); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 5, 13, 13, 47, 38, 0, time.UTC)
	ps.setLog("d-w-0",
		ts(base, 100)+" Prefill batch. #new-seq: 1, #new-token: 2192, #cached-token: 35, token usage: 0.00, #running-req: 0, #queue-req: 0, ",
		ts(base, 300)+" Decode batch. #running-req: 1, #token: 2300, token usage: 0.01, cuda graph: True, gen throughput (token/s): 45.91, #queue-req: 0, ",
		ts(base, 500)+" w0 line three")
	ps.setLog("d-w-1", ts(base, 200)+" w1 first", ts(base, 400)+" w1 second")
	ps.mu.Lock()
	ps.dropAt["d-w-0"] = 2 // the first follow connection of d-w-0 drops after two lines
	ps.mu.Unlock()
	runningPod(t, c, ns, "d", "SGLangWorker", "d-w-0")
	runningPod(t, c, ns, "d", "SGLangWorker", "d-w-1")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := c.Logs(ctx, LogRequest{Deployment: "d", Follow: true, Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	lines, errs := collect(t, ch, 5, time.Minute)
	var texts []string
	for _, l := range lines {
		texts = append(texts, l.Pod+": "+l.Text)
	}
	want := []string{"d-w-0: Prefill", "d-w-1: w1 first", "d-w-0: Decode", "d-w-1: w1 second", "d-w-0: w0 line three"}
	for i := range want {
		if !strings.HasPrefix(texts[i], want[i]) {
			t.Fatalf("merged order:\n%s\nwant prefixes %q", strings.Join(texts, "\n"), want)
		}
	}
	if len(errs) == 0 || !strings.Contains(errs[0].Text, "resuming") {
		t.Fatalf("the dropped stream was not reported: %+v", errs)
	}
	// The reconnect asked from the last line's second on, and no line came twice (checked above by
	// exact order and count; now check what was asked).
	ps.mu.Lock()
	qs := ps.queries["d-w-0"]
	ps.mu.Unlock()
	if len(qs) < 2 || qs[1]["sinceTime"] == "" || qs[0]["timestamps"] != "true" || qs[0]["container"] != "main" {
		t.Fatalf("log requests of d-w-0: %+v", qs)
	}

	// A line written later arrives; a pod created later is picked up.
	ps.appendLive("d-w-1", ts(base, 2000)+" w1 live")
	ps.setLog("d-w-2", ts(base, 3000)+" w2 hello")
	runningPod(t, c, ns, "d", "SGLangWorker", "d-w-2")
	more, _ := collect(t, ch, 2, time.Minute)
	got := []string{more[0].Pod + ": " + more[0].Text, more[1].Pod + ": " + more[1].Text}
	sort.Strings(got)
	if got[0] != "d-w-1: w1 live" || got[1] != "d-w-2: w2 hello" {
		t.Fatalf("later lines: %q", got)
	}
	cancel()
	for range ch {
	}
}

func TestLogsReadMergesTailAndFiltersAll(t *testing.T) {
	e := sharedEnv(t)
	const ns = "logs-read"
	createNamespace(t, adminClientset(t, e), ns)
	c := adminCluster(t, e, ns)
	ps := newPodServer(t)
	if err := c.SetPodClient(ps.config()); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var a, b []string
	for i := 0; i < 50; i++ {
		a = append(a, fmt.Sprintf("%s a%02d %s", ts(base, 2*i), i, map[bool]string{true: "cache hit", false: "noise"}[i%5 == 0]))
		b = append(b, fmt.Sprintf("%s b%02d noise", ts(base, 2*i+1), i))
	}
	ps.setLog("r-0", a...)
	ps.setLog("r-1", b...)
	runningPod(t, c, ns, "r", "SGLangWorker", "r-0")
	runningPod(t, c, ns, "r", "SGLangWorker", "r-1")
	ctx := context.Background()
	ch, err := c.Logs(ctx, LogRequest{Deployment: "r", Tail: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []LogLine
	for l := range ch {
		got = append(got, l)
	}
	if len(got) != 20 {
		t.Fatalf("tail 10 per pod: %d lines", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Time.Before(got[i-1].Time) {
			t.Fatalf("not in time order at %d: %+v", i, got)
		}
	}
	// The filter sees every line, not a sample.
	f, err := ParseLogFilter("cache", false)
	if err != nil {
		t.Fatal(err)
	}
	ch, _ = c.Logs(ctx, LogRequest{Deployment: "r", Tail: -1})
	n := 0
	for l := range ch {
		if f.Match(l.Text) {
			n++
		}
	}
	if n != 10 {
		t.Fatalf("cache filter matched %d lines, want 10", n)
	}
	// A pod whose container has not started reports it in-band.
	runningPod(t, c, ns, "r", "SGLangWorker", "r-2")
	ch, _ = c.Logs(ctx, LogRequest{Deployment: "r", Tail: 1})
	var errLines []LogLine
	for l := range ch {
		if l.Err {
			errLines = append(errLines, l)
		}
	}
	if len(errLines) != 1 || errLines[0].Pod != "r-2" || !strings.Contains(errLines[0].Text, "waiting to start") {
		t.Fatalf("error lines: %+v", errLines)
	}
}

// A kubelet line of Dynamo's coloured log: the text comes back as the user sees it, so filters match
// what is on the screen (`INFO dynamo_llm` spans a colour code in the raw line) and never a colour
// code, and the presets see the message.
func TestLogTextIsWhatTheUserSees(t *testing.T) {
	raw := "2025-05-13T13:47:38.880123456Z \x1b[2m2025-05-13T13:47:38.880123Z\x1b[0m \x1b[32m INFO\x1b[0m \x1b[1mdynamo_llm::discovery::watcher\x1b[0m\x1b[2m:\x1b[0m added model \x1b[3mmodel_name\x1b[0m\x1b[2m=\x1b[0m\"Qwen/Qwen3-0.6B\""
	tm, text, ok := ParseTimestampedLine(raw)
	want := `2025-05-13T13:47:38.880123Z  INFO dynamo_llm::discovery::watcher: added model model_name="Qwen/Qwen3-0.6B"`
	if !ok || text != want || tm.Nanosecond() != 880123456 {
		t.Fatalf("%v %q %v", tm, text, ok)
	}
	for spec, match := range map[string]bool{"register": true, "cache": false, `INFO dynamo_llm`: true, `\[32m`: false, `model_name="Qwen`: true} {
		f, err := ParseLogFilter(spec, false)
		if err != nil {
			t.Fatal(err)
		}
		if f.Match(text) != match || f.Match(raw) != match {
			t.Errorf("filter %q on the line: %v, want %v", spec, f.Match(text), match)
		}
	}
	if _, text, ok := ParseTimestampedLine("\x1b[31mno timestamp\x1b[0m"); ok || text != "no timestamp" {
		t.Fatalf("%q %v", text, ok)
	}
}

// The presets select the lines they are named for in every line shape, and --filter and the console
// share them (tui's test holds the console to this same table).
func TestLogPresetsSelectTheirLines(t *testing.T) {
	lines := map[string][]string{
		"cache": {"Prefill batch [7], #new-seq: 1, #new-token: 5, #cached-token: 35, full token usage: 0.00, swa token usage: 0.01, ",
			"KV cache pool is full. Retract requests. #retracted_reqs: 1, #new_token_ratio: 0.0980 -> 0.3487"},
		"register": {"2025-05-13T13:47:38.880123Z  INFO dynamo_llm::discovery::watcher: Chat completions is ready",
			`{"time":"2025-05-13T13:47:38.880123Z","level":"INFO","target":"dynamo_llm::discovery::watcher","message":"added model","model_name":"q"}`,
			"removed model deepseek"},
		"errors": {`{"time":"2025-05-13T13:47:38.880123Z","level":"ERROR","target":"dynamo_runtime","message":"connection refused"}`,
			"2025-05-13T13:47:38.880123Z  WARN radix::scheduler: KV cache pool is full."},
		"disagg": {"Prefill batch, #new-seq: 1, #new-token: 512, #cached-token: 0, token usage: 0.12, #running-req: 0, #queue-req: 0, #prealloc-req: 2, #inflight-req: 1, input throughput (token/s): 8123.45, "},
	}
	for name, ls := range lines {
		p, ok := LookupPreset(name)
		f, err := ParseLogFilter(name, false)
		if !ok || err != nil {
			t.Fatal(name, err)
		}
		for _, l := range ls {
			if !f.Match(l) {
				t.Errorf("preset %s (%s) misses %q", name, p.Pattern, l)
			}
		}
	}
	if got := strings.Join(PresetNames(), ","); got != "cache,register,errors,disagg" {
		t.Fatalf("presets %s", got)
	}
	seen := map[string]bool{}
	for _, p := range LogPresets {
		if p.Key == "" || seen[p.Key] || p.Help == "" {
			t.Fatalf("preset %+v: every preset needs its own key and a help", p)
		}
		seen[p.Key] = true
	}
}
