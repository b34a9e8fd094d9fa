package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/radixops/radix/inference/engine"
	"github.com/radixops/radix/inference/model"
	"github.com/radixops/radix/inference/server"
	"github.com/radixops/radix/inference/telemetry"
)

func startServer(t *testing.T, disableCache bool) string {
	t.Helper()
	dir := t.TempDir()
	if err := model.WriteRandom(dir, model.RandomOptions{Arch: "llama", Shape: "tiny", Seed: 2, DType: "f32"}); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(dir, model.LoadOptions{DType: "f32"})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := m.NewKVPool(4096, 16)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.NewModelRunner(m), pool, engine.Config{ContextLen: m.Config().ContextLen,
		DisableRadixCache: disableCache, Logger: telemetry.NewLogger(nil, "")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	s := server.New(server.Config{ModelName: "tiny"})
	s.SetBackend(server.EngineBackend{E: e}, m.Tokenizer(), m.Config().ContextLen)
	h := httptest.NewServer(s.Handler())
	t.Cleanup(func() { h.Close(); cancel(); <-done; m.Close() })
	return h.URL
}

// Each workload runs against a live cache-off and cache-on server; the report adds up and shows the
// cache working where prompts share prefixes.
func TestRunWorkloads(t *testing.T) {
	off, on := startServer(t, true), startServer(t, false)
	for _, w := range []string{"shared-prefix", "multi-turn", "random"} {
		t.Run(w, func(t *testing.T) {
			o := Options{URLs: []string{off, on}, Workload: w, Groups: 2, PromptsPerGroup: 3, SystemLen: 30,
				QuestionLen: 5, OutputLen: 4, Conversations: 2, Turns: 3, Requests: 4, Concurrency: 3}
			reps, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int{"shared-prefix": 6, "multi-turn": 6, "random": 4}[w]
			for i, r := range reps {
				if r.Requests != want || r.Errors != 0 || r.OutputTokens != want*4 || r.TreeTimeFraction < 0 || r.PrefillComputed <= 0 {
					t.Fatalf("report %d: %+v", i, r)
				}
			}
			if reps[0].CachedTokens != 0 {
				t.Fatalf("cache-off server reported %d cached tokens", reps[0].CachedTokens)
			}
			if w != "random" && (reps[1].CachedTokens == 0 || reps[1].PrefillComputed >= reps[0].PrefillComputed) {
				t.Fatalf("cache-on: cached %d, computed %v vs %v", reps[1].CachedTokens, reps[1].PrefillComputed, reps[0].PrefillComputed)
			}
			var tab, js bytes.Buffer
			if err := WriteTable(&tab, reps); err != nil || !strings.Contains(tab.String(), "throughput × first") {
				t.Fatalf("table: %v\n%s", err, tab.String())
			}
			var back []Report
			if err := WriteJSON(&js, reps); err != nil || json.Unmarshal(js.Bytes(), &back) != nil || back[1] != reps[1] {
				t.Fatalf("json round trip: %v", err)
			}
		})
	}
	if _, err := Run(context.Background(), Options{URLs: []string{on}, Workload: "nope"}); err == nil {
		t.Fatal("unknown workload accepted")
	}
}

func TestParseMetrics(t *testing.T) {
	m := ParseMetrics(strings.NewReader(`# HELP x y
# TYPE radix:radix_tree_seconds_total counter
radix:radix_tree_seconds_total{model_name="a"} 1.5
radix:radix_tree_seconds_total{model_name="b"} 2
sglang:token_usage 0.25
bad{ 1
novalue
`))
	if m["radix:radix_tree_seconds_total"] != 3.5 || m["sglang:token_usage"] != 0.25 || len(m) != 2 {
		t.Fatalf("%v", m)
	}
}

func FuzzParseMetrics(f *testing.F) {
	f.Add("a 1\nb{x=\"}\"} 2\n# c\n")
	f.Add("{")
	f.Fuzz(func(t *testing.T, s string) {
		_ = ParseMetrics(strings.NewReader(s))
	})
}
