package tui

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/radixops/radix/kube"
	"github.com/radixops/radix/kube/kubefake"
)

const firstProfile = "sglang-aggregated-default"

// freshMachine is the embedded environment before anything was deployed: no deployments, the
// blueprint profiles, and the first-deploy key configured as the console configures it.
func freshMachine(t *testing.T, w, h int, tweak func(*Options)) (*harness, *kubefake.Cluster) {
	t.Helper()
	fake := kubefake.New(kube.Info{Context: kube.EmbeddedContext, Namespace: "dynamo-cloud", Embedded: true})
	fake.Now = func() time.Time { return testNow }
	fake.StepDelay = 0
	for _, p := range kubefake.BlueprintProfiles() {
		fake.AddProfile(p)
	}
	hs := newHarness(t, w, h, func(o *Options) {
		o.Cluster = fake
		o.FirstDeploy = firstProfile
		if tweak != nil {
			tweak(o)
		}
	})
	hs.waitScreen("no deployments here")
	return hs, fake
}

func TestFirstScreenInvitesTheFirstDeploy(t *testing.T) {
	for _, sz := range [][2]int{{120, 40}, {80, 24}} {
		t.Run(goldenName("first-screen", sz), func(t *testing.T) {
			h, _ := freshMachine(t, sz[0], sz[1], nil)
			s := h.screen()
			for _, want := range []string{"press n to deploy " + firstProfile, "c chats with it", "l follows its logs", "ctrl-n (or :deploy)"} {
				if !strings.Contains(s, want) {
					t.Errorf("first screen lacks %q:\n%s", want, s)
				}
			}
			h.golden("screen-" + goldenName("first-screen", sz))
		})
	}
}

func TestOneKeyDeploysTheFirstProfile(t *testing.T) {
	h, fake := freshMachine(t, 120, 40, nil)
	h.press("?")
	h.waitScreen("deploy now")
	h.press("esc", "n")
	h.waitScreen("deploying " + firstProfile)
	h.waitScreen("c chats with it")
	ds := fake.Deployments()
	if len(ds) != 1 || ds[0].Name != firstProfile || ds[0].Profile != firstProfile || ds[0].Namespace != "dynamo-cloud" {
		t.Fatalf("deployed %+v, want %s with its defaults in the current namespace", ds, firstProfile)
	}
	h.press("esc")
	h.waitScreen("successful")
	if strings.Contains(h.screen(), "no deployments here") {
		t.Fatalf("the invitation stays after the first deploy:\n%s", h.screen())
	}
	// The key stays on the table: pressed again it applies the same deployment, never a second one
	// (a cluster updates it in place; the embedded environment refuses the taken name).
	h.press("n")
	h.waitScreen("esc returns")
	if n := len(fake.Deployments()); n != 1 {
		t.Fatalf("%d deployments after a second n", n)
	}
}

func TestFirstDeployKeyHiddenWhenNotAllowed(t *testing.T) {
	for name, tweak := range map[string]func(*Options){
		"read-only":       func(o *Options) { o.ReadOnly = true },
		"unknown profile": func(o *Options) { o.FirstDeploy = "no-such-profile" },
		"unset":           func(o *Options) { o.FirstDeploy = "" },
	} {
		t.Run(name, func(t *testing.T) {
			h, fake := freshMachine(t, 120, 40, tweak)
			if s := h.screen(); strings.Contains(s, "press n") {
				t.Fatalf("invitation offered:\n%s", s)
			}
			h.press("?")
			h.waitScreen("GENERAL")
			if strings.Contains(h.screen(), "deploy now") {
				t.Fatalf("help lists the first-deploy key:\n%s", h.screen())
			}
			h.press("esc", "n")
			h.settle()
			if n := len(fake.Deployments()); n != 0 || h.top().Name() != "deployments" {
				t.Fatalf("n did something: %d deployments, view %s", n, h.top().Name())
			}
		})
	}
}

// The note about what is served (the demo model in place of the blueprint's) is on the table's
// status line and in the detail view.
func TestModelNoteShown(t *testing.T) {
	h, fake := freshMachine(t, 80, 24, nil)
	d := kubefake.DeploymentFor(kubefake.BlueprintProfiles()[0], "dynamo-cloud", "agg", testNow)
	d.State, d.Model = kube.StateSuccessful, "radix-demo"
	d.Note = "deepseek-ai/DeepSeek-R1-Distill-Llama-8B is not on this machine, so the embedded environment serves radix's demo model"
	fake.Upsert(d, nil)
	h.waitScreen("radix-demo")
	h.waitScreen("agg: deepseek-ai/DeepSeek-R1-Distill-Llama-8B is not on this machine")
	h.press("enter")
	h.waitScreen("Note:")
	if s := h.screen(); !strings.Contains(s, "demo model") {
		t.Fatalf("detail lacks the whole note:\n%s", s)
	}
}

// Without a GPU the panel says so and describes the CPU runtime: threads, weights, KV pool.
func TestGPUPanelLocalRuntime(t *testing.T) {
	for _, sz := range [][2]int{{120, 40}, {80, 24}} {
		t.Run(goldenName("gpu-local", sz), func(t *testing.T) {
			h, fake := freshMachine(t, sz[0], sz[1], nil)
			fake.SetGPUs(kube.GPUReport{
				Local: &kube.LocalRuntime{Threads: 2, WeightBytes: 9 << 20, KVTokens: 4096, KVUsed: 1024},
				Note:  "no NVIDIA GPU on this machine (no NVIDIA driver library): radix's runtime serves on the CPU",
			})
			h.press(":", "gpu", "enter")
			h.waitScreen("local CPU runtime")
			s := h.screen()
			for _, want := range []string{"no GPU on this machine", "threads", "weights in memory", "9.0 MiB", "1024 of 4096 tokens in use (25%)"} {
				if !strings.Contains(s, want) {
					t.Errorf("gpu panel lacks %q:\n%s", want, s)
				}
			}
			if strings.Contains(s, "PRODUCT") {
				t.Errorf("an empty GPU table is drawn:\n%s", s)
			}
			h.golden("screen-" + goldenName("gpu-local", sz))
		})
	}
}

// The first-deploy key is data like every other: config.yaml can rebind it, and the invitation and
// help follow.
func TestFirstDeployKeyRebound(t *testing.T) {
	if !slices.Contains(KnownActions(), "deploy-now") {
		t.Fatalf("deploy-now is not a known action: %v", KnownActions())
	}
	h, fake := freshMachine(t, 120, 40, func(o *Options) { o.Keymap = map[string][]string{"deploy-now": {"D"}} })
	if s := h.screen(); !strings.Contains(s, "press D to deploy") {
		t.Fatalf("invitation does not follow the keymap:\n%s", s)
	}
	h.press("n")
	h.settle()
	if len(fake.Deployments()) != 0 {
		t.Fatalf("the old key still deploys")
	}
	h.press("D")
	h.waitScreen("esc returns")
	if len(fake.Deployments()) != 1 {
		t.Fatalf("D did not deploy")
	}
}
