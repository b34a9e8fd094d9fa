package tui

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/charmbracelet/x/ansi"

	"github.com/radixops/radix/kube"
)

func TestDeploymentsGoldenAndLive(t *testing.T) {
	for _, sz := range [][2]int{{120, 40}, {80, 24}} {
		h := newHarness(t, sz[0], sz[1], nil)
		h.waitScreen("sglang-router")
		h.golden(goldenName("deployments", sz))
		if err := h.fake.SetState("dynamo-cloud", "sglang-router", kube.StateFailed, "some_resources_are_not_ready", "Resources not ready: sglang-router-sglangworker: OOMKilled"); err != nil {
			t.Fatal(err)
		}
		h.press("G", "G") // any key; make sure the row under the cursor is the failing one below
		h.waitScreen("failed")
	}
}

func goldenName(base string, sz [2]int) string {
	return base + "-" + itoa(sz[0]) + "x" + itoa(sz[1])
}

func itoa(i int) string { return strconv.Itoa(i) }

func teaSize(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }

func rows(h *harness) []kube.Deployment { return h.m.stack[0].(*deployments).rows }

func names(ds []kube.Deployment) string {
	var n []string
	for _, d := range ds {
		n = append(n, d.Name)
	}
	return strings.Join(n, ",")
}

func TestFailingMessageShownAt80Columns(t *testing.T) {
	h := newHarness(t, 80, 24, nil)
	h.press("0")
	h.waitScreen("llama-broken")
	for i := 0; i < 4 && !strings.Contains(h.screen(), "ImagePullBackOff"); i++ {
		h.press("j")
	}
	if !strings.Contains(h.screen(), "llama-broken: Resources not ready: llama-broken-sglangworker: ImagePullBackOff") {
		t.Fatalf("the Ready message of the failing deployment is not on screen:\n%s", h.screen())
	}
}

func TestFilterRegexAndInvert(t *testing.T) {
	h := newHarness(t, 120, 40, nil)
	h.waitScreen("sglang-router")
	h.press("/", "rout")
	if got := names(rows(h)); got != "sglang-router" {
		t.Fatalf("filter rout: %s", got)
	}
	h.press("enter")
	if !strings.Contains(h.screen(), "</rout>") {
		t.Fatalf("applied filter not shown:\n%s", h.screen())
	}
	h.press("/", "backspace", "backspace", "backspace", "backspace", "!agg|disagg")
	if got := names(rows(h)); got != "sglang-router" {
		t.Fatalf("inverted filter: %s", got)
	}
	h.press("backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "(")
	if !strings.Contains(h.screen(), "bad regex") {
		t.Fatalf("bad regex not reported:\n%s", h.screen())
	}
	h.press("esc")
	if got := names(rows(h)); got != "sglang-agg,sglang-disagg,sglang-router" {
		t.Fatalf("after esc: %s", got)
	}
	// The filter applies to snapshots that arrive later too.
	h.press("/", "new", "enter")
	h.fake.Upsert(kube.Deployment{Name: "brand-new", Namespace: "dynamo-cloud", State: kube.StatePending}, nil)
	h.waitFor("new deployment through the filter", func() bool { return names(rows(h)) == "brand-new" })
}

func TestRunesArrivingTogetherAreSeparateKeys(t *testing.T) {
	h := newHarness(t, 120, 40, nil)
	h.waitScreen("sglang-router")
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("/rout")})
	if got := names(rows(h)); got != "sglang-router" || !h.top().Capturing() {
		t.Fatalf("\"/rout\" in one message: rows %s", got)
	}
}

func TestSortKeys(t *testing.T) {
	h := newHarness(t, 120, 40, nil)
	h.press("0")
	h.waitScreen("llama-broken")
	h.press("N")
	if got := names(rows(h)); got != "sglang-router,sglang-disagg,sglang-agg,llama-broken" {
		t.Fatalf("name descending: %s", got)
	}
	h.press("S")
	if got := names(rows(h)); !strings.HasPrefix(got, "llama-broken,") {
		t.Fatalf("state sort puts failing first: %s", got)
	}
	h.press("A")
	if got := names(rows(h)); got != "llama-broken,sglang-router,sglang-disagg,sglang-agg" {
		t.Fatalf("age (newest first): %s", got)
	}
	h.press("G")
	for i, d := range rows(h)[1:] {
		if d.GPUs > rows(h)[i].GPUs {
			t.Fatalf("gpus not descending: %s", names(rows(h)))
		}
	}
}

