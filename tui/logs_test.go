package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"pgregory.net/rapid"

	"github.com/radixops/radix/kube"
)

func openLogs(t *testing.T, w, hgt int, tweak func(*Options)) (*harness, *logs) {
	t.Helper()
	h := newHarness(t, w, hgt, tweak)
	h.waitScreen("sglang-agg")
	h.press("l")
	h.waitScreen("Successfully registered")
	return h, h.top().(*logs)
}

func appendLines(h *harness, n int, f func(i int) string) {
	for i := 0; i < n; i++ {
		h.fake.AppendLog("dynamo-cloud", "sglang-agg", "sglang-agg-sglangworker-x", f(i))
	}
}

func TestLogsFollowGoldenAndKeys(t *testing.T) {
	for _, sz := range [][2]int{{120, 40}, {80, 24}} {
		h, v := openLogs(t, sz[0], sz[1], nil)
		h.golden(goldenName("logs", sz))
		appendLines(h, 5, func(i int) string { return fmt.Sprintf("Decode batch. #running-req: %d, token usage: 0.0%d", i, i) })
		h.waitScreen("#running-req: 4")
		h.press("t")
		if !v.timestamps || !strings.Contains(h.screen(), "10:00:00.000") {
			t.Fatalf("timestamps:\n%s", h.screen())
		}
		h.press("t", "f")
		if strings.Contains(h.screen(), "Context:") {
			t.Fatal("fullscreen kept the header")
		}
		if n := len(strings.Split(h.m.View(), "\n")); n != sz[1] {
			t.Fatalf("fullscreen frame has %d lines", n)
		}
		h.press("f")
		if !strings.Contains(h.screen(), "Context:") {
			t.Fatal("header did not come back")
		}
	}
}

func TestLogsPresetsAndRegexFilterEveryLine(t *testing.T) {
	h, v := openLogs(t, 120, 40, nil)
	h.press("E")
	if v.ring.count() != 0 || !strings.Contains(h.screen(), "[errors]") {
		t.Fatalf("errors preset on clean history: %d lines\n%s", v.ring.count(), h.screen())
	}
	h.press("s", "up", "s") // pausing with nothing on screen (found by the end-to-end test: a panic)
	appendLines(h, 3, func(i int) string { return []string{"all good", "RuntimeError: CUDA out of memory", "fine"}[i] })
	h.waitScreen("CUDA out of memory")
	if v.ring.count() != 1 {
		t.Fatalf("errors preset passes %d lines", v.ring.count())
	}
	h.press("E", "C")
	if v.ring.count() != 1 || !strings.Contains(h.screen(), "#cached-token") {
		t.Fatalf("cache preset: %d\n%s", v.ring.count(), h.screen())
	}
	h.press("R")
	if v.ring.count() != 1 || !strings.Contains(h.screen(), "Successfully registered") {
		t.Fatalf("register preset: %d", v.ring.count())
	}
	h.press("D")
	h.press("x") // clear all filters
	total := v.ring.count()
	h.press("/", "good|fine")
	if v.ring.count() != 2 {
		t.Fatalf("regex passes %d lines", v.ring.count())
	}
	h.press("enter")
	// Matches are highlighted (reverse video without colour).
	if raw := h.m.View(); !strings.Contains(raw, "\x1b[7mgood") {
		t.Fatalf("match not highlighted: %q", raw)
	}
	h.press("/", "ctrl+u", "!good|fine", "enter")
	if v.ring.count() != total-2 {
		t.Fatalf("inverted regex passes %d of %d", v.ring.count(), total)
	}
	// The filter sees lines that arrive afterwards.
	appendLines(h, 2, func(i int) string { return "fine again" })
	appendLines(h, 1, func(i int) string { return "a new kind of line" })
	h.waitScreen("a new kind of line")
	if strings.Contains(h.screen(), "fine again") {
		t.Fatal("inverted filter let a matching line through")
	}
	h.press("/", "ctrl+u", "[", "enter")
	h.waitScreen("bad regex")
}

func TestLogsPauseAndScroll(t *testing.T) {
	h, v := openLogs(t, 80, 24, nil)
	appendLines(h, 100, func(i int) string { return fmt.Sprintf("line %03d", i) })
	h.waitScreen("line 099")
	h.press("s")
	if v.follow {
		t.Fatal("s did not pause")
	}
	before := h.screen()
	appendLines(h, 5, func(i int) string { return fmt.Sprintf("late %d", i) })
	h.waitFor("late lines counted", func() bool { return v.ring.n == 108 })
	if after := h.screen(); strings.Contains(after, "late 4") || !strings.Contains(after, "paused") {
		t.Fatalf("paused view moved:\nbefore\n%s\nafter\n%s", before, after)
	}
	h.press("home")
	if !strings.Contains(h.screen(), "max_total_num_tokens") {
		t.Fatalf("home did not go to the first line:\n%s", h.screen())
	}
	h.press("pgdown")
	if !strings.Contains(h.screen(), "line 02") {
		t.Fatalf("pgdown:\n%s", h.screen())
	}
	h.press("end")
	if !v.follow || !strings.Contains(h.screen(), "late 4") {
		t.Fatalf("end did not follow:\n%s", h.screen())
	}
}

