package kube

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/radixops/radix/inference/telemetry"
)

// LogPreset is a named filter: what an operator greps a Dynamo/SGLang pod's log for. The one table
// serves `radix logs --filter NAME` and the console's log view (its key), so both select the same lines.
type LogPreset struct {
	Name    string // --filter name
	Key     string // the console's key
	Help    string
	Pattern string // a Go regular expression, matched against the line as shown (colours stripped)
}

// LogPresets are the presets, in the order the console lists them.
var LogPresets = []LogPreset{
	// Prefix cache behaviour: SGLang's batch lines carry #cached-token and token usage; evictions and
	// retractions are the cache running out.
	{"cache", "C", "cache lines", `(?i)cache|radix|#cached-token|token usage|evict|retract|\bhit\b|\bmiss`},
	// Worker registration and model discovery (Dynamo): register, "… is ready", added/removed model.
	{"register", "R", "registration", `(?i)regist|\bready\b|added model|removed model|model_name|clear_namespace`},
	// Anything that went wrong, including a JSONL record's "level":"WARN"/"ERROR".
	{"errors", "E", "errors", `(?i)\b(error|err|exception|traceback|fatal|panic|fail\w*|oom|out of memory|killed)\b|\bWARN`},
	// Prefill/decode disaggregation: the bootstrap and the KV transfer between the two.
	{"disagg", "D", "disaggregation", `(?i)disagg|bootstrap|prefill|decode|nixl|transfer|kv.?sender|kv.?receiver`},
}

// LookupPreset finds a preset by name.
func LookupPreset(name string) (LogPreset, bool) {
	for _, p := range LogPresets {
		if p.Name == name {
			return p, true
		}
	}
	return LogPreset{}, false
}

// PresetNames lists the presets in the table's order, for help text and completion.
func PresetNames() []string {
	names := make([]string, len(LogPresets))
	for i, p := range LogPresets {
		names[i] = p.Name
	}
	return names
}

// LogFilter selects log lines: a preset or a regular expression, optionally inverted. The zero
// value (and nil) matches everything.
type LogFilter struct {
	Spec   string // what the user typed: a preset name or a regex ("" = everything)
	Invert bool
	re     *regexp.Regexp
}

// ParseLogFilter builds a filter. A leading "!" inverts it, as in k9s; a preset name selects the
// preset; anything else must compile as a Go regular expression.
func ParseLogFilter(spec string, invert bool) (*LogFilter, error) {
	f := &LogFilter{Spec: spec, Invert: invert}
	if rest, ok := strings.CutPrefix(spec, "!"); ok {
		f.Invert = !f.Invert
		spec = rest
		f.Spec = rest
	}
	if spec == "" {
		return f, nil
	}
	pattern := spec
	if p, ok := LookupPreset(spec); ok {
		pattern = p.Pattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("log filter %q is neither a preset (%s) nor a valid regular expression: %w",
			spec, strings.Join(PresetNames(), ", "), err)
	}
	f.re = re
	return f, nil
}

// Match reports whether a line passes the filter. It is matched as the user sees it: without
// terminal escapes (Dynamo colours its prefix), so a pattern never hits or misses on a colour code.
func (f *LogFilter) Match(text string) bool {
	if f == nil || f.re == nil {
		return true // no pattern: everything, inverted or not
	}
	return f.re.MatchString(telemetry.StripANSI(text)) != f.Invert
}

// String is the filter as the user would type it again.
func (f *LogFilter) String() string {
	if f == nil {
		return ""
	}
	if f.Invert {
		return "!" + f.Spec
	}
	return f.Spec
}
