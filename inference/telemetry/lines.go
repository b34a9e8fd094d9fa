package telemetry

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PrefillBatch is one `Prefill batch.` line: the scheduler admitted NewSeq requests whose uncached
// tails total NewToken tokens, CachedToken tokens having come from the radix cache.
type PrefillBatch struct {
	NewSeq, NewToken, CachedToken int
	TokenUsage                    float64 // (total − free − evictable cached) / total
	Running, Queued               int
	InputThroughput               float64 // token/s; only the newer comma form carries it
}

// DecodeBatch is one `Decode batch.` line, written every 40 decode steps.
type DecodeBatch struct {
	Running, Tokens int // Tokens: KV tokens held by the running requests
	TokenUsage      float64
	CudaGraph       bool
	GenThroughput   float64 // token/s since the previous decode line
	Queued          int
}

// Retract is the line written when decode ran out of KV pages and requests were pushed back to the
// queue; the new-token ratio is raised so admission becomes more conservative.
type Retract struct {
	Retracted          int
	RatioFrom, RatioTo float64
}

// Startup is SGLang's `max_total_num_tokens=…` line, the sizes the scheduler settled on.
type Startup struct {
	MaxTotalNumTokens, ChunkedPrefillSize, MaxPrefillTokens, MaxRunningRequests, ContextLen int
}

// Registration lines of Dynamo: a worker announcing itself and the frontend learning of models.
const (
	MsgRegistered          = "Successfully registered LLM with runtime config"
	MsgRegistrationSucceed = "Model registration succeeded; processing queued requests"
	MsgAddedModel          = "added model"
	MsgRemovedModel        = "removed model"
)

// String is the SGLang 0.5.0 form, trailing ", " included, exactly as SGLang writes it.
func (b PrefillBatch) String() string {
	return fmt.Sprintf("Prefill batch. #new-seq: %d, #new-token: %d, #cached-token: %d, token usage: %.2f, #running-req: %d, #queue-req: %d, ",
		b.NewSeq, b.NewToken, b.CachedToken, b.TokenUsage, b.Running, b.Queued)
}

// NewFormString is the newer SGLang form: a comma after "batch" and the input throughput appended.
func (b PrefillBatch) NewFormString() string {
	return fmt.Sprintf("Prefill batch, #new-seq: %d, #new-token: %d, #cached-token: %d, token usage: %.2f, #running-req: %d, #queue-req: %d, input throughput (token/s): %.2f, ",
		b.NewSeq, b.NewToken, b.CachedToken, b.TokenUsage, b.Running, b.Queued, b.InputThroughput)
}

// String is the SGLang 0.5.0 form. radix runs on a CPU, so cuda graph is always False there, but the
// field stays so the console parses real SGLang lines the same way.
func (b DecodeBatch) String() string {
	return fmt.Sprintf("Decode batch. #running-req: %d, #token: %d, token usage: %.2f, cuda graph: %s, gen throughput (token/s): %.2f, #queue-req: %d, ",
		b.Running, b.Tokens, b.TokenUsage, pyBool(b.CudaGraph), b.GenThroughput, b.Queued)
}

func (r Retract) String() string {
	return fmt.Sprintf("KV cache pool is full. Retract requests. #retracted_reqs: %d, #new_token_ratio: %.4f -> %.4f",
		r.Retracted, r.RatioFrom, r.RatioTo)
}

func (s Startup) String() string {
	return fmt.Sprintf("max_total_num_tokens=%d, chunked_prefill_size=%d, max_prefill_tokens=%d, max_running_requests=%d, context_len=%d",
		s.MaxTotalNumTokens, s.ChunkedPrefillSize, s.MaxPrefillTokens, s.MaxRunningRequests, s.ContextLen)
}

// AddedModel is the frontend's line on discovering a model.
func AddedModel(name string) string { return MsgAddedModel + " model_name=" + name }

// RemovedModel is the frontend's line on losing a model.
func RemovedModel(name string) string { return MsgRemovedModel + " model_name=" + name }

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// FormatPrefix renders Dynamo's default log prefix and message:
// `2025-05-13T13:47:38.880Z  INFO target: message` (the level right-aligned in five columns).
func FormatPrefix(t time.Time, level, target, msg string) string {
	return fmt.Sprintf("%s %5s %s: %s", t.UTC().Format(dynamoTime), strings.ToUpper(level), target, msg)
}

const dynamoTime = "2006-01-02T15:04:05.000Z"

// Kind says which line a Record came from.
type Kind uint8

