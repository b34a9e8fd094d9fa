package telemetry

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PrefillBatch is one `Prefill batch` line: the scheduler admitted NewSeq requests whose uncached
// tails total NewToken tokens, CachedToken tokens having come from the radix cache.
type PrefillBatch struct {
	Iter                          int // forward iteration, written only with SGLANG_LOG_FORWARD_ITERS (0 otherwise)
	NewSeq, NewToken, CachedToken int
	// TokenUsage is (total − free − evictable cached) / total; hybrid models write it per pool as
	// "full token usage" (read into TokenUsage) and "swa token usage" or "mamba usage".
	TokenUsage      float64
	SWATokenUsage   float64
	MambaUsage      float64
	Running, Queued int
	// Disagg marks a prefill worker of a disaggregated pair, whose line carries its bootstrap and
	// in-flight queues and the input throughput.
	Disagg                   bool
	PreallocReq, InflightReq int
	InputThroughput          float64 // token/s
}

// DecodeBatch is one `Decode batch` line, written every 40 decode steps.
type DecodeBatch struct {
	Iter            int // forward iteration, as in PrefillBatch
	Running, Tokens int // Tokens: KV tokens held by the running requests ("#full token" on hybrid models)
	TokenUsage      float64
	SWATokenUsage   float64
	MambaUsage      float64
	// CudaGraph is the value of the graph field: "cuda graph: True" on a GPU, "cpu graph: …" on a CPU
	// (CUDA says which of the two the line named).
	CudaGraph     bool
	CUDA          bool
	GenThroughput float64 // token/s since the previous decode line
	Queued        int
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
	// The current frontend says per API when a model's pipeline is built, instead of "added model".
	MsgChatReady        = "Chat completions is ready"
	MsgCompletionsReady = "Completions is ready"
)

// String is the current SGLang form (a comma after "batch", trailing ", " included), as SGLang 0.5.x
// writes it; a disaggregated prefill worker adds its queues and the input throughput.
func (b PrefillBatch) String() string {
	return b.format(",", b.Iter, b.Disagg)
}

// V050String is the SGLang 0.5.0 form ("Prefill batch." with a full stop).
func (b PrefillBatch) V050String() string {
	return b.format(".", 0, false)
}

func (b PrefillBatch) format(sep string, iter int, disagg bool) string {
	var sb strings.Builder
	sb.WriteString("Prefill batch")
	if iter > 0 {
		fmt.Fprintf(&sb, " [%d]", iter)
	}
	fmt.Fprintf(&sb, "%s #new-seq: %d, #new-token: %d, #cached-token: %d, token usage: %.2f, #running-req: %d, #queue-req: %d, ",
		sep, b.NewSeq, b.NewToken, b.CachedToken, b.TokenUsage, b.Running, b.Queued)
	if disagg {
		fmt.Fprintf(&sb, "#prealloc-req: %d, #inflight-req: %d, input throughput (token/s): %.2f, ", b.PreallocReq, b.InflightReq, b.InputThroughput)
	}
	return sb.String()
}

// String is the current SGLang form. radix runs on a CPU, so unless CUDA is set the graph field is
// SGLang's CPU one, "cpu graph".
func (b DecodeBatch) String() string {
	graph := "cpu graph"
	if b.CUDA {
		graph = "cuda graph"
	}
	iter := ""
	if b.Iter > 0 {
		iter = fmt.Sprintf(" [%d]", b.Iter)
	}
	return fmt.Sprintf("Decode batch%s, #running-req: %d, #token: %d, token usage: %.2f, %s: %s, gen throughput (token/s): %.2f, #queue-req: %d, ",
		iter, b.Running, b.Tokens, b.TokenUsage, graph, pyBool(b.CudaGraph), b.GenThroughput, b.Queued)
}

// V050String is the SGLang 0.5.0 form, which always said "cuda graph".
func (b DecodeBatch) V050String() string {
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

// AddedModel is the frontend's line on discovering a model: the message, then the tracing field as
// Dynamo's compact format writes a string field (quoted).
func AddedModel(name string) string { return MsgAddedModel + " model_name=" + strconv.Quote(name) }

// RemovedModel is the frontend's line on losing a model.
func RemovedModel(name string) string { return MsgRemovedModel + " model_name=" + strconv.Quote(name) }

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// FormatPrefix renders Dynamo's default (compact, ANSI off) log prefix and message:
// `2025-05-13T13:47:38.880123Z  INFO target: message` (microseconds, the level right-aligned in five
// columns), as the runtime's logger writes with DYN_SDK_DISABLE_ANSI_LOGGING set.
func FormatPrefix(t time.Time, level, target, msg string) string {
	return fmt.Sprintf("%s %5s %s: %s", t.UTC().Format(dynamoTime), strings.ToUpper(level), target, msg)
}

const dynamoTime = "2006-01-02T15:04:05.000000Z"

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
	KindModelReady          // current frontend: "Chat completions is ready" and the like
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
	case KindModelReady:
		return "model-ready"
	}
	return "unknown"
}