func TestNamespacesAllAndFavourites(t *testing.T) {
	h := newHarness(t, 120, 40, nil)
	h.waitScreen("sglang-agg")
	h.press("0")
	h.waitFor("all namespaces", func() bool { return len(rows(h)) == 4 })
	if !strings.Contains(h.screen(), "Namespace: all") {
		t.Fatalf("header:\n%s", h.screen())
	}
	h.press("2") // favourite 2 = team-a
	h.waitFor("team-a", func() bool { return names(rows(h)) == "llama-broken" })
	h.press("1")
	h.waitFor("dynamo-cloud", func() bool { return len(rows(h)) == 3 })
	h.press(":", "ns team-a", "enter")
	h.waitFor(":ns team-a", func() bool { return names(rows(h)) == "llama-broken" })
	h.press(":", "ns", "enter")
	h.waitScreen("namespaces[")
	h.golden("namespaces-80x24-in-120x40")
	h.press("end", "enter") // "all"
	h.waitFor("all from the picker", func() bool { return len(rows(h)) == 4 && h.top().Name() == "deployments" })
}

func TestDetailAndYAML(t *testing.T) {
	for _, sz := range [][2]int{{120, 40}, {80, 24}} {
		h := newHarness(t, sz[0], sz[1], nil)
		h.waitScreen("sglang-agg")
		h.press("enter")
		h.waitScreen("COMPONENTS")
		for _, s := range []string{"SERVICES", "SGLangWorker", "COMPONENTS", "sglang-agg-sglangworker", "PODS", "EVENTS", "all_resources_are_ready"} {
			if !strings.Contains(h.screen(), s) && sz[1] == 40 {
				t.Errorf("detail lacks %s", s)
			}
		}
		h.golden(goldenName("detail", sz))
		h.press("y")
		h.waitScreen("kind: DynamoGraphDeployment")
		h.golden(goldenName("yaml", sz))
		h.press("esc")
		if h.top().Name() != "deployments" {
			t.Fatalf("esc did not go back: %s", h.top().Name())
		}
	}
}

func TestDetailFollowsWatch(t *testing.T) {
	h := newHarness(t, 120, 40, nil)
	h.waitScreen("sglang-agg")
	h.press("d")
	h.waitScreen("COMPONENTS")
	_ = h.fake.SetState("dynamo-cloud", "sglang-agg", kube.StateFailed, "some_resources_are_not_ready", "worker crashed")
	h.waitScreen("worker crashed")
}

func TestPodsCommandScrollsToPods(t *testing.T) {
	h := newHarness(t, 80, 24, nil)
	h.waitScreen("sglang-agg")
	h.press(":", "pods", "enter")
	h.waitFor("scrolled towards the pods", func() bool { return h.top().(*detail).offset > 0 })
	if !strings.Contains(h.screen(), "sglangworker-") {
		t.Fatalf("pods not on screen:\n%s", h.screen())
	}
}

func TestDeleteConfirmation(t *testing.T) {
	h := newHarness(t, 120, 40, nil)
	h.waitScreen("sglang-agg")
	h.press("ctrl+d")
	h.waitScreen("Delete DynamoGraphDeployment dynamo-cloud/sglang-agg?")
	if !strings.Contains(h.screen(), "2 services (Frontend ×1, SGLangWorker ×1)") || !strings.Contains(h.screen(), "its 2 pods and frees 1 GPUs") {
		t.Fatalf("confirmation does not name what goes:\n%s", h.screen())
	}
	h.golden("delete-confirm-120x40")
	h.press("n")
	h.waitScreen("cancelled")
	if len(rows(h)) != 3 {
		t.Fatal("cancel deleted something")
	}
	h.press("ctrl+d")
	h.waitScreen("Press y to confirm")
	h.press("y")
	h.waitFor("deletion", func() bool { return len(rows(h)) == 2 })
	h.waitScreen("sglang-agg deleted")
}

