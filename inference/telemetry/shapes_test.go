package telemetry

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The shapes below are the message texts SGLang's scheduler (scheduler_metrics_mixin.log_prefill_stats /
// log_decode_stats) and Dynamo's frontend (discovery watcher) write, field for field: 0.5.0's
// "Prefill batch.", the current "Prefill batch,", "Prefill batch [N]," under SGLANG_LOG_FORWARD_ITERS,
// the disaggregated prefill worker's queues and input throughput, hybrid models' "full token usage"
// with "swa token usage" or "mamba usage", the decode side's "#full token", speculative and
// disaggregation fields and "cpu graph", and the frontend's model lines in their 0.5.0 and current forms.
type shape struct {
	name  string
	msg   string            // the event's message
	field map[string]string // tracing fields of the event (model_name), written after the message or into JSONL
	want  Record            // Time, Level, Target left out: the prefix gives them
}

var shapes = []shape{
	{"prefill 0.5.0", "Prefill batch. #new-seq: 1, #new-token: 2192, #cached-token: 35, token usage: 0.00, #running-req: 0, #queue-req: 0, ", nil,
		Record{Kind: KindPrefill, Prefill: PrefillBatch{NewSeq: 1, NewToken: 2192, CachedToken: 35}}},
	{"prefill current", "Prefill batch, #new-seq: 2, #new-token: 8, #cached-token: 4, token usage: 0.01, #running-req: 3, #queue-req: 1, ", nil,
		Record{Kind: KindPrefill, Prefill: PrefillBatch{NewSeq: 2, NewToken: 8, CachedToken: 4, TokenUsage: 0.01, Running: 3, Queued: 1}}},
	{"prefill forward iters", "Prefill batch [1042], #new-seq: 1, #new-token: 64, #cached-token: 960, token usage: 0.33, #running-req: 5, #queue-req: 0, ", nil,
		Record{Kind: KindPrefill, Prefill: PrefillBatch{Iter: 1042, NewSeq: 1, NewToken: 64, CachedToken: 960, TokenUsage: 0.33, Running: 5}}},
	{"prefill disaggregated", "Prefill batch, #new-seq: 1, #new-token: 512, #cached-token: 1536, token usage: 0.12, #running-req: 0, #queue-req: 0, #prealloc-req: 2, #inflight-req: 1, input throughput (token/s): 8123.45, ", nil,
		Record{Kind: KindPrefill, Prefill: PrefillBatch{NewSeq: 1, NewToken: 512, CachedToken: 1536, TokenUsage: 0.12, Disagg: true, PreallocReq: 2, InflightReq: 1, InputThroughput: 8123.45}}},
	{"prefill hybrid swa", "Prefill batch, #new-seq: 1, #new-token: 100, #cached-token: 28, full token usage: 0.05, swa token usage: 0.20, #running-req: 0, #queue-req: 0, ", nil,
		Record{Kind: KindPrefill, Prefill: PrefillBatch{NewSeq: 1, NewToken: 100, CachedToken: 28, TokenUsage: 0.05, SWATokenUsage: 0.2}}},
	{"prefill hybrid mamba", "Prefill batch [9], #new-seq: 3, #new-token: 300, #cached-token: 0, full token usage: 0.07, mamba usage: 0.10, #running-req: 1, #queue-req: 2, ", nil,
		Record{Kind: KindPrefill, Prefill: PrefillBatch{Iter: 9, NewSeq: 3, NewToken: 300, TokenUsage: 0.07, MambaUsage: 0.1, Running: 1, Queued: 2}}},
	{"decode 0.5.0", "Decode batch. #running-req: 2, #token: 3709, token usage: 0.02, cuda graph: True, gen throughput (token/s): 45.91, #queue-req: 0, ", nil,
		Record{Kind: KindDecode, Decode: DecodeBatch{Running: 2, Tokens: 3709, TokenUsage: 0.02, CudaGraph: true, CUDA: true, GenThroughput: 45.91}}},
	{"decode forward iters", "Decode batch [1080], #running-req: 2, #token: 3709, token usage: 0.02, cuda graph: True, gen throughput (token/s): 45.91, #queue-req: 0, ", nil,
		Record{Kind: KindDecode, Decode: DecodeBatch{Iter: 1080, Running: 2, Tokens: 3709, TokenUsage: 0.02, CudaGraph: true, CUDA: true, GenThroughput: 45.91}}},
	{"decode hybrid swa", "Decode batch, #running-req: 4, #full token: 5000, full token usage: 0.30, #swa token: 2048, swa token usage: 0.40, cuda graph: True, gen throughput (token/s): 120.50, #queue-req: 1, ", nil,
		Record{Kind: KindDecode, Decode: DecodeBatch{Running: 4, Tokens: 5000, TokenUsage: 0.3, SWATokenUsage: 0.4, CudaGraph: true, CUDA: true, GenThroughput: 120.5, Queued: 1}}},
	{"decode hybrid mamba", "Decode batch, #running-req: 1, #full token: 700, full token usage: 0.02, mamba num: 3, mamba usage: 0.01, cuda graph: False, gen throughput (token/s): 9.00, #queue-req: 0, ", nil,
		Record{Kind: KindDecode, Decode: DecodeBatch{Running: 1, Tokens: 700, TokenUsage: 0.02, MambaUsage: 0.01, CUDA: true, GenThroughput: 9}}},
	{"decode speculative", "Decode batch, #running-req: 8, #token: 9000, token usage: 0.09, accept len: 2.50, accept rate: 0.62, cuda graph: True, gen throughput (token/s): 800.00, #queue-req: 0, ", nil,
		Record{Kind: KindDecode, Decode: DecodeBatch{Running: 8, Tokens: 9000, TokenUsage: 0.09, CudaGraph: true, CUDA: true, GenThroughput: 800}}},
	{"decode disaggregated", "Decode batch, #running-req: 1, #token: 600, token usage: 0.01, pre-allocated usage: 0.02, #prealloc-req: 0, #transfer-req: 1, #retracted-req: 0, cuda graph: True, gen throughput (token/s): 30.00, #queue-req: 0, ", nil,
		Record{Kind: KindDecode, Decode: DecodeBatch{Running: 1, Tokens: 600, TokenUsage: 0.01, CudaGraph: true, CUDA: true, GenThroughput: 30}}},
	{"decode cpu", "Decode batch, #running-req: 1, #token: 52, token usage: 0.01, cpu graph: False, gen throughput (token/s): 31.25, #queue-req: 0, ", nil,
		Record{Kind: KindDecode, Decode: DecodeBatch{Running: 1, Tokens: 52, TokenUsage: 0.01, GenThroughput: 31.25}}},
	{"retract", "KV cache pool is full. Retract requests. #retracted_reqs: 1, #new_token_ratio: 0.0980 -> 0.3487", nil,
		Record{Kind: KindRetract, Retract: Retract{1, 0.098, 0.3487}}},
	{"startup", "max_total_num_tokens=665690, chunked_prefill_size=8192, max_prefill_tokens=16384, max_running_requests=4096, context_len=65536", nil,
		Record{Kind: KindStartup, Startup: Startup{665690, 8192, 16384, 4096, 65536}}},
	{"registered", "Successfully registered LLM with runtime config", nil, Record{Kind: KindRegistered}},
	{"registration succeeded", "Model registration succeeded; processing queued requests", nil, Record{Kind: KindRegistrationSucceed}},
	{"added model", "added model", map[string]string{"model_name": "Qwen/Qwen3-0.6B"}, Record{Kind: KindModelAdded, Model: "Qwen/Qwen3-0.6B"}},
	{"removed model current", "removed model", map[string]string{"model_name": "Qwen/Qwen3-0.6B"}, Record{Kind: KindModelRemoved, Model: "Qwen/Qwen3-0.6B"}},
	{"removed model 0.5.0 positional", "removed model deepseek-ai/DeepSeek-R1-Distill-Llama-8B", nil,
		Record{Kind: KindModelRemoved, Model: "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"}},
	{"chat completions ready", "Chat completions is ready", nil, Record{Kind: KindModelReady, Ready: "Chat completions"}},
	{"completions ready", "Completions is ready", nil, Record{Kind: KindModelReady, Ready: "Completions"}},
	{"generate ready", "Generate (token-in/token-out) is ready", nil, Record{Kind: KindModelReady, Ready: "Generate (token-in/token-out)"}},
}

