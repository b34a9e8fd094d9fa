package telemetry

import (
	"math"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestFormatExact(t *testing.T) {
	cases := []struct{ got, want string }{
		{PrefillBatch{NewSeq: 1, NewToken: 2192, CachedToken: 35}.V050String(),
			"Prefill batch. #new-seq: 1, #new-token: 2192, #cached-token: 35, token usage: 0.00, #running-req: 0, #queue-req: 0, "},
		{PrefillBatch{NewSeq: 1, NewToken: 2192, CachedToken: 35}.String(),
			"Prefill batch, #new-seq: 1, #new-token: 2192, #cached-token: 35, token usage: 0.00, #running-req: 0, #queue-req: 0, "},
		{PrefillBatch{Iter: 7, NewSeq: 1, NewToken: 512, CachedToken: 1536, TokenUsage: 0.12, Disagg: true, PreallocReq: 2, InflightReq: 1, InputThroughput: 8123.45}.String(),
			"Prefill batch [7], #new-seq: 1, #new-token: 512, #cached-token: 1536, token usage: 0.12, #running-req: 0, #queue-req: 0, #prealloc-req: 2, #inflight-req: 1, input throughput (token/s): 8123.45, "},
		{DecodeBatch{Running: 2, Tokens: 3709, TokenUsage: 0.02, CudaGraph: true, GenThroughput: 45.91}.V050String(),
			"Decode batch. #running-req: 2, #token: 3709, token usage: 0.02, cuda graph: True, gen throughput (token/s): 45.91, #queue-req: 0, "},
		{DecodeBatch{Running: 1, Tokens: 52, TokenUsage: 0.01, GenThroughput: 31.25}.String(),
			"Decode batch, #running-req: 1, #token: 52, token usage: 0.01, cpu graph: False, gen throughput (token/s): 31.25, #queue-req: 0, "},
		{DecodeBatch{Iter: 40, Running: 1, Tokens: 52, CUDA: true, CudaGraph: true}.String(),
			"Decode batch [40], #running-req: 1, #token: 52, token usage: 0.00, cuda graph: True, gen throughput (token/s): 0.00, #queue-req: 0, "},
		{Retract{Retracted: 1, RatioFrom: 0.098, RatioTo: 0.3487}.String(),
			"KV cache pool is full. Retract requests. #retracted_reqs: 1, #new_token_ratio: 0.0980 -> 0.3487"},
		{Startup{665690, 8192, 16384, 4096, 65536}.String(),
			"max_total_num_tokens=665690, chunked_prefill_size=8192, max_prefill_tokens=16384, max_running_requests=4096, context_len=65536"},
		{FormatPrefix(time.Date(2025, 5, 13, 13, 47, 38, 880e6, time.UTC), "info", "dynamo_llm::discovery", AddedModel("m")),
			`2025-05-13T13:47:38.880000Z  INFO dynamo_llm::discovery: added model model_name="m"`},
		{FormatPrefix(time.Date(2025, 5, 13, 13, 47, 38, 0, time.UTC), "ERROR", "t", "x"),
			"2025-05-13T13:47:38.000000Z ERROR t: x"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got  %q\nwant %q", c.got, c.want)
		}
	}
}

func TestParseLine(t *testing.T) {
	ts := time.Date(2025, 5, 13, 13, 47, 38, 880e6, time.UTC)
	cases := []struct {
		name string
		line string
		want Record
		ok   bool
	}{
		{"prefill 0.5.0 bare",
			"Prefill batch. #new-seq: 1, #new-token: 2192, #cached-token: 35, token usage: 0.00, #running-req: 0, #queue-req: 0, ",
			Record{Kind: KindPrefill, Prefill: PrefillBatch{NewSeq: 1, NewToken: 2192, CachedToken: 35}}, true},
		{"prefill newer with sglang prefix",
			"[2025-05-13 13:47:38 TP0] Prefill batch, #new-seq: 2, #new-token: 8, #cached-token: 4, token usage: 0.01, #running-req: 3, #queue-req: 1, input throughput (token/s): 123.45, ",
			Record{Kind: KindPrefill, Time: time.Date(2025, 5, 13, 13, 47, 38, 0, time.UTC),
				Prefill: PrefillBatch{NewSeq: 2, NewToken: 8, CachedToken: 4, TokenUsage: 0.01, Running: 3, Queued: 1, InputThroughput: 123.45}}, true},
		{"decode with dynamo prefix",
			"2025-05-13T13:47:38.880Z  INFO sglang.scheduler: Decode batch. #running-req: 2, #token: 3709, token usage: 0.02, cuda graph: True, gen throughput (token/s): 45.91, #queue-req: 0, ",
			Record{Kind: KindDecode, Time: ts, Level: "INFO", Target: "sglang.scheduler",
				Decode: DecodeBatch{Running: 2, Tokens: 3709, TokenUsage: 0.02, CudaGraph: true, CUDA: true, GenThroughput: 45.91}}, true},
		{"retract",
			"KV cache pool is full. Retract requests. #retracted_reqs: 1, #new_token_ratio: 0.0980 -> 0.3487",
			Record{Kind: KindRetract, Retract: Retract{1, 0.098, 0.3487}}, true},
		{"startup",
			"[2025-05-13 13:47:38] max_total_num_tokens=665690, chunked_prefill_size=8192, max_prefill_tokens=16384, max_running_requests=4096, context_len=65536, available_gpu_mem=3.2 GB",
			Record{Kind: KindStartup, Time: time.Date(2025, 5, 13, 13, 47, 38, 0, time.UTC), Startup: Startup{665690, 8192, 16384, 4096, 65536}}, true},
		{"registered",
			"2025-05-13T13:47:38.880Z  INFO dynamo_sglang: Successfully registered LLM with runtime config",
			Record{Kind: KindRegistered, Time: ts, Level: "INFO", Target: "dynamo_sglang"}, true},
		{"registration succeeded",
			"Model registration succeeded; processing queued requests",
			Record{Kind: KindRegistrationSucceed}, true},
		{"added model quoted",
			`2025-05-13T13:47:38.880Z  INFO dynamo_llm::discovery::watcher: added model model_name="Qwen/Qwen3-0.6B"`,
			Record{Kind: KindModelAdded, Time: ts, Level: "INFO", Target: "dynamo_llm::discovery::watcher", Model: "Qwen/Qwen3-0.6B"}, true},
		{"removed model",
			"removed model model_name=deepseek",
			Record{Kind: KindModelRemoved, Model: "deepseek"}, true},
		{"bad number", "Prefill batch. #new-seq: x, #new-token: 1, #cached-token: 0, ", Record{}, false},
		{"missing field", "Prefill batch. #new-seq: 1, ", Record{}, false},
		{"other line", "2025-05-13T13:47:38.880Z  INFO x: hello", Record{}, false},
		{"empty", "", Record{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := ParseLine(c.line)
			if ok != c.ok || !got.Time.Equal(c.want.Time) {
				t.Fatalf("ParseLine ok=%v time=%v, want ok=%v time=%v", ok, got.Time, c.ok, c.want.Time)
			}
			got.Time, c.want.Time = time.Time{}, time.Time{}
			if got != c.want {
				t.Fatalf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// Every line the runtime writes parses back to the values it was written from (floats at the
// printed precision), under any of the prefixes the console meets.
func TestRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := PrefillBatch{
			NewSeq: rapid.IntRange(0, 1<<20).Draw(t, "seq"), NewToken: rapid.IntRange(0, 1<<30).Draw(t, "new"),
			CachedToken: rapid.IntRange(0, 1<<30).Draw(t, "cached"), TokenUsage: round2(rapid.Float64Range(0, 1).Draw(t, "usage")),
			Running: rapid.IntRange(0, 4096).Draw(t, "run"), Queued: rapid.IntRange(0, 4096).Draw(t, "q"),
			InputThroughput: round2(rapid.Float64Range(0, 1e6).Draw(t, "in")),
		}
		d := DecodeBatch{Running: p.Running, Tokens: p.NewToken, TokenUsage: p.TokenUsage,
			CudaGraph: rapid.Bool().Draw(t, "cg"), GenThroughput: p.InputThroughput, Queued: p.Queued}
		prefix := rapid.SampledFrom([]string{"", "[2025-05-13 13:47:38 TP0] ", "2025-05-13T13:47:38.880Z  INFO radix::scheduler: "}).Draw(t, "prefix")

		p.Disagg = rapid.Bool().Draw(t, "disagg")
		if p.Disagg {
			p.PreallocReq, p.InflightReq = rapid.IntRange(0, 64).Draw(t, "pre"), rapid.IntRange(0, 64).Draw(t, "infl")
		} else {
			p.InputThroughput = 0
		}
		p.Iter = rapid.IntRange(0, 1<<20).Draw(t, "iter")
		r, ok := ParseLine(prefix + p.String())
		if !ok || r.Kind != KindPrefill || r.Prefill != p {
			t.Fatalf("current form: %v %+v want %+v", ok, r.Prefill, p)
		}
		old := p
		old.InputThroughput, old.Disagg, old.PreallocReq, old.InflightReq, old.Iter = 0, false, 0, 0, 0
		r, ok = ParseLine(prefix + p.V050String())
		if !ok || r.Prefill != old {
			t.Fatalf("0.5.0 form: %v %+v want %+v", ok, r.Prefill, old)
		}
		d.CUDA, d.Iter = rapid.Bool().Draw(t, "cuda"), p.Iter
		r, ok = ParseLine(prefix + d.String())
		if !ok || r.Kind != KindDecode || r.Decode != d {
			t.Fatalf("decode: %v %+v want %+v", ok, r.Decode, d)
		}
		d05 := d
		d05.CUDA, d05.Iter = true, 0
		r, ok = ParseLine(prefix + d.V050String())
		if !ok || r.Decode != d05 {
			t.Fatalf("0.5.0 decode: %v %+v want %+v", ok, r.Decode, d05)
		}
	})
}

func TestCacheStats(t *testing.T) {
	var s CacheStats
	lines := []string{
		"max_total_num_tokens=1000, chunked_prefill_size=64, max_prefill_tokens=128, max_running_requests=8, context_len=512",
		PrefillBatch{NewSeq: 1, NewToken: 100, CachedToken: 0, Running: 0}.V050String(),
		PrefillBatch{NewSeq: 1, NewToken: 10, CachedToken: 90, Running: 1, TokenUsage: 0.2}.String(),
		"some unrelated line",
		DecodeBatch{Running: 2, Tokens: 210, TokenUsage: 0.21, GenThroughput: 12.5, Queued: 3}.String(),
		Retract{2, 0.1, 0.4}.String(),
		MsgRegistered,
	}
	n := 0
	for _, l := range lines {
		if s.AddLine(l) {
			n++
		}
	}
	if n != 6 {
		t.Fatalf("recognised %d lines, want 6", n)
	}
	if got := s.HitRate(); math.Abs(got-0.45) > 1e-9 {
		t.Fatalf("hit rate %v, want 0.45", got)
	}
	want := CacheStats{PrefillBatches: 2, DecodeBatches: 1, Retractions: 1, Retracted: 2, NewTokens: 110, CachedTokens: 90,
		TokenUsage: 0.21, Running: 2, Queued: 3, GenThroughput: 12.5, MaxTotalTokens: 1000, Registered: true}
	if s != want {
		t.Fatalf("got  %+v\nwant %+v", s, want)
	}
	if (CacheStats{}).HitRate() != 0 {
		t.Fatal("empty hit rate not 0")
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		"Prefill batch. #new-seq: 1, #new-token: 2192, #cached-token: 35, token usage: 0.00, #running-req: 0, #queue-req: 0, ",
		"Decode batch, #running-req: 2, #token: 3709, token usage: 0.02, cuda graph: True, gen throughput (token/s): 45.91, #queue-req: 0, ",
		"KV cache pool is full. Retract requests. #retracted_reqs: 1, #new_token_ratio: 0.0980 -> 0.3487",
		"2025-05-13T13:47:38.880Z  INFO t: added model model_name=\"x",
		"[2025-05-13 13:47:38 TP0] max_total_num_tokens=1,",
		"Prefill batch.", "[", "#retracted_reqs:",
		"Prefill batch [12], #new-seq: 1, #new-token: 1, #cached-token: 0, full token usage: 0.10, swa token usage: 0.20, ",
		"Prefill batch [", "Decode batch [x],", "\x1b[2m2025-05-13T13:47:38.880123Z\x1b[0m \x1b[32m INFO\x1b[0m \x1b[1mt\x1b[0m\x1b[2m:\x1b[0m Completions is ready",
		`{"time":"2025-05-13T13:47:38.880123Z","level":"INFO","target":"t","message":"added model","model_name":"m"}`,
		`{"message":{"a":1}}`, `{"time":3}`, "removed model ", "[2025-05-13 13:47:38.8",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, ok := ParseLine(line)
		if !ok && r != (Record{}) {
			t.Fatalf("rejected line returned a non-zero record %+v", r)
		}
		if ok && r.Kind == 0 {
			t.Fatal("accepted line without a kind")
		}
	})
}

func TestLineTime(t *testing.T) {
	for line, want := range map[string]string{
		"2025-05-13T13:47:38.880Z  INFO dynamo_llm::frontend: added model model_name=x": "2025-05-13T13:47:38.88Z",
		"[2025-05-13 13:47:38 TP0] Prefill batch. #new-seq: 1":                          "2025-05-13T13:47:38Z",
	} {
		got, ok := LineTime(line)
		if !ok || got.Format(time.RFC3339Nano) != want {
			t.Errorf("%q: got %v %v, want %s", line, got, ok, want)
		}
	}
	if _, ok := LineTime("Traceback (most recent call last):"); ok {
		t.Error("a line without a prefix has no time")
	}
}
