package fleet

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/radixops/radix/config"
	"github.com/radixops/radix/inference/telemetry"
	"github.com/radixops/radix/kube"
)

// The fleet's unit tests run this test binary as the child process, in place of `radix serve`, the
// way os/exec's own tests use helper processes: it answers /health on the port it is given and writes
// SGLang-format log lines. RADIX_FLEET_CHILD picks its behaviour. The end-to-end tests of the embedded
// environment run the real `radix serve`.
func TestMain(m *testing.M) {
	if mode := os.Getenv("RADIX_FLEET_CHILD"); mode != "" && len(os.Args) > 1 && os.Args[1] == "serve" {
		child(mode, os.Args[2:])
		return
	}
	os.Exit(m.Run())
}

func child(mode string, args []string) {
	port, role := "", ""
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "--port":
			port = args[i+1]
		case "--role":
			role = args[i+1]
		}
	}
	log := telemetry.NewLogger(os.Stdout, "radix::child")
	if mode == "crash" && role != "frontend" {
		log.Error("loading model: no such file")
		os.Exit(3)
	}
	if mode == "stubborn" {
		signal.Ignore(syscall.SIGTERM)
	}
	log.Info(telemetry.Startup{MaxTotalNumTokens: 4096, ChunkedPrefillSize: 512, MaxPrefillTokens: 1024, MaxRunningRequests: 16, ContextLen: 2048}.String())
	http.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		log.Info(telemetry.PrefillBatch{NewSeq: 1, NewToken: 10, CachedToken: 30, Running: 1}.String())
		fmt.Fprint(w, `{"status":"healthy"}`)
	})
	if err := http.ListenAndServe("127.0.0.1:"+port, nil); err != nil {
		log.Error(err.Error())
		os.Exit(1)
	}
}

func open(t *testing.T, mode string) *Fleet {
	t.Helper()
	dir := t.TempDir()
	f, err := Open(Options{StateDir: dir, Binary: os.Args[0], Refresh: 100 * time.Millisecond, Grace: 500 * time.Millisecond, Env: []string{"RADIX_FLEET_CHILD=" + mode}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopAll(f) })
	return f
}

// stopAll kills whatever a test left running.
func stopAll(f *Fleet) {
	deps, _ := f.store.list("")
	for _, d := range deps {
		for _, p := range d.Processes {
			stopProcess(p.PID, p.StartTicks, 100*time.Millisecond)
		}
	}
}