const (
	esc   = "\x1b"
	dim   = esc + "[2m"
	bold  = esc + "[1m"
	ital  = esc + "[3m"
	green = esc + "[32m"
	reset = esc + "[0m"
)

// compactFields writes tracing fields as the compact formatter does: ` key="value"` (a &str field is
// recorded with Debug, so quoted), the key in italics and "=" dimmed when colours are on.
func compactFields(f map[string]string, ansi bool) string {
	var b strings.Builder
	for k, v := range f {
		q, _ := json.Marshal(v)
		if ansi {
			b.WriteString(" " + ital + k + reset + dim + "=" + reset + string(q))
		} else {
			b.WriteString(" " + k + "=" + string(q))
		}
	}
	return b.String()
}

// jsonl writes one record as Dynamo's JSONL formatter does: time, level, file, line, target, message,
// then the event's fields flattened (serde_json does not escape HTML characters).
func jsonl(t *testing.T, ts, level, target, msg string, f map[string]string) string {
	var b bytes.Buffer
	b.WriteString(`{"time":` + quote(t, ts) + `,"level":` + quote(t, level) + `,"file":"lib/llm/src/discovery/watcher.rs","line":187,"target":` +
		quote(t, target) + `,"message":` + quote(t, msg))
	for k, v := range f {
		b.WriteString("," + quote(t, k) + ":" + quote(t, v))
	}
	b.WriteString("}")
	return b.String()
}

