package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/radixops/radix/kube"
	"github.com/radixops/radix/kube/testenv"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// clusterHome isolates the XDG directories so the user's config.yaml cannot leak in.
func clusterHome(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
	t.Setenv("HF_TOKEN", "")
}

// runVerb runs the root command with args, writing stdout to out, and returns stderr and the error.
func runVerb(ctx context.Context, out io.Writer, args ...string) (string, error) {
	root := newRootCmd()
	var errOut syncBuffer
	root.SetOut(out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return errOut.String(), err
}

func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDeployListDeleteAgainstRealAPIServer is the cluster layer's done-when: against a real
// kube-apiserver, `radix deploy sglang-aggregated-default --wait` shows progress while the test (as
// the Dynamo operator) drives the status to successful, `radix ls -o json` lists it with the right
// fields, and `radix delete` removes it.
func TestDeployListDeleteAgainstRealAPIServer(t *testing.T) {
	e := testenv.StartT(t)
	clusterHome(t)
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(e.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(e.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	const ns, name = "dynamo-cloud", "sglang-aggregated-default"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--kubeconfig", e.Kubeconfig, "-n", ns}

	// Dry run first: manifest, checks, nothing applied.
	var dry syncBuffer
	if _, err := runVerb(ctx, &dry, append([]string{"deploy", name, "--dry-run"}, flags...)...); err != nil {
		t.Fatalf("deploy --dry-run: %v\n%s", err, dry.String())
	}
	if !strings.Contains(dry.String(), "kind: DynamoGraphDeployment") || !strings.Contains(dry.String(), "[ok  ] crd:") ||
		!strings.Contains(dry.String(), "[warn] operator:") {
		t.Fatalf("dry run output:\n%s", dry.String())
	}

	var out syncBuffer
	done := make(chan error, 1)
	var stderr string
	go func() {
		var err error
		stderr, err = runVerb(ctx, &out, append([]string{"deploy", name, "--wait", "--timeout", "2m"}, flags...)...)
		done <- err
	}()
	setState := func(state, reason, msg string) {
		obj, err := dyn.Resource(kube.DGDResource).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		obj.Object["status"] = map[string]any{"state": state, "conditions": []any{map[string]any{
			"type": "Ready", "status": map[bool]string{true: "True", false: "False"}[state == "successful"],
			"reason": reason, "message": msg, "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}}}
		if _, err := dyn.Resource(kube.DGDResource).Namespace(ns).UpdateStatus(ctx, obj, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, time.Minute, "the apply", func() bool { return strings.Contains(out.String(), "apply") })
	waitUntil(t, time.Minute, "waiting for the operator", func() bool { return strings.Contains(out.String(), "no status yet") })
	setState("pending", "some_resources_are_not_ready", "Resources not ready: sglang-aggregated-default-sglangworker: 0/1 ready")
	waitUntil(t, time.Minute, "the pending state shown", func() bool { return strings.Contains(out.String(), "0/1 ready") })
	setState("successful", "all_resources_are_ready", "All resources are ready")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("deploy --wait: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), stderr)
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("deploy --wait did not return:\n%s", out.String())
	}
	t.Logf("radix deploy --wait printed:\n%s", out.String())
	for _, want := range []string{"checks", "apply", "waiting", "state pending", "ready", "is successful"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("deploy progress lacks %q:\n%s", want, out.String())
		}
	}

	var ls syncBuffer
	if _, err := runVerb(ctx, &ls, append([]string{"ls", "-o", "json"}, flags...)...); err != nil {
		t.Fatal(err)
	}
	var deps []kube.Deployment
	if err := json.Unmarshal([]byte(ls.String()), &deps); err != nil {
		t.Fatalf("ls -o json is not JSON: %v\n%s", err, ls.String())
	}
	if len(deps) != 1 {
		t.Fatalf("ls: %+v", deps)
	}
	d := deps[0]
	if d.Name != name || d.Namespace != ns || d.State != kube.StateSuccessful || d.Profile != name ||
		d.Model != "deepseek-ai/DeepSeek-R1-Distill-Llama-8B" || d.PageSize != 16 || d.GPUs != 1 ||
		d.Reason != "all_resources_are_ready" || len(d.Services) != 2 ||
		d.Services[0].Name != "Frontend" || d.Services[0].ComponentType != "frontend" ||
		d.Services[1].Name != "SGLangWorker" || d.Services[1].ComponentType != "worker" || d.Services[1].GPUs != 1 {
		t.Fatalf("ls -o json fields: %+v", d)
	}
	var raw []map[string]any
	_ = json.Unmarshal([]byte(ls.String()), &raw)
	for _, k := range []string{"name", "namespace", "state", "profile", "model", "pageSize", "gpus", "services", "created"} {
		if _, ok := raw[0][k]; !ok {
			t.Errorf("ls -o json lacks field %q", k)
		}
	}
	var table syncBuffer
	if _, err := runVerb(ctx, &table, append([]string{"ls"}, flags...)...); err != nil {
		t.Fatal(err)
	}
	t.Logf("radix ls printed:\n%s", table.String())
	if !strings.Contains(table.String(), "NAME") || !strings.Contains(table.String(), "successful") {
		t.Fatalf("ls table:\n%s", table.String())
	}

	var del syncBuffer
	if _, err := runVerb(ctx, &del, append([]string{"delete", name, "--wait"}, flags...)...); err != nil {
		t.Fatalf("delete: %v\n%s", err, del.String())
	}
	if !strings.Contains(del.String(), "gone") {
		t.Fatalf("delete output:\n%s", del.String())
	}
	if _, err := dyn.Resource(kube.DGDResource).Namespace(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
		t.Fatal("the deployment still exists after radix delete")
	}
	var empty syncBuffer
	if _, err := runVerb(ctx, &empty, append([]string{"ls", "-o", "json"}, flags...)...); err != nil || strings.TrimSpace(empty.String()) != "[]" {
		t.Fatalf("ls after delete: %q %v", empty.String(), err)
	}

	// The GPU inventory of a cluster without GPU nodes or metrics-server says so.
	var gpus syncBuffer
	if _, err := runVerb(ctx, &gpus, append([]string{"gpus", "-o", "json"}, flags...)...); err != nil {
		t.Fatal(err)
	}
	var rep kube.GPUReport
	if err := json.Unmarshal([]byte(gpus.String()), &rep); err != nil || len(rep.Nodes) != 0 ||
		!strings.Contains(rep.Note, "no GPU nodes") || !strings.Contains(rep.Note, "metrics-server not installed") {
		t.Fatalf("gpus: %v %s", err, gpus.String())
	}
	if _, err := runVerb(ctx, io.Discard, append([]string{"logs", name, "--filter", "(["}, flags...)...); err == nil ||
		!strings.Contains(err.Error(), "preset") {
		t.Fatalf("logs with a bad filter: %v", err)
	}
	if _, err := runVerb(ctx, io.Discard, append([]string{"cache", "missing"}, flags...)...); err == nil ||
		!strings.Contains(err.Error(), "not found") {
		t.Fatalf("cache of a missing deployment: %v", err)
	}

	// Read-only mode refuses mutating verbs before touching the cluster.
	if _, err := runVerb(ctx, io.Discard, append([]string{"delete", name, "--readonly"}, flags...)...); err == nil ||
		!strings.Contains(err.Error(), "readonly") {
		t.Fatalf("delete --readonly: %v", err)
	}
}

func TestOpenClusterChoosesTheTarget(t *testing.T) {
	clusterHome(t)
	t.Setenv("KUBECONFIG", "")
	// --local, and no kubeconfig at all, both mean the embedded environment: an empty list, not an error.
	for _, args := range [][]string{{"ls", "--local", "-o", "json"}, {"ls", "-o", "json"}} {
		var out bytes.Buffer
		if _, err := runVerb(context.Background(), &out, args...); err != nil || strings.TrimSpace(out.String()) != "[]" {
			t.Fatalf("%v: %q %v", args, out.String(), err)
		}
	}
	if _, err := os.Stat(filepath.Join(os.Getenv("XDG_STATE_HOME"), "radix", "deployments")); err != nil {
		t.Fatalf("the embedded environment's state directory: %v", err)
	}
	// A kubeconfig named explicitly never falls back.
	_, err := runVerb(context.Background(), io.Discard, "ls", "--kubeconfig", filepath.Join(t.TempDir(), "missing"))
	if err == nil || !strings.Contains(err.Error(), "connecting to") {
		t.Fatalf("missing kubeconfig: %v", err)
	}
}

// fakeFrontend answers like a Dynamo frontend with prefix caching: the first request has no cached
// tokens, every repeat of the same prompt reports most of it cached.
func fakeFrontend(t *testing.T) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/models":
			fmt.Fprint(w, `{"object":"list","data":[{"id":"Qwen/Qwen3-0.6B","object":"model"}]}`)
		case "/v1/chat/completions":
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			cached := 0
			if seen[string(body)] {
				cached = 96
			}
			seen[string(body)] = true
			mu.Unlock()
			w.Header().Set("Content-Type", "text/event-stream")
			for _, tok := range []string{"Radix", "Attention", " shares", " prefixes."} {
				fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", tok)
			}
			fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":4,\"total_tokens\":104,\"prompt_tokens_details\":{\"cached_tokens\":%d}}}\n\ndata: [DONE]\n\n", cached)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestChatStreamsReplyAndStats(t *testing.T) {
	clusterHome(t)
	srv := fakeFrontend(t)
	var out syncBuffer
	stderr, err := runVerb(context.Background(), &out, "chat", "any", "what is radix attention?", "--url", srv.URL, "--system", "be brief")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.String()) != "RadixAttention shares prefixes." {
		t.Fatalf("reply %q", out.String())
	}
	if !strings.Contains(stderr, "TTFT") || !strings.Contains(stderr, "100 prompt tokens (0 cached)") || !strings.Contains(stderr, "4 output tokens") {
		t.Fatalf("stats %q", stderr)
	}
}

func TestCacheTestReportsCachedTokensPerRun(t *testing.T) {
	clusterHome(t)
	srv := fakeFrontend(t)
	var out syncBuffer
	if _, err := runVerb(context.Background(), &out, "cache-test", "any", "--url", srv.URL, "--repeat", "3", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var runs []CacheTestRun
	if err := json.Unmarshal([]byte(out.String()), &runs); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if len(runs) != 3 || runs[0].CachedTokens != 0 || runs[1].CachedTokens != 96 || runs[2].CachedTokens != 96 || runs[0].Speedup != 1 {
		t.Fatalf("runs %+v", runs)
	}
	if _, err := runVerb(context.Background(), io.Discard, "cache-test", "any", "--url", srv.URL, "--repeat", "1"); err == nil {
		t.Fatal("--repeat 1 accepted")
	}
}