func TestLogsWrap(t *testing.T) {
	h, _ := openLogs(t, 80, 24, nil)
	long := strings.Repeat("abcdefghij", 15) + "END"
	appendLines(h, 1, func(int) string { return long })
	h.waitScreen("sglangworker-x abcdefghij")
	if strings.Contains(h.screen(), "END") {
		t.Fatal("unwrapped line not truncated")
	}
	h.press("w")
	if !strings.Contains(h.screen(), "END") {
		t.Fatalf("wrapped line lost its end:\n%s", h.screen())
	}
}

func TestLogsBufferBoundAndDroppedCount(t *testing.T) {
	h, v := openLogs(t, 120, 40, func(o *Options) { o.LogBuffer = 100 })
	appendLines(h, 250, func(i int) string { return fmt.Sprintf("n%d", i) })
	h.waitScreen("n249")
	if v.ring.n != 100 || v.ring.dropped() != 153 {
		t.Fatalf("held %d dropped %d", v.ring.n, v.ring.dropped())
	}
	if !strings.Contains(h.screen(), "153 dropped (buffer 100)") {
		t.Fatalf("dropped count not shown:\n%s", h.screen())
	}
}

func TestLogsSinceRestartsStream(t *testing.T) {
	h, v := openLogs(t, 120, 40, nil)
	gen := v.gen
	h.press("3")
	h.waitScreen("since 5m")
	if v.gen == gen || v.since.Minutes() != 5 {
		t.Fatalf("since 5m: gen %d since %v", v.gen, v.since)
	}
	// history older than 5 minutes is gone: the startup line was 2 minutes ago, so it stays
	h.waitScreen("max_total_num_tokens")
	h.press("6")
	h.waitScreen("since 1h")
	h.press("0")
	h.waitFor("tail", func() bool { return v.since == 0 && !strings.Contains(h.screen(), "since") })
}

func TestLogsCopyOSC52(t *testing.T) {
	h, _ := openLogs(t, 120, 40, nil)
	h.press("c")
	h.waitScreen("copied")
	if got := h.clip.String(); !strings.HasPrefix(got, "\x1b]52;c;") {
		t.Fatalf("not an OSC52 sequence: %q", got)
	}
	env := map[string]string{"TMUX": "/tmp/tmux-0/default,1,0"}
	h2, _ := openLogs(t, 120, 40, func(o *Options) { o.Getenv = func(k string) string { return env[k] } })
	h2.press("c")
	h2.waitScreen("copied")
	if got := h2.clip.String(); !strings.HasPrefix(got, "\x1bPtmux;\x1b\x1b]52;c;") {
		t.Fatalf("not wrapped for tmux: %q", got)
	}
}

func TestLogsStreamErrorLinesAlwaysShown(t *testing.T) {
	h, _ := openLogs(t, 120, 40, nil)
	h.press("E")
	h.fake.AppendLogLine("dynamo-cloud", "sglang-agg", kube.LogLine{Pod: "p", Text: "stream reconnecting after EOF", Err: true})
	h.waitScreen("stream reconnecting")
}

func TestLogsControlCharactersStripped(t *testing.T) {
	h, _ := openLogs(t, 80, 24, nil)
	appendLines(h, 1, func(int) string { return "evil \x1b[2J\x1b]52;c;AAAA\x07 text" })
	h.waitScreen("evil")
	if raw := h.m.View(); strings.Contains(raw, "\x1b[2J") || strings.Contains(raw, "\x1b]52") {
		t.Fatalf("log line drove the terminal: %q", raw)
	}
	for _, l := range strings.Split(h.m.View(), "\n") {
		if ansi.StringWidth(l) != 80 {
			t.Fatalf("line width %d", ansi.StringWidth(l))
		}
	}
}