func quote(t *testing.T, s string) string {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(b.String())
}

// Every shape under every prefix a pod's log has: none, Dynamo's compact prefix without and with ANSI
// colours (and inside a span, and with DYN_LOG_USE_LOCAL_TZ's offset), SGLang's Python prefix (with
// and without SGLANG_LOG_MS), SGLang's lines relayed by Dynamo's Python handler (target
// module.function), and JSONL. Each gives the record with its time.
func TestEveryShapeUnderEveryPrefix(t *testing.T) {
	micro := time.Date(2025, 5, 13, 13, 47, 38, 880123000, time.UTC)
	sec := time.Date(2025, 5, 13, 13, 47, 38, 0, time.UTC)
	milli := time.Date(2025, 5, 13, 13, 47, 38, 880e6, time.UTC)
	type prefix struct {
		name         string
		render       func(s shape) string
		time         time.Time
		level, targt string
	}
	prefixes := []prefix{
		{"bare", func(s shape) string { return s.msg + compactFields(s.field, false) }, time.Time{}, "", ""},
		{"dynamo", func(s shape) string {
			return "2025-05-13T13:47:38.880123Z  INFO dynamo_llm::discovery::watcher: " + s.msg + compactFields(s.field, false)
		}, micro, "INFO", "dynamo_llm::discovery::watcher"},
		{"dynamo 0.5.0 millis", func(s shape) string {
			return "2025-05-13T13:47:38.880Z  INFO dynamo_llm::discovery::watcher: " + s.msg + compactFields(s.field, false)
		}, milli, "INFO", "dynamo_llm::discovery::watcher"},
		{"dynamo ansi", func(s shape) string {
			return dim + "2025-05-13T13:47:38.880123Z" + reset + " " + green + " INFO" + reset + " " +
				bold + "dynamo_llm::discovery::watcher" + reset + dim + ":" + reset + " " + s.msg + compactFields(s.field, true)
		}, micro, "INFO", "dynamo_llm::discovery::watcher"},
		{"dynamo ansi in a span", func(s shape) string {
			return dim + "2025-05-13T13:47:38.880123Z" + reset + " " + esc + "[33m WARN" + reset + " " +
				bold + "http-request" + reset + ":" + " " + bold + "dynamo_llm::http::service" + reset + dim + ":" + reset + " " +
				s.msg + compactFields(s.field, true)
		}, micro, "WARN", "dynamo_llm::http::service"},
		{"dynamo local time zone", func(s shape) string {
			return "2025-05-13T15:47:38.880123+02:00  INFO dynamo_llm::discovery::watcher: " + s.msg + compactFields(s.field, false)
		}, micro, "INFO", "dynamo_llm::discovery::watcher"},
		{"sglang through dynamo", func(s shape) string {
			return dim + "2025-05-13T13:47:38.880123Z" + reset + " " + green + " INFO" + reset + " " +
				bold + "scheduler_metrics_mixin.log_prefill_stats" + reset + dim + ":" + reset + " " + s.msg + compactFields(s.field, true)
		}, micro, "INFO", "scheduler_metrics_mixin.log_prefill_stats"},
		{"sglang", func(s shape) string { return "[2025-05-13 13:47:38 TP0] " + s.msg + compactFields(s.field, false) }, sec, "", ""},
		{"sglang millis dp", func(s shape) string {
			return "[2025-05-13 13:47:38.880 DP0 TP0] " + s.msg + compactFields(s.field, false)
		}, milli, "", ""},
		{"jsonl", func(s shape) string {
			return jsonl(t, "2025-05-13T13:47:38.880123Z", "INFO", "dynamo_llm::discovery::watcher", s.msg, s.field)
		}, micro, "INFO", "dynamo_llm::discovery::watcher"},
	}
	for _, p := range prefixes {
		for _, s := range shapes {
			t.Run(p.name+"/"+s.name, func(t *testing.T) {
				line := p.render(s)
				got, ok := ParseLine(line)
				if !ok {
					t.Fatalf("not recognised: %q", line)
				}
				if !got.Time.Equal(p.time) {
					t.Fatalf("time %v, want %v (%q)", got.Time, p.time, line)
				}
				want := s.want
				want.Time, want.Level, want.Target = got.Time, p.level, p.targt
				if got != want {
					t.Fatalf("%q\ngot  %+v\nwant %+v", line, got, want)
				}
				if lt, ok := LineTime(line); ok != !p.time.IsZero() || !lt.Equal(p.time) {
					t.Fatalf("LineTime %v %v, want %v", lt, ok, p.time)
				}
			})
		}
	}
}