const (
	KindPrefill Kind = iota + 1
	KindDecode
	KindRetract
	KindStartup
	KindRegistered          // worker: Successfully registered LLM with runtime config
	KindRegistrationSucceed // worker: Model registration succeeded; processing queued requests
	KindModelAdded          // frontend: added model
	KindModelRemoved        // frontend: removed model
)

func (k Kind) String() string {
	switch k {
	case KindPrefill:
		return "prefill"
	case KindDecode:
		return "decode"
	case KindRetract:
		return "retract"
	case KindStartup:
		return "startup"
	case KindRegistered:
		return "registered"
	case KindRegistrationSucceed:
		return "registration-succeeded"
	case KindModelAdded:
		return "model-added"
	case KindModelRemoved:
		return "model-removed"
	}
	return "unknown"
}

// Record is one recognised log line. Only the field matching Kind is set; Time, Level and Target are
// set when the line carried a Dynamo or SGLang prefix (Time is zero otherwise).
type Record struct {
	Kind    Kind
	Time    time.Time
	Level   string
	Target  string
	Prefill PrefillBatch
	Decode  DecodeBatch
	Retract Retract
	Startup Startup
	Model   string // model_name of an added/removed model line
}

// ParseLine recognises the scheduler and registration lines, with or without a Dynamo prefix
// (`2025-05-13T13:47:38.880Z  INFO target: msg`) or SGLang's Python prefix (`[2025-05-13 13:47:38 TP0] msg`).
// Any other line, or a recognised line whose numbers do not parse, gives false.
func ParseLine(line string) (Record, bool) {
	var r Record
	line = strings.TrimRight(line, "\r\n")
	msg := stripPrefix(line, &r)
	var ok bool
	switch {
	case hasBatchMarker(msg, "Prefill batch"):
		r.Kind = KindPrefill
		ok = parsePrefill(afterBatchMarker(msg, "Prefill batch"), &r.Prefill)
	case hasBatchMarker(msg, "Decode batch"):
		r.Kind = KindDecode
		ok = parseDecode(afterBatchMarker(msg, "Decode batch"), &r.Decode)
	case strings.Contains(msg, "#retracted_reqs:"):
		r.Kind = KindRetract
		ok = parseRetract(msg, &r.Retract)
	case strings.Contains(msg, "max_total_num_tokens="):
		r.Kind = KindStartup
		ok = parseStartup(msg, &r.Startup)
	case strings.Contains(msg, MsgRegistered):
		r.Kind, ok = KindRegistered, true
	case strings.Contains(msg, MsgRegistrationSucceed):
		r.Kind, ok = KindRegistrationSucceed, true
	case strings.HasPrefix(msg, MsgAddedModel):
		r.Kind, r.Model, ok = KindModelAdded, field(msg, "model_name"), true
	case strings.HasPrefix(msg, MsgRemovedModel):
		r.Kind, r.Model, ok = KindModelRemoved, field(msg, "model_name"), true
	}
	if !ok {
		return Record{}, false
	}
	return r, true
}

// stripPrefix removes a Dynamo or SGLang prefix, filling r's Time/Level/Target, and returns the message.
// A line with neither prefix is returned whole.
// LineTime reads the timestamp a Dynamo- or SGLang-prefixed log line starts with, whatever the message.
func LineTime(line string) (time.Time, bool) {
	var r Record
	stripPrefix(line, &r)
	return r.Time, !r.Time.IsZero()
}

func stripPrefix(line string, r *Record) string {
	s := strings.TrimLeft(line, " \t")
	if strings.HasPrefix(s, "[") {
		// SGLang: [2025-05-13 13:47:38 TP0] msg  (the rank tags vary; the date is the first 19 bytes)
		end := strings.Index(s, "] ")
		if end > 0 {
			inner := s[1:end]
			if len(inner) >= 19 {
				if t, err := time.Parse("2006-01-02 15:04:05", inner[:19]); err == nil {
					r.Time = t
					return s[end+2:]
				}
			}
		}
		return s
	}
	ts, rest, found := strings.Cut(s, " ")
	if !found {
		return s
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return s
	}
	rest = strings.TrimLeft(rest, " ")
	level, rest, found := strings.Cut(rest, " ")
	if !found || !isLevel(level) {
		return s
	}
	r.Time, r.Level = t, level
	target, msg, found := strings.Cut(rest, ": ")
	if !found || strings.ContainsAny(target, " \t") {
		// No target: the message follows the level directly.
		return rest
	}
	r.Target = target
	return msg
}

func isLevel(s string) bool {
	switch s {
	case "TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR":
		return true
	}
	return false
}