func TestReadOnlyHidesMutatingActions(t *testing.T) {
	h := newHarness(t, 120, 40, func(o *Options) { o.ReadOnly = true })
	h.waitScreen("sglang-agg")
	if s := h.screen(); strings.Contains(s, "<ctrl-d>") || !strings.Contains(s, "[read-only]") {
		t.Fatalf("read-only header:\n%s", s)
	}
	h.press("ctrl+d")
	h.settle()
	if h.m.confirm != nil {
		t.Fatal("delete offered in read-only mode")
	}
	h.press("?")
	if s := h.screen(); strings.Contains(s, "delete") || !strings.Contains(s, "describe") {
		t.Fatalf("help in read-only mode:\n%s", s)
	}
	h.press("q", ":", "deploy", "enter")
	h.waitScreen("not allowed")
	if h.top().Name() != "deployments" {
		t.Fatal("wizard opened in read-only mode")
	}
}

func TestRBACFiltersBindings(t *testing.T) {
	h := newHarness(t, 120, 40, nil)
	h.fake.Deny(kube.ActionLogs)
	h.press(":", "ns dynamo-cloud", "enter") // re-reads permissions
	h.waitFor("permissions", func() bool { return h.m.sh.perms != nil && !h.m.sh.perms[kube.ActionLogs] })
	h.waitScreen("sglang-agg")
	if strings.Contains(h.screen(), "<l> logs") {
		t.Fatalf("logs hint shown without permission:\n%s", h.screen())
	}
	h.press("l")
	h.settle()
	if h.top().Name() != "deployments" {
		t.Fatal("logs opened without permission")
	}
}

func TestKeymapOverride(t *testing.T) {
	h := newHarness(t, 120, 40, func(o *Options) {
		o.Keymap = map[string][]string{"logs": {"L"}, "deployments.describe": {"enter"}}
	})
	h.waitScreen("sglang-agg")
	if !strings.Contains(h.screen(), "<L> logs") {
		t.Fatalf("rebound key not in header:\n%s", h.screen())
	}
	h.press("l")
	h.settle()
	if h.top().Name() != "deployments" {
		t.Fatal("old key still works")
	}
	h.press("d") // describe is now enter only
	h.settle()
	if h.top().Name() != "deployments" {
		t.Fatal("d still describes")
	}
	h.press("L")
	h.waitFor("logs", func() bool { return h.top().Name() == "logs" })
}

func TestHelpIsGeneratedFromBindings(t *testing.T) {
	h := newHarness(t, 120, 40, nil)
	h.waitScreen("sglang-agg")
	h.press("?")
	s := h.screen()
	for _, b := range h.m.sh.bindings(h.top()) {
		if !strings.Contains(s, b.Help) {
			t.Errorf("help lacks %q", b.Help)
		}
	}
	h.golden("help-120x40")
	h.press("x")
	if h.m.help {
		t.Fatal("help did not close")
	}
}

func TestCommandModeCompletionAndErrors(t *testing.T) {
	h := newHarness(t, 120, 40, nil)
	h.waitScreen("sglang-agg")
	h.press(":", "g", "tab")
	if v := h.m.cmdLine.Value(); v != "gpu" {
		t.Fatalf("completion of g: %q", v)
	}
	h.press("enter")
	h.waitScreen("g5-gpu-karpenter")
	h.golden("gpu-120x40")
	h.press(":", "c")
	if !strings.Contains(h.screen(), "cache chat ctx") {
		t.Fatalf("candidates not listed:\n%s", h.screen())
	}
	h.press("esc", ":", "bogus", "enter")
	h.waitScreen(`unknown command "bogus"`)
	if !strings.Contains(h.screen(), "g5-gpu-karpenter") {
		t.Fatal("the flash hid the screen")
	}
	h.press(":", "dgd", "enter")
	if h.top().Name() != "deployments" {
		t.Fatal(":dgd did not go home")
	}
	h.press(":", "ns te", "tab")
	if v := h.m.cmdLine.Value(); v != "ns team-a" {
		t.Fatalf("namespace completion: %q", v)
	}
	h.press("esc", ":", "q", "enter")
	h.settle()
	if !h.quit {
		t.Fatal(":q did not quit")
	}
}