// The stats of a worker whose lines mix the forms fold to the same figures whatever the prefix.
func TestCacheStatsOverShapes(t *testing.T) {
	var s CacheStats
	for _, sh := range shapes {
		if !s.AddLine("2025-05-13T13:47:38.880123Z  INFO scheduler_metrics_mixin.log_prefill_stats: " + sh.msg + compactFields(sh.field, false)) {
			t.Fatalf("not recognised: %s", sh.name)
		}
	}
	// Prefill #new-token 2192+8+64+512+100+300, #cached-token 35+4+960+1536+28+0.
	if s.PrefillBatches != 6 || s.NewTokens != 3176 || s.CachedTokens != 2563 || s.DecodeBatches != 7 || !s.Registered {
		t.Fatalf("%+v", s)
	}
	// The last usage line is the CPU decode (0.01); a hybrid SWA line reports its fuller pool.
	var h CacheStats
	h.AddLine(shapes[4].msg)
	if s.TokenUsage != 0.01 || h.TokenUsage != 0.2 {
		t.Fatalf("usage %v, hybrid %v", s.TokenUsage, h.TokenUsage)
	}
}

func TestStripANSI(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain",
		dim + "2025" + reset + " " + green + " INFO" + reset:     "2025  INFO",
		esc + "]8;;http://x" + esc + "\\link" + esc + "]8;;\x07": "link",
		"a" + esc + "[38;5;196mred" + esc + "[m b":               "ared b",
		"cut " + esc + "[":        "cut ",
		"osc " + esc + "]0;title": "osc ",
		"two " + esc + "c byte":   "two  byte",
		esc:                       "",
	} {
		if got := StripANSI(in); got != want {
			t.Errorf("StripANSI(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Message(dim + "2025-05-13T13:47:38.880123Z" + reset + " " + green + " INFO" + reset + " " + bold + "t" + reset + dim + ":" + reset + " hello world"); got != "hello world" {
		t.Errorf("Message: %q", got)
	}
}

func TestMalformedShapesAreRejected(t *testing.T) {
	for _, l := range []string{
		"Prefill batch [x], #new-seq: 1, #new-token: 1, #cached-token: 0, ",
		"Prefill batch [3] #new-seq: 1, #new-token: 1, #cached-token: 0, ",
		"Prefill batch, #new-seq: 1, #new-token: 1, #cached-token: 0, full token usage: high, ",
		"Decode batch, #running-req: 1, cpu graph: maybe, ",
		`{"time":"2025-05-13T13:47:38Z","level":"INFO","target":"t","message":"hello"}`,
		`{"time":"2025-05-13T13:47:38Z","message":"Prefill batch, #new-seq: 1"}`,
		"the model is ready",
		"Prefill batchy, #new-seq: 1, #new-token: 1, #cached-token: 0, ",
	} {
		if r, ok := ParseLine(l); ok {
			t.Errorf("accepted %q as %+v", l, r)
		}
	}
	// A JSONL record without a message is not a record of Dynamo's logger: it is read as plain text.
	if r, ok := ParseLine(`{"msg":"Completions is ready"}`); ok {
		t.Errorf("accepted %+v", r)
	}
}

func FuzzStripANSI(f *testing.F) {
	for _, s := range []string{"", "x", dim + "a" + reset, esc + "]0;t\x07", esc + "[", esc + "]", esc + esc + "[1m", "\x1b\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := StripANSI(s)
		if strings.IndexByte(out, 0x1b) >= 0 {
			t.Fatalf("escape left in %q", out)
		}
		if len(out) > len(s) || StripANSI(out) != out {
			t.Fatalf("not a stripping: %q -> %q", s, out)
		}
		_, _ = LineTime(s)
		_ = Message(s)
	})
}
