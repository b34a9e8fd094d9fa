package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/radixops/radix/inference/telemetry"
)

var (
	binary string
	model  string // the demo model shipped in the repository
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "radix-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "radix")
	args := []string{"build", "-o", binary}
	if os.Getenv("RADIX_E2E_RACE") != "" {
		args = append(args, "-race") // the processes themselves under the race detector
	}
	build := exec.Command("go", append(args, "../../cmd/radix")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building radix:", err)
		os.Exit(1)
	}
	model, _ = filepath.Abs("../fleet/demo/model")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// proc is one radix process of a topology.
type proc struct {
	args []string
	port int
	url  string
	cmd  *exec.Cmd
	log  *syncBuf
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (p *proc) start(t *testing.T) {
	t.Helper()
	p.log = &syncBuf{}
	p.cmd = exec.Command(binary, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := p.cmd
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("log of %v:\n%s", p.args[:3], p.log.String())
		}
	})
}

func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// topology starts a frontend and workers of the given roles with short leases.
func topology(t *testing.T, frontendArgs []string, roles ...string) (*proc, []*proc) {
	t.Helper()
	fp := freePort(t)
	ns := strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-")
	fe := &proc{port: fp, url: fmt.Sprintf("http://127.0.0.1:%d", fp)}
	fe.args = append([]string{"serve", "--role", "frontend", "--host", "127.0.0.1", "--port", strconv.Itoa(fp),
		"--namespace", ns, "--lease-ttl", "1500ms"}, frontendArgs...)
	fe.start(t)
	var ws []*proc
	for _, role := range roles {
		wp := freePort(t)
		w := &proc{port: wp, url: fmt.Sprintf("http://127.0.0.1:%d", wp)}
		w.args = []string{"serve", "--role", role, "--model", model, "--served-model-name", "demo", "--page-size", "16",
			"--max-total-tokens", "8192", "--host", "127.0.0.1", "--port", strconv.Itoa(wp), "--namespace", ns,
			"--frontend", fe.url, "--heartbeat-interval", "300ms", "--disagg-heartbeat", "500ms"}
		if role != "worker" {
			w.args = append(w.args, "--transfer-port", strconv.Itoa(freePort(t)))
		}
		w.start(t)
		ws = append(ws, w)
	}
	waitHealthy(t, fe, len(roles))
	return fe, ws
}

// waitHealthy waits until the frontend's /health is healthy with n instances (current Dynamo's shape:
// 503 not_ready while the initial discovery is in progress).
func waitHealthy(t *testing.T, fe *proc, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(fe.url + "/health")
		if err == nil {
			var h telemetry.Health
			_ = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if resp.StatusCode == 503 && (h.Status != telemetry.HealthNotReady || h.Message != telemetry.MsgDiscovering) {
				t.Fatalf("unready frontend says %q: %q", h.Status, h.Message)
			}
			if resp.StatusCode == 200 && h.Status == telemetry.HealthHealthy && len(h.Instances) == n {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("frontend never listed %d instances", n)
}

type chatResult struct {
	Content string
	Cached  int
	Status  int
	Chunks  int
}

func chat(t *testing.T, url string, msgs []map[string]string, maxTokens int, stream bool) chatResult {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"messages": msgs, "max_tokens": maxTokens,
		"temperature": 0, "stream": stream, "stream_options": map[string]bool{"include_usage": true}})
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := chatResult{Status: resp.StatusCode}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		r.Content = string(b)
		return r
	}
	if !stream {
		var c struct {
			Choices []struct{ Message struct{ Content string } }
			Usage   struct {
				PromptTokensDetails struct {
					CachedTokens int `json:"cached_tokens"`
				} `json:"prompt_tokens_details"`
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
			t.Fatal(err)
		}
		r.Content, r.Cached = c.Choices[0].Message.Content, c.Usage.PromptTokensDetails.CachedTokens
		return r
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || line == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct{ Delta struct{ Content string } }
			Usage   *struct {
				PromptTokensDetails struct {
					CachedTokens int `json:"cached_tokens"`
				} `json:"prompt_tokens_details"`
			}
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("bad chunk %q: %v", line, err)
		}
		for _, ch := range c.Choices {
			r.Content += ch.Delta.Content
		}
		if c.Usage != nil {
			r.Cached = c.Usage.PromptTokensDetails.CachedTokens
		}
		r.Chunks++
	}
	return r
}

func user(s string) []map[string]string { return []map[string]string{{"role": "user", "content": s}} }