func TestContextSwitch(t *testing.T) {
	h := newHarness(t, 120, 40, func(o *Options) {
		o.Contexts = func(context.Context) ([]string, error) { return []string{"demo-eks", "staging"}, nil }
	})
	h.waitScreen("sglang-agg")
	h.press(":", "ctx", "enter")
	h.waitScreen("staging")
	h.golden("contexts-120x40")
	h.press("down", "down", "enter")
	h.waitScreen("Context: staging")
	h.waitScreen("no deployments here")
	h.press(":", "ctx "+kube.EmbeddedContext, "enter")
	h.waitScreen("Context: " + kube.EmbeddedContext)
}

func TestGPUAndCachePanels(t *testing.T) {
	h := newHarness(t, 80, 24, nil)
	h.waitScreen("sglang-agg")
	h.press(":", "gpu", "enter")
	h.waitScreen("NVIDIA")
	h.golden("gpu-80x24")
	h.press("esc", "j", "j") // sglang-router
	h.press(":", "cache", "enter")
	h.waitScreen("hit rate")
	if !strings.Contains(h.screen(), "from metrics") {
		t.Fatal("source not shown")
	}
	st, _ := h.fake.CacheStats(t.Context(), "dynamo-cloud", "sglang-router")
	for i := range st {
		st[i].At = testNow.Add(1)
		st[i].CacheHitRate = 0.9
	}
	h.fake.SetStats("dynamo-cloud", "sglang-router", st)
	h.press("r")
	h.waitScreen("90.0%")
	h.golden("cache-80x24")
}

func TestChatPane(t *testing.T) {
	h := newHarness(t, 120, 40, nil)
	h.fake.SetEndpoint("dynamo-cloud", "sglang-agg", "http://127.0.0.1:1")
	h.waitScreen("sglang-agg")
	h.press("c")
	h.waitScreen("connected to http://127.0.0.1:1")
	h.press("hello there", "enter")
	h.waitScreen("TTFT 200ms")
	if !strings.Contains(h.screen(), "bot: echo: hello there") {
		t.Fatalf("reply not streamed:\n%s", h.screen())
	}
	h.press("again", "enter")
	h.waitScreen("echo: again")
	h.press("ctrl+t")
	h.waitScreen("faster")
	if !strings.Contains(h.screen(), "4.0× faster") {
		t.Fatalf("cache test result:\n%s", h.screen())
	}
	h.press("ctrl+o", "down", "enter")
	if !strings.Contains(h.screen(), "model other-model") {
		t.Fatalf("model picker:\n%s", h.screen())
	}
	h.press("tab", "be brief")
	if h.top().(*chat).system.Value() != "be brief" {
		t.Fatal("system prompt not edited")
	}
	h.golden("chat-120x40")
	h.press("ctrl+l")
	if len(h.top().(*chat).turns) != 0 {
		t.Fatal("ctrl-l kept the conversation")
	}
	h.press("esc")
	h.waitFor("esc leaves chat", func() bool { return h.top().Name() == "deployments" })
}

func TestChatWithoutEndpointSaysWhy(t *testing.T) {
	h := newHarness(t, 80, 24, nil)
	h.waitScreen("sglang-agg")
	h.press("c")
	h.waitScreen("no frontend is")
	h.press("hi", "enter")
	h.waitScreen("not connected")
}

func TestDeployWizard(t *testing.T) {
	h := newHarness(t, 120, 40, func(o *Options) {
		o.ValidateOverride = func(k, v string) error {
			if k == "name" && strings.ContainsAny(v, "_ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
				return errString("an RFC 1123 subdomain: lowercase letters, digits, '-', '.'")
			}
			if k == "page-size" && v != "16" && v != "32" {
				return errString("page-size must be 16 or 32")
			}
			return nil
		}
	})
	h.waitScreen("sglang-agg")
	h.press(":", "deploy", "enter")
	h.waitScreen("choose a profile")
	h.golden("deploy-profiles-120x40")
	h.press("down", "enter")
	h.waitScreen("sglang-router: overrides")
	// name: replace with an invalid one, see the error as typed, then fix it
	h.press("ctrl+u", "Bad_Name")
	if !strings.Contains(h.screen(), "RFC 1123 subdomain") {
		t.Fatalf("invalid name not flagged as typed:\n%s", h.screen())
	}
	h.press("enter")
	h.waitScreen("name: an RFC 1123 subdomain")
	h.press("ctrl+u", "r2")
	h.press("tab", "tab", "tab", "64")
	h.waitScreen("page-size must be 16 or 32")
	h.press("backspace", "backspace", "32")
	h.golden("deploy-form-120x40")
	h.press("enter")
	h.waitScreen("new deployment")
	h.press("tab", "tab")
	h.waitScreen("kv-events")
	h.golden("deploy-checks-120x40")
	h.press("a")
	h.waitScreen("r2 is ready")
	h.press("esc")
	h.waitFor("new deployment in the table", func() bool { return strings.Contains(names(rows(h)), "r2") })
}