func deploy(t *testing.T, f *Fleet, profile, name string) []kube.Progress {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch, err := f.Deploy(ctx, kube.DeployRequest{Profile: profile, Name: name, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var all []kube.Progress
	for p := range ch {
		all = append(all, p)
	}
	return all
}

func last(ps []kube.Progress) kube.Progress { return ps[len(ps)-1] }

func waitSnapshot(t *testing.T, f *Fleet, cond func(kube.Snapshot) bool) kube.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch, err := f.Watch(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var s kube.Snapshot
	for s = range ch {
		if cond(s) {
			return s
		}
	}
	t.Fatalf("no snapshot met the condition; last: %+v", s)
	return s
}

func TestDeployEachProfileAndDelete(t *testing.T) {
	f := open(t, "ok")
	for _, tc := range []struct {
		profile string
		pods    int
	}{{"sglang-aggregated-default", 2}, {"sglang-disaggregated-default", 3}, {"sglang-router", 3}} {
		name := strings.TrimPrefix(tc.profile, "sglang-")
		ps := deploy(t, f, tc.profile, name)
		if p := last(ps); p.Phase != "ready" || p.Err != nil {
			t.Fatalf("%s: last progress %+v", tc.profile, p)
		}
		det, err := f.Describe(context.Background(), "", name)
		if err != nil {
			t.Fatal(err)
		}
		if det.Deployment.State != kube.StateSuccessful || len(det.Pods) != tc.pods {
			t.Fatalf("%s: state %s with %d pods", tc.profile, det.Deployment.State, len(det.Pods))
		}
		for _, p := range det.Pods {
			if !p.Ready || p.PID == 0 {
				t.Fatalf("%s: pod %+v", tc.profile, p)
			}
		}
		if !strings.Contains(det.Deployment.Model, "radix-demo") {
			t.Fatalf("%s: serves %q, want the demo model", tc.profile, det.Deployment.Model)
		}
		// The manifest is the v1beta1 object a cluster would hold, with no local process state in it.
		dgd, err := config.ParseDGD([]byte(det.Manifest))
		if err != nil || dgd.Version() != config.VersionV1Beta1 || dgd.Metadata.Name != name || len(dgd.Spec.Services) != len(config.LocalPlan(mustSpec(t, tc.profile))) {
			t.Fatalf("%s: manifest %v %v\n%s", tc.profile, dgd, err, det.Manifest)
		}
		for _, local := range []string{"127.0.0.1", "radix-demo", "processes", "logFile", "pid"} {
			if strings.Contains(det.Manifest, local) {
				t.Fatalf("%s: local state %q in the manifest:\n%s", tc.profile, local, det.Manifest)
			}
		}
	}
	// Three deployments at once: every port distinct.
	seen := map[int]string{}
	deps, _ := f.store.list("")
	for _, d := range deps {
		for _, p := range d.Processes {
			for _, port := range []int{p.Port, p.TransferPort} {
				if port == 0 {
					continue
				}
				if other, dup := seen[port]; dup {
					t.Fatalf("port %d used by %s and %s", port, other, p.Pod)
				}
				seen[port] = p.Pod
			}
		}
	}
	ch, err := f.Delete(context.Background(), "", "aggregated-default", true)
	if err != nil {
		t.Fatal(err)
	}
	var lastP kube.Progress
	for p := range ch {
		lastP = p
	}
	if lastP.Phase != "gone" {
		t.Fatalf("delete ended %+v", lastP)
	}
	for _, p := range deps[0].Processes {
		if alive(p.PID, p.StartTicks) {
			t.Fatalf("%s still running after delete", p.Pod)
		}
	}
	if _, err := f.Describe(context.Background(), "", "aggregated-default"); err == nil {
		t.Fatal("deleted deployment still described")
	}
}

func TestKilledWorkerShowsFailedAndRestartedConsoleFindsDeployments(t *testing.T) {
	f := open(t, "ok")
	if p := last(deploy(t, f, "sglang-aggregated-default", "agg")); p.Phase != "ready" {
		t.Fatalf("deploy: %+v", p)
	}
	// A new Fleet over the same state is a restarted console.
	g, err := Open(Options{StateDir: f.opts.StateDir, Binary: f.opts.Binary, Refresh: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := waitSnapshot(t, g, func(s kube.Snapshot) bool { return len(s.Deployments) == 1 })
	if s.Deployments[0].State != kube.StateSuccessful {
		t.Fatalf("after restart: %+v", s.Deployments[0])
	}
	d, _ := f.store.load("dynamo-cloud", "agg")
	worker := d.Processes[1]
	if err := syscall.Kill(worker.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s = waitSnapshot(t, g, func(s kube.Snapshot) bool {
		return len(s.Deployments) == 1 && s.Deployments[0].State == kube.StateFailed
	})
	if !strings.Contains(s.Deployments[0].Message, worker.Pod) {
		t.Fatalf("failure does not name the dead process: %q", s.Deployments[0].Message)
	}
}

func TestCrashingWorkerFailsTheDeployWithItsLog(t *testing.T) {
	f := open(t, "crash")
	p := last(deploy(t, f, "sglang-aggregated-default", "agg"))
	if p.Phase != "failed" || !strings.Contains(p.Message, "loading model: no such file") {
		t.Fatalf("crash reported as %+v", p)
	}
}

func TestDeleteKillsAProcessThatIgnoresSIGTERM(t *testing.T) {
	f := open(t, "stubborn")
	if p := last(deploy(t, f, "sglang-aggregated-default", "agg")); p.Phase != "ready" {
		t.Fatalf("deploy: %+v", p)
	}
	d, _ := f.store.load("dynamo-cloud", "agg")
	ch, _ := f.Delete(context.Background(), "", "agg", true)
	var msgs []string
	for p := range ch {
		msgs = append(msgs, p.Message)
	}
	if !strings.Contains(strings.Join(msgs, "\n"), "killed after") {
		t.Fatalf("no kill reported: %q", msgs)
	}
	for _, p := range d.Processes {
		if alive(p.PID, p.StartTicks) {
			t.Fatalf("%s survived", p.Pod)
		}
	}
}

func TestLogsCacheStatsAndEndpoint(t *testing.T) {
	f := open(t, "ok")
	if p := last(deploy(t, f, "sglang-aggregated-default", "agg")); p.Phase != "ready" {
		t.Fatalf("deploy: %+v", p)
	}
	url, release, err := f.Endpoint(context.Background(), "", "agg")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch, err := f.Logs(ctx, kube.LogRequest{Deployment: "agg", Follow: true, Tail: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Each /health call makes the child log a prefill line: one must arrive while following.
	go func() {
		for ctx.Err() == nil {
			if resp, err := http.Get(url + "/health"); err == nil {
				resp.Body.Close()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	got := 0
	for l := range ch {
		if strings.Contains(l.Text, "Prefill batch") && !l.Time.IsZero() {
			got++
			if got == 3 {
				cancel()
			}
		}
	}
	if got < 3 {
		t.Fatalf("followed %d prefill lines", got)
	}
	stats, err := f.CacheStats(context.Background(), "", "agg")
	if err != nil || len(stats) != 1 {
		t.Fatalf("stats %+v %v", stats, err)
	}
	if s := stats[0]; s.Source != "logs" || s.CachedTokens == 0 || s.CacheHitRate < 0.7 {
		t.Fatalf("stats %+v", s)
	}
	gpus, err := f.GPUs(context.Background())
	if err != nil || gpus.Local == nil || gpus.Local.Threads == 0 || gpus.Local.KVTokens != 4096 || gpus.Local.WeightBytes == 0 {
		t.Fatalf("gpus %+v %v", gpus.Local, err)
	}
}

func TestReadOnlyAndPreview(t *testing.T) {
	f := open(t, "ok")
	pv, err := f.Preview(context.Background(), kube.DeployRequest{Profile: "sglang-router", Name: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pv.Manifest, "--router-mode") || pv.Exists || !strings.Contains(pv.Manifest, "apiVersion: nvidia.com/v1beta1\n") {
		t.Fatalf("preview: %s", pv.Manifest)
	}
	model := t.TempDir()
	pv, err = f.Preview(context.Background(), kube.DeployRequest{Profile: "sglang-router", Name: "r", Overrides: map[string]string{"model": model}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pv.Manifest, filepath.Base(model)) {
		t.Fatalf("--set model=PATH not served:\n%s", pv.Manifest)
	}
	ro, _ := Open(Options{StateDir: t.TempDir(), Binary: os.Args[0], ReadOnly: true})
	if _, err := ro.Deploy(context.Background(), kube.DeployRequest{Profile: "sglang-router"}); err == nil {
		t.Fatal("read-only fleet deployed")
	}
	if ro.Allowed(context.Background(), kube.ActionDelete, "") || !ro.Allowed(context.Background(), kube.ActionLogs, "") {
		t.Fatal("read-only permissions wrong")
	}
}

func TestStalePIDShowsFailed(t *testing.T) {
	f := open(t, "ok")
	if err := f.store.create("dynamo-cloud", "ghost"); err != nil {
		t.Fatal(err)
	}
	d := &Deployment{Name: "ghost", Namespace: "dynamo-cloud", Profile: "sglang-aggregated-default",
		Processes: []Process{{Pod: "ghost-frontend-0", Role: "frontend", Service: "Frontend", PID: os.Getpid(), StartTicks: 1, Port: 1, LogFile: "logs/x.log"}}}
	if err := f.store.save(d); err != nil {
		t.Fatal(err)
	}
	// Our own pid is alive, but with another start time it is not the process the state names.
	s := waitSnapshot(t, f, func(s kube.Snapshot) bool { return len(s.Deployments) == 1 })
	if s.Deployments[0].State != kube.StateFailed {
		t.Fatalf("stale pid shown as %s", s.Deployments[0].State)
	}
}

func mustSpec(t *testing.T, profile string) *config.Spec {
	t.Helper()
	s, err := config.Resolve(profile, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
