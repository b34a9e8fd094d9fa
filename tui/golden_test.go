package tui

import (
	"testing"

	"github.com/radixops/radix/kube"
)

// TestGoldenScreens snapshots every screen at both reference sizes.
func TestGoldenScreens(t *testing.T) {
	screens := []struct {
		name  string
		setup func(h *harness)
	}{
		{"help", func(h *harness) { h.press("?") }},
		{"delete-confirm", func(h *harness) { h.press("ctrl+d"); h.waitScreen("Press y") }},
		{"cache", func(h *harness) { h.press("j", "j", ":", "cache", "enter"); h.waitScreen("hit rate") }},
		{"chat", func(h *harness) {
			h.press("c")
			h.waitScreen("connected")
			h.press("what is a radix tree?", "enter")
			h.waitScreen("TTFT")
		}},
		{"deploy-profiles", func(h *harness) { h.press(":", "deploy", "enter"); h.waitScreen("choose a profile") }},
		{"deploy-preview", func(h *harness) {
			h.press(":", "deploy", "enter")
			h.waitScreen("choose a profile")
			h.press("enter", "enter")
			h.waitScreen("new deployment")
		}},
		{"deploy-progress", func(h *harness) {
			h.press(":", "deploy", "enter")
			h.waitScreen("choose a profile")
			h.press("enter", "ctrl+u", "demo", "enter")
			h.waitScreen("new deployment")
			h.press("a")
			h.waitScreen("esc returns")
		}},
		{"logs-filtered", func(h *harness) {
			h.press("l")
			h.waitScreen("registered")
			h.press("C", "/", "token", "enter")
		}},
		{"namespaces", func(h *harness) { h.press(":", "ns", "enter"); h.waitScreen("namespaces[") }},
		{"contexts", func(h *harness) { h.press(":", "ctx", "enter"); h.waitScreen("contexts[") }},
		{"command-line", func(h *harness) { h.press(":", "c") }},
	}
	for _, sc := range screens {
		for _, sz := range [][2]int{{120, 40}, {80, 24}} {
			t.Run(goldenName(sc.name, sz), func(t *testing.T) {
				h := newHarness(t, sz[0], sz[1], nil)
				h.fake.SetEndpoint("dynamo-cloud", "sglang-agg", "http://127.0.0.1:1")
				h.waitScreen("sglang-router")
				sc.setup(h)
				h.golden("screen-" + goldenName(sc.name, sz))
			})
		}
	}
	_ = kube.EmbeddedContext
}