type errString string

func (e errString) Error() string { return string(e) }

func TestDeployWizardBlockingCheck(t *testing.T) {
	h := newHarness(t, 120, 40, nil)
	h.fake.SetChecks([]kube.Check{{Name: "hf-token-secret", Blocking: true, Message: "secret missing", Fix: "export HF_TOKEN and retry"}})
	h.waitScreen("sglang-agg")
	h.press("ctrl+n")
	h.waitScreen("choose a profile")
	h.press("enter", "enter")
	h.waitScreen("new deployment")
	h.press("a")
	h.waitScreen("fix: export HF_TOKEN and retry")
	if h.top().(*wizard).step != stepPreview {
		t.Fatal("applied despite a failing blocking check")
	}
}

func TestResizeKeepsFrameExact(t *testing.T) {
	h := newHarness(t, 120, 40, nil)
	h.waitScreen("sglang-agg")
	for _, sz := range [][2]int{{80, 24}, {200, 60}, {81, 25}, {80, 24}} {
		h.send(teaSize(sz[0], sz[1]))
		lines := strings.Split(h.m.View(), "\n")
		if len(lines) != sz[1] {
			t.Fatalf("%v: %d lines", sz, len(lines))
		}
		for i, l := range lines {
			if w := ansi.StringWidth(l); w != sz[0] {
				t.Fatalf("%v: line %d is %d wide", sz, i, w)
			}
		}
	}
}

func TestFlashExpiresAndNeverCoversBody(t *testing.T) {
	h := newHarness(t, 80, 24, nil)
	h.waitScreen("sglang-agg")
	h.send(flashMsg{text: "boom\nsecond line \x1b[31m", err: true})
	s := h.screen()
	if !strings.Contains(s, "boom") || strings.Contains(s, "second line") || !strings.Contains(s, "sglang-agg") {
		t.Fatalf("flash:\n%s", s)
	}
	h.send(flashExpireMsg{seq: h.m.flashSeq})
	if strings.Contains(h.screen(), "boom") {
		t.Fatal("flash did not expire")
	}
}

func TestQuitKey(t *testing.T) {
	h := newHarness(t, 80, 24, nil)
	h.press("ctrl+c")
	h.settle()
	if !h.quit {
		t.Fatal("ctrl-c did not quit")
	}
}

func TestLogsSaveWritesFilteredLines(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, 120, 40, func(o *Options) { o.SaveDir = dir })
	h.waitScreen("sglang-agg")
	h.press("l")
	h.waitScreen("registered")
	h.press("R", "ctrl+s")
	h.waitScreen("saved 1 lines")
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(files) != 1 {
		t.Fatalf("files: %v", files)
	}
	b, _ := os.ReadFile(files[0])
	if !strings.Contains(string(b), "Successfully registered") || strings.Contains(string(b), "Prefill") {
		t.Fatalf("saved:\n%s", b)
	}
}

// endingWatch closes its first watch at once, as a cluster whose connection dropped would.
type endingWatch struct {
	kube.Cluster
	calls int
}

func (e *endingWatch) Watch(ctx context.Context, ns string) (<-chan kube.Snapshot, error) {
	e.calls++
	if e.calls == 1 {
		ch := make(chan kube.Snapshot)
		close(ch)
		return ch, nil
	}
	return e.Cluster.Watch(ctx, ns)
}

func TestWatchEndedReconnects(t *testing.T) {
	var ew *endingWatch
	h := newHarness(t, 120, 40, func(o *Options) {
		ew = &endingWatch{Cluster: o.Cluster}
		o.Cluster = ew
	})
	h.waitScreen("watch ended; reconnecting")
	h.waitScreen("sglang-router") // the second watch, two seconds later
	if strings.Contains(h.screen(), "reconnecting") {
		t.Fatal("error kept after the new watch delivered")
	}
}