// noLeaks checks a worker's pool invariant and that, idle, it holds no pages.
func noLeaks(t *testing.T, w *proc) {
	t.Helper()
	var last string
	for range 50 {
		resp, err := http.Get(w.url + "/debug/invariant")
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			OK    bool `json:"ok"`
			Stats struct{ ActivePages, Running, Waiting int }
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("worker %s invariant: %s", w.url, b)
		}
		_ = json.Unmarshal(b, &v)
		if v.OK && v.Stats.ActivePages == 0 && v.Stats.Running == 0 {
			return
		}
		last = string(b)
		time.Sleep(100 * time.Millisecond) // requests the client left are still being cancelled
	}
	t.Fatalf("worker %s holds pages when idle: %s", w.url, last)
}

var prompts = []string{
	"What is the capital of France?",
	"Tell me about the radix cache.",
	"Write one sentence about the sea.",
}

// Aggregated and disaggregated topologies both chat and stream, and the disaggregated path produces
// exactly the aggregated tokens (greedy).
func TestAggregatedAndDisaggregatedAgree(t *testing.T) {
	agg, aw := topology(t, nil, "worker")
	dis, dw := topology(t, nil, "prefill", "decode")
	for _, p := range prompts {
		a := chat(t, agg.url, user(p), 24, false)
		d := chat(t, dis.url, user(p), 24, false)
		if a.Status != 200 || d.Status != 200 {
			t.Fatalf("status aggregated %d (%s), disaggregated %d (%s)", a.Status, a.Content, d.Status, d.Content)
		}
		if a.Content != d.Content || a.Content == "" {
			t.Fatalf("prompt %q: aggregated %q, disaggregated %q", p, a.Content, d.Content)
		}
		for _, url := range []string{agg.url, dis.url} {
			s := chat(t, url, user(p), 24, true)
			if s.Status != 200 || s.Chunks < 3 || s.Content != a.Content {
				t.Fatalf("stream from %s: status %d, %d chunks, %q (want %q)", url, s.Status, s.Chunks, s.Content, a.Content)
			}
		}
	}
	// The prefill worker's radix cache served the repeats.
	if r := chat(t, dis.url, user(prompts[0]), 4, false); r.Cached == 0 {
		t.Fatal("a repeated prompt got no cached tokens through the prefill worker")
	}
	if !strings.Contains(dw[0].log.String(), "disaggregated prefill room=") {
		t.Fatal("the prefill worker logged no transfer")
	}
	for _, w := range append(aw, dw...) {
		noLeaks(t, w)
	}
}

var decisionRe = regexp.MustCompile(`routing decision: mode=kv worker=(\S+)`)

// The kv router sends a conversation's later turns to the worker holding its prefix.
// With --kv-events=false the router predicts the caches from its own decisions, and still does.
func TestKVRoutingFollowsThePrefix(t *testing.T) {
	for _, events := range []string{"true", "false"} {
		t.Run("kv-events="+events, func(t *testing.T) { kvRouting(t, events) })
	}
}

func kvRouting(t *testing.T, events string) {
	fe, ws := topology(t, []string{"--router-mode", "kv", "--kv-overlap-score-weight", "1.0", "--router-temperature", "0",
		"--kv-events=" + events}, "worker", "worker")
	for i := range 4 {
		msgs := user(fmt.Sprintf("Conversation %d: %s Please answer at length about topic %d.", i, prompts[i%len(prompts)], i*7))
		r1 := chat(t, fe.url, msgs, 12, false)
		if r1.Status != 200 {
			t.Fatalf("turn 1: %d %s", r1.Status, r1.Content)
		}
		time.Sleep(300 * time.Millisecond) // let the worker's KV events reach the router (not an assertion)
		msgs = append(msgs, map[string]string{"role": "assistant", "content": r1.Content},
			map[string]string{"role": "user", "content": "And then?"})
		r2 := chat(t, fe.url, msgs, 12, false)
		if r2.Status != 200 {
			t.Fatalf("turn 2: %d %s", r2.Status, r2.Content)
		}
		if r2.Cached == 0 {
			t.Fatalf("conversation %d: turn 2 found nothing cached (routed away from its prefix)", i)
		}
		ds := decisionRe.FindAllStringSubmatch(fe.log.String(), -1)
		if n := len(ds); n < 2 || ds[n-1][1] != ds[n-2][1] {
			t.Fatalf("conversation %d: turns routed to different workers: %v", i, ds)
		}
	}
	if !strings.Contains(fe.log.String(), "overlap=") {
		t.Fatal("routing decisions do not log their scores")
	}
	for _, w := range ws {
		noLeaks(t, w)
	}
}