// Record is one recognised log line. Only the field matching Kind is set; Time, Level and Target are
// set when the line carried a Dynamo prefix, a JSONL record or SGLang's Python prefix (Time is zero
// otherwise).
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
	Ready   string // what a readiness line says is ready: "Chat completions", "Completions", …
}

// maxParsedLine bounds the part of a line the parser reads; longer lines (a dumped request) are
// nothing it recognises, and the bound keeps a pathological line from costing more than this.
const maxParsedLine = 64 << 10

// ParseLine recognises the scheduler, registration and readiness lines in every shape a Dynamo or
// SGLang pod writes them: bare; after Dynamo's prefix (`2025-05-13T13:47:38.880123Z  INFO target:
// msg`), ANSI-coloured or not; as a Dynamo JSONL record (`{"time":…,"level":…,"target":…,
// "message":…}`); or after SGLang's own prefix (`[2025-05-13 13:47:38 TP0] msg`). Any other line, or a
// recognised line whose numbers do not parse, gives false.
func ParseLine(line string) (Record, bool) {
	var r Record
	if len(line) > maxParsedLine {
		return Record{}, false
	}
	msg, fields := splitLine(line, &r)
	var ok bool
	switch {
	case hasBatchMarker(msg, "Prefill batch"):
		r.Kind = KindPrefill
		rest, iter, found := afterBatchMarker(msg, "Prefill batch")
		r.Prefill.Iter = iter
		ok = found && parsePrefill(rest, &r.Prefill)
	case hasBatchMarker(msg, "Decode batch"):
		r.Kind = KindDecode
		rest, iter, found := afterBatchMarker(msg, "Decode batch")
		r.Decode.Iter = iter
		ok = found && parseDecode(rest, &r.Decode)
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
		r.Kind, r.Model, ok = KindModelAdded, modelName(msg, MsgAddedModel, fields), true
	case strings.HasPrefix(msg, MsgRemovedModel):
		r.Kind, r.Model, ok = KindModelRemoved, modelName(msg, MsgRemovedModel, fields), true
	default:
		if what, found := readiness(msg); found {
			r.Kind, r.Ready, ok = KindModelReady, what, true
		}
	}
	if !ok {
		return Record{}, false
	}
	return r, true
}

// LineTime reads the time a Dynamo-, JSONL- or SGLang-prefixed log line carries, whatever its message.
func LineTime(line string) (time.Time, bool) {
	if len(line) > maxParsedLine {
		line = line[:maxParsedLine]
	}
	var r Record
	splitLine(line, &r)
	return r.Time, !r.Time.IsZero()
}

// Message is the text of a log line without its prefix and colours: a JSONL record's message, or
// what follows a Dynamo or SGLang prefix.
func Message(line string) string {
	var r Record
	msg, _ := splitLine(line, &r)
	return msg
}

// splitLine strips colours and the prefix, filling r's Time/Level/Target, and returns the message and,
// for a JSONL record, its other fields.
func splitLine(line string, r *Record) (string, map[string]any) {
	line = StripANSI(strings.TrimRight(line, "\r\n"))
	s := strings.TrimLeft(line, " \t")
	if strings.HasPrefix(s, "{") {
		if msg, fields, ok := parseJSONL(s, r); ok {
			return msg, fields
		}
	}
	return stripPrefix(s, r), nil
}

// parseJSONL reads one line of Dynamo's JSONL logger (DYN_LOGGING_JSONL=1): time, level, target,
// message, and the event's fields flattened beside them (model_name=… becomes "model_name": "…").
func parseJSONL(s string, r *Record) (string, map[string]any, bool) {
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return "", nil, false
	}
	raw, ok := m["message"]
	if !ok {
		return "", nil, false
	}
	msg, isStr := raw.(string)
	if !isStr {
		msg = fmt.Sprint(raw)
	}
	if ts, ok := m["time"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			r.Time = t
		}
	}
	if lv, ok := m["level"].(string); ok && isLevel(lv) {
		r.Level = lv
	}
	if tg, ok := m["target"].(string); ok {
		r.Target = tg
	}
	for _, k := range []string{"message", "time", "level", "target", "file", "line"} {
		delete(m, k)
	}
	return msg, m, true
}