// TestLogRingMatchesModel checks the ring and its filtered index against a plain slice.
func TestLogRingMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		capacity := rapid.IntRange(1, 40).Draw(t, "cap")
		r := newLogRing(capacity)
		var all []string
		var fs []*filter
		for step := 0; step < rapid.IntRange(1, 300).Draw(t, "steps"); step++ {
			switch rapid.IntRange(0, 9).Draw(t, "op") {
			case 0:
				src := rapid.SampledFrom([]string{"", "a", "!a", "b|c", "^a", "x"}).Draw(t, "filter")
				f, err := parseFilter(src)
				if err != nil {
					t.Fatal(err)
				}
				fs = []*filter{f}
				r.setFilters(fs)
			default:
				s := rapid.StringMatching(`[abcx]{0,3}`).Draw(t, "line")
				r.push(logEntry{text: s})
				all = append(all, s)
			}
			held := all[max(len(all)-capacity, 0):]
			var want []string
			for _, s := range held {
				ok := true
				for _, f := range fs {
					ok = ok && f.match(s)
				}
				if ok {
					want = append(want, s)
				}
			}
			if r.count() != len(want) {
				t.Fatalf("count %d, want %d", r.count(), len(want))
			}
			for i, s := range want {
				if got := r.get(i).text; got != s {
					t.Fatalf("line %d: %q, want %q", i, got, s)
				}
			}
			if int(r.dropped()) != len(all)-len(held) {
				t.Fatalf("dropped %d, want %d", r.dropped(), len(all)-len(held))
			}
			if len(r.idx) > 2*capacity+1100 {
				t.Fatalf("index grew to %d", len(r.idx))
			}
		}
	})
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"", "!", "a|b", "!(?i)x", "[", "((", `\`, "!*"} {
		f.Add(s, "some line")
	}
	f.Fuzz(func(t *testing.T, src, line string) {
		fl, err := parseFilter(src)
		if err != nil {
			return
		}
		fl.match(line)
		for _, h := range fl.highlights(line) {
			if h[0] < 0 || h[1] > len(line) || h[0] > h[1] {
				t.Fatalf("bad range %v", h)
			}
		}
	})
}

// The console's preset keys are `radix logs --filter`'s presets: the same table, so C and --filter
// cache (and the others) select the same lines of every shape.
func TestLogPresetKeysAreTheCLIPresets(t *testing.T) {
	corpus := []string{
		"Prefill batch, #new-seq: 1, #new-token: 5, #cached-token: 35, token usage: 0.00, #running-req: 0, #queue-req: 0, ",
		"Prefill batch [7], #new-seq: 1, #new-token: 5, #cached-token: 35, full token usage: 0.00, swa token usage: 0.01, ",
		"Decode batch, #running-req: 1, #token: 52, token usage: 0.01, cpu graph: False, gen throughput (token/s): 31.25, #queue-req: 0, ",
		"KV cache pool is full. Retract requests. #retracted_reqs: 1, #new_token_ratio: 0.0980 -> 0.3487",
		"2025-05-13T13:47:38.880123Z  INFO dynamo_llm::discovery::watcher: Chat completions is ready",
		`{"time":"2025-05-13T13:47:38.880123Z","level":"ERROR","target":"dynamo_runtime","message":"connection refused"}`,
		"removed model deepseek", "Successfully registered LLM with runtime config", "bootstrap room 12345 assigned",
		"RuntimeError: CUDA out of memory", "GET /health 200", "radix tree evicted 32 tokens",
	}
	if len(logPresets) != len(kube.LogPresets) {
		t.Fatalf("%d console presets, %d CLI presets", len(logPresets), len(kube.LogPresets))
	}
	for i, p := range logPresets {
		kp := kube.LogPresets[i]
		if p.action != "preset-"+kp.Name || p.key != kp.Key {
			t.Fatalf("console preset %+v is not %+v", p, kp)
		}
		cf, err := parseFilter(p.re)
		if err != nil {
			t.Fatal(err)
		}
		lf, err := kube.ParseLogFilter(kp.Name, false)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range corpus {
			if cf.match(l) != lf.Match(l) {
				t.Errorf("key %s and --filter %s differ on %q", p.key, kp.Name, l)
			}
			if cf.match(l) {
				n++
			}
		}
		if n == 0 || n == len(corpus) {
			t.Errorf("preset %s selects %d of %d lines", kp.Name, n, len(corpus))
		}
	}
}

// When /metrics had no cache figure the cache panel says its cache figures come from the log lines,
// and why; a worker with neither says it has no cache data.
func TestLogFallbackShownInCachePanel(t *testing.T) {
	h := newHarness(t, 120, 40, nil)
	h.waitScreen("sglang-agg")
	h.press("j", "j") // sglang-router
	st, _ := h.fake.CacheStats(t.Context(), "dynamo-cloud", "sglang-router")
	if len(st) < 2 {
		t.Fatalf("stats %+v", st)
	}
	st[0].CacheSource, st[0].CacheNote = "logs", "/metrics has no cache figure: dynamo_component_kvstats_total_blocks is 0; #cached-token of 12 prefill batch lines"
	st[1].CacheSource, st[1].CacheNote = "", "/metrics has no cache figure (only request counts); no SGLang batch line in the log yet"
	h.fake.SetStats("dynamo-cloud", "sglang-router", st)
	h.press(":", "cache", "enter")
	h.waitScreen("cache from logs")
	scr := h.screen()
	for _, want := range []string{"(worker, load from metrics, cache from logs)", "cache: /metrics has no cache figure: dynamo_component_kvstats_total_blocks is 0",
		"(worker, from metrics, no cache data)"} {
		if !strings.Contains(scr, want) {
			t.Errorf("screen lacks %q:\n%s", want, scr)
		}
	}
}