// A worker killed mid-stream fails its client's stream at once; the frontend stops routing to it; a
// restarted worker registers again; the survivor leaks nothing.
func TestWorkerKilledMidStream(t *testing.T) {
	fe, ws := topology(t, nil, "worker", "worker")
	body, _ := json.Marshal(map[string]any{"model": "demo", "messages": user(prompts[1]), "max_tokens": 1500,
		"ignore_eos": true, "temperature": 0, "stream": true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, fe.url+"/v1/chat/completions", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	if _, err := rd.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	// Which worker serves it: the one with a running request.
	var victim, survivor *proc
	for victim == nil {
		for i, w := range ws {
			r, err := http.Get(w.url + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if regexp.MustCompile(`(?m)^sglang:num_running_reqs\{[^}]*\} 1$`).Match(b) {
				victim, survivor = w, ws[1-i]
			}
		}
	}
	victim.kill()
	rest, err := io.ReadAll(rd)
	if ctx.Err() != nil {
		t.Fatal("the client's stream hung after its worker died")
	}
	if err == nil && strings.Contains(string(rest), "[DONE]") && !strings.Contains(string(rest), "error") {
		t.Fatalf("the stream ended normally after its worker died: %q", rest)
	}
	for i := range 4 {
		if r := chat(t, fe.url, user(prompts[i%3]), 4, false); r.Status != 200 {
			t.Fatalf("request %d after the kill: %d %s", i, r.Status, r.Content)
		}
	}
	waitHealthy(t, fe, 1)
	victim.start(t) // same port, a new process: it registers again
	waitHealthy(t, fe, 2)
	noLeaks(t, survivor)
	noLeaks(t, victim)
}

// A prefill worker that is gone fails the request with a 500 (or 503 once its lease lapsed) and the
// decode worker frees the pages it pre-allocated.
func TestPrefillKilled(t *testing.T) {
	fe, ws := topology(t, nil, "prefill", "decode")
	if r := chat(t, fe.url, user(prompts[0]), 4, false); r.Status != 200 {
		t.Fatalf("before: %d %s", r.Status, r.Content)
	}
	// Kill prefill while requests are in flight: whichever phase they are in, each fails cleanly.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := chat(t, fe.url, user(strings.Repeat(prompts[i%3]+" ", 20)), 32, false)
			if r.Status != 200 && r.Status != 500 && r.Status != 503 {
				t.Errorf("request during the kill: %d %s", r.Status, r.Content)
			}
		}()
	}
	ws[0].kill()
	wg.Wait()
	r := chat(t, fe.url, user(prompts[1]), 4, false)
	if r.Status != 500 && r.Status != 503 {
		t.Fatalf("without a prefill worker: %d %s", r.Status, r.Content)
	}
	noLeaks(t, ws[1])
}

// A worker whose lease lapses (stopped, so it cannot heartbeat or deregister) is removed; when it
// resumes it registers again.
func TestLeaseLapse(t *testing.T) {
	fe, ws := topology(t, nil, "worker", "worker")
	if err := ws[0].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, fe, 1)
	if !strings.Contains(fe.log.String(), "lease expired") {
		t.Fatal("the frontend logged no lapsed lease")
	}
	for i := range 3 {
		if r := chat(t, fe.url, user(prompts[i]), 4, false); r.Status != 200 {
			t.Fatalf("request with one worker stopped: %d %s", r.Status, r.Content)
		}
	}
	if err := ws[0].cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, fe, 2)
	for _, w := range ws {
		noLeaks(t, w)
	}
}

// A restarted frontend gets every worker back within a lease: their heartbeats find it has forgotten
// them, and they register again.
func TestFrontendRestart(t *testing.T) {
	fe, _ := topology(t, nil, "worker", "worker")
	if r := chat(t, fe.url, user(prompts[0]), 4, false); r.Status != 200 {
		t.Fatalf("before: %d %s", r.Status, r.Content)
	}
	fe.kill()
	fe.start(t)
	waitHealthy(t, fe, 2)
	if r := chat(t, fe.url, user(prompts[0]), 4, true); r.Status != 200 || r.Chunks < 2 {
		t.Fatalf("after the restart: %d %s", r.Status, r.Content)
	}
}

// `radix serve --profile` starts the profile's processes, prints the frontend URL and serves.
func TestProfile(t *testing.T) {
	cmd := exec.Command(binary, "serve", "--profile", "sglang-router", "--model", model)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	url, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("no URL printed: %v", err)
	}
	url = strings.TrimSpace(url)
	r := chat(t, url, []map[string]string{{"role": "user", "content": prompts[0]}}, 8, true)
	if r.Status != 200 || r.Chunks < 2 {
		t.Fatalf("chat through the profile: %d %q", r.Status, r.Content)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("profile exit: %v", err)
	}
	if resp, err := http.Get(url + "/health"); err == nil {
		resp.Body.Close()
		t.Fatal("the frontend outlived its profile")
	}
}