// hasBatchMarker finds "Prefill batch." or "Prefill batch," (0.5.0 and newer forms).
func hasBatchMarker(msg, marker string) bool {
	i := strings.Index(msg, marker)
	if i < 0 || i+len(marker) >= len(msg) {
		return false
	}
	c := msg[i+len(marker)]
	return c == '.' || c == ','
}

func afterBatchMarker(msg, marker string) string {
	i := strings.Index(msg, marker)
	return msg[i+len(marker)+1:]
}

// pairs splits "k1: v1, k2: v2, " into a map; a pair without ": " is skipped.
func pairs(s string) map[string]string {
	m := make(map[string]string)
	for _, p := range strings.Split(s, ", ") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), ": ")
		if !ok {
			continue
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), ","))
	}
	return m
}

// numbers reads the named fields of m into the given destinations: *int or *float64 or *bool.
// A required field that is missing, or any present field that does not parse, fails.
type fieldSpec struct {
	key      string
	dst      any
	required bool
}

func readFields(m map[string]string, specs []fieldSpec) bool {
	for _, f := range specs {
		v, ok := m[f.key]
		if !ok {
			if f.required {
				return false
			}
			continue
		}
		switch d := f.dst.(type) {
		case *int:
			n, err := strconv.Atoi(v)
			if err != nil {
				return false
			}
			*d = n
		case *float64:
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return false
			}
			*d = x
		case *bool:
			switch v {
			case "True", "true":
				*d = true
			case "False", "false":
				*d = false
			default:
				return false
			}
		}
	}
	return true
}

func parsePrefill(s string, b *PrefillBatch) bool {
	return readFields(pairs(s), []fieldSpec{
		{"#new-seq", &b.NewSeq, true},
		{"#new-token", &b.NewToken, true},
		{"#cached-token", &b.CachedToken, true},
		{"token usage", &b.TokenUsage, false},
		{"#running-req", &b.Running, false},
		{"#queue-req", &b.Queued, false},
		{"input throughput (token/s)", &b.InputThroughput, false},
	})
}

func parseDecode(s string, b *DecodeBatch) bool {
	return readFields(pairs(s), []fieldSpec{
		{"#running-req", &b.Running, true},
		{"#token", &b.Tokens, false},
		{"token usage", &b.TokenUsage, false},
		{"cuda graph", &b.CudaGraph, false},
		{"gen throughput (token/s)", &b.GenThroughput, false},
		{"#queue-req", &b.Queued, false},
	})
}

func parseRetract(msg string, r *Retract) bool {
	m := pairs(msg[strings.Index(msg, "#retracted_reqs:"):])
	if !readFields(m, []fieldSpec{{"#retracted_reqs", &r.Retracted, true}}) {
		return false
	}
	ratio, ok := m["#new_token_ratio"]
	if !ok {
		return true
	}
	from, to, ok := strings.Cut(ratio, " -> ")
	if !ok {
		return false
	}
	var err1, err2 error
	r.RatioFrom, err1 = strconv.ParseFloat(strings.TrimSpace(from), 64)
	r.RatioTo, err2 = strconv.ParseFloat(strings.TrimSpace(to), 64)
	return err1 == nil && err2 == nil
}

func parseStartup(msg string, st *Startup) bool {
	m := make(map[string]string)
	for _, p := range strings.Split(msg[strings.Index(msg, "max_total_num_tokens="):], ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok {
			m[k] = v
		}
	}
	return readFields(m, []fieldSpec{
		{"max_total_num_tokens", &st.MaxTotalNumTokens, true},
		{"chunked_prefill_size", &st.ChunkedPrefillSize, false},
		{"max_prefill_tokens", &st.MaxPrefillTokens, false},
		{"max_running_requests", &st.MaxRunningRequests, false},
		{"context_len", &st.ContextLen, false},
	})
}

// field finds key=value (value optionally double-quoted) in a tracing-style message.
func field(msg, key string) string {
	i := strings.Index(msg, key+"=")
	if i < 0 {
		return ""
	}
	v := msg[i+len(key)+1:]
	if strings.HasPrefix(v, `"`) {
		if s, err := strconv.QuotedPrefix(v); err == nil {
			if u, err := strconv.Unquote(s); err == nil {
				return u
			}
		}
		v = strings.TrimPrefix(v, `"`)
		if j := strings.IndexByte(v, '"'); j >= 0 {
			return v[:j]
		}
		return v
	}
	if j := strings.IndexAny(v, " ,\t"); j >= 0 {
		return v[:j]
	}
	return v
}