func stripPrefix(s string, r *Record) string {
	if strings.HasPrefix(s, "[") {
		// SGLang: [2025-05-13 13:47:38 TP0] msg, with milliseconds under SGLANG_LOG_MS
		// ([2025-05-13 13:47:38.880 TP0]); the rank tags vary.
		end := strings.Index(s, "] ")
		if end > 0 {
			inner := s[1:end]
			if t, ok := sglangTime(inner); ok {
				r.Time = t
				return s[end+2:]
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
	// The compact format writes the names of the enclosing spans, then the target, each followed by
	// ":" (`span: dynamo_llm::http::service: msg`); the last such word is the target.
	for range 8 {
		word, after, found := strings.Cut(rest, " ")
		if !found || len(word) < 2 || !strings.HasSuffix(word, ":") || !isTargetName(word[:len(word)-1]) {
			break
		}
		r.Target, rest = word[:len(word)-1], after
	}
	return rest
}

// sglangTime reads the date SGLang's Python logger opens its bracket with.
func sglangTime(inner string) (time.Time, bool) {
	const layout = "2006-01-02 15:04:05"
	if len(inner) < len(layout) {
		return time.Time{}, false
	}
	n := len(layout)
	if len(inner) >= n+4 && inner[n] == '.' && isDigits(inner[n+1:n+4]) {
		n += 4
	}
	if len(inner) > n && inner[n] != ' ' {
		return time.Time{}, false
	}
	t, err := time.Parse(layout+".000"[:n-len(layout)], inner[:n])
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isTargetName accepts tracing targets and span names: Rust paths (a::b), Python module.function.
func isTargetName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == ':', c == '.', c == '-', c == '<', c == '>':
		default:
			return false
		}
	}
	return true
}

func isLevel(s string) bool {
	switch s {
	case "TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR":
		return true
	}
	return false
}

// hasBatchMarker finds "Prefill batch." (0.5.0), "Prefill batch," (current) or "Prefill batch [N],"
// (SGLANG_LOG_FORWARD_ITERS).
func hasBatchMarker(msg, marker string) bool {
	_, _, ok := afterBatchMarker(msg, marker)
	return ok
}

// afterBatchMarker returns what follows the marker and its separator, and the iteration number.
func afterBatchMarker(msg, marker string) (rest string, iter int, ok bool) {
	i := strings.Index(msg, marker)
	if i < 0 {
		return "", 0, false
	}
	s := msg[i+len(marker):]
	if strings.HasPrefix(s, " [") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, false
		}
		n, err := strconv.Atoi(s[2:end])
		if err != nil || n < 0 {
			return "", 0, false
		}
		iter, s = n, s[end+1:]
	}
	if s == "" || (s[0] != '.' && s[0] != ',') {
		return "", 0, false
	}
	return s[1:], iter, true
}

// modelName is the model of an added/removed model line: the model_name field (JSONL or tracing's
// key=value), or 0.5.0's positional `removed model <name>`.
func modelName(msg, marker string, fields map[string]any) string {
	if v, ok := fields["model_name"]; ok {
		if s, ok := v.(string); ok {
			return s
		}
		return fmt.Sprint(v)
	}
	if v := field(msg, "model_name"); v != "" {
		return v
	}
	rest := strings.TrimSpace(msg[len(marker):])
	if rest == "" || strings.Contains(rest, "=") {
		return ""
	}
	name, _, _ := strings.Cut(rest, " ")
	return name
}

// readiness recognises the frontend's "<API> is ready" lines ("Chat completions is ready",
// "Completions is ready", "Generate (token-in/token-out) is ready").
func readiness(msg string) (string, bool) {
	msg = strings.TrimSpace(msg)
	what, found := strings.CutSuffix(msg, " is ready")
	if !found || what == "" || len(what) > 48 {
		return "", false
	}
	c := what[0]
	if c < 'A' || c > 'Z' {
		return "", false
	}
	return what, true
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
	m := pairs(s)
	if !readFields(m, []fieldSpec{
		{"#new-seq", &b.NewSeq, true},
		{"#new-token", &b.NewToken, true},
		{"#cached-token", &b.CachedToken, true},
		{"token usage", &b.TokenUsage, false},
		{"full token usage", &b.TokenUsage, false},
		{"swa token usage", &b.SWATokenUsage, false},
		{"mamba usage", &b.MambaUsage, false},
		{"#running-req", &b.Running, false},
		{"#queue-req", &b.Queued, false},
		{"#prealloc-req", &b.PreallocReq, false},
		{"#inflight-req", &b.InflightReq, false},
		{"input throughput (token/s)", &b.InputThroughput, false},
	}) {
		return false
	}
	_, b.Disagg = m["#prealloc-req"]
	return true
}

func parseDecode(s string, b *DecodeBatch) bool {
	m := pairs(s)
	if !readFields(m, []fieldSpec{
		{"#running-req", &b.Running, true},
		{"#token", &b.Tokens, false},
		{"#full token", &b.Tokens, false},
		{"token usage", &b.TokenUsage, false},
		{"full token usage", &b.TokenUsage, false},
		{"swa token usage", &b.SWATokenUsage, false},
		{"mamba usage", &b.MambaUsage, false},
		{"cuda graph", &b.CudaGraph, false},
		{"cpu graph", &b.CudaGraph, false},
		{"gen throughput (token/s)", &b.GenThroughput, false},
		{"#queue-req", &b.Queued, false},
	}) {
		return false
	}
	_, b.CUDA = m["cuda graph"]
	return true
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
