package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/radixops/radix/inference/engine"
	"github.com/radixops/radix/inference/kvcache"
)

// Paths of a worker's internal API (the frontend's side of it is in package frontend).
const (
	PathGenerate  = "/internal/generate"
	PathKVEvents  = "/internal/kv-events"
	PathModelInfo = "/internal/model-info"
)

// GenerateRequest is the body of POST /internal/generate: token ids in (the frontend applied the chat
// template and tokenised), sampling parameters as the engine takes them.
type GenerateRequest struct {
	Tokens    []int32               `json:"tokens"`
	Params    engine.SamplingParams `json:"params"`
	Namespace uint64                `json:"namespace,omitempty"`
	// Disagg, on a decode worker, says where the prompt's KV comes from.
	Disagg *DisaggInfo `json:"disagg,omitempty"`
}

// DisaggInfo pairs a decode request with its prefill worker.
type DisaggInfo struct {
	Room    uint64 `json:"room"`    // SGLang's bootstrap room: random, 63 bits
	Prefill string `json:"prefill"` // host:port of the prefill worker's transfer listener
}

// Output is one NDJSON line of the generate stream.
type Output struct {
	Token        int32                 `json:"token"`
	HasToken     bool                  `json:"has_token,omitempty"`
	StopToken    bool                  `json:"stop_token,omitempty"`
	Logprob      float32               `json:"logprob,omitempty"`
	TopLogprobs  []engine.TokenLogprob `json:"top_logprobs,omitempty"`
	Finish       string                `json:"finish,omitempty"`
	Error        string                `json:"error,omitempty"`
	PromptTokens int                   `json:"prompt_tokens"`
	CachedTokens int                   `json:"cached_tokens"`
}

// FromEngine converts an engine output for the wire.
func FromEngine(o engine.Output) Output {
	w := Output{Token: o.Token, HasToken: o.HasToken, StopToken: o.StopToken, Logprob: o.Logprob,
		TopLogprobs: o.TopLogprobs, Finish: string(o.Finish), PromptTokens: o.PromptTokens, CachedTokens: o.CachedTokens}
	if o.Err != nil {
		w.Error = o.Err.Error()
	}
	return w
}

// Engine converts a wire output back.
func (w Output) Engine() engine.Output {
	o := engine.Output{Token: w.Token, HasToken: w.HasToken, StopToken: w.StopToken, Logprob: w.Logprob,
		TopLogprobs: w.TopLogprobs, Finish: engine.FinishReason(w.Finish), PromptTokens: w.PromptTokens, CachedTokens: w.CachedTokens}
	if w.Error != "" {
		o.Err = errors.New(w.Error)
	}
	return o
}

// ErrorReply is the body of a generate request refused before streaming; Kind names the engine error
// so the frontend answers with the same status the worker would.
type ErrorReply struct {
	Error string `json:"error"`
	Kind  string `json:"kind,omitempty"`
}

var errKinds = map[string]error{
	"empty_prompt": engine.ErrEmptyPrompt, "prompt_too_long": engine.ErrPromptTooLong,
	"never_fits": engine.ErrNeverFits, "overloaded": engine.ErrOverloaded, "draining": engine.ErrDraining,
}

// KindOf names err for an ErrorReply.
func KindOf(err error) string {
	for k, e := range errKinds {
		if errors.Is(err, e) {
			return k
		}
	}
	return ""
}

// ErrorOf rebuilds a worker's refusal as an error wrapping the engine's sentinel.
func (r ErrorReply) ErrorOf(status int) error {
	if e, ok := errKinds[r.Kind]; ok {
		return fmt.Errorf("%w (worker: %s)", e, r.Error)
	}
	return fmt.Errorf("worker answered %d: %s", status, r.Error)
}

// Event is one KV event on the wire: a kvcache.Event with its kind spelled out. Resync marks the
// Cleared a worker sends to a subscriber it dropped for falling behind.
type Event struct {
	Kind       string   `json:"kind"` // stored | removed | cleared
	Namespace  uint64   `json:"namespace,omitempty"`
	ParentHash uint64   `json:"parent_hash,omitempty"`
	Hashes     []uint64 `json:"hashes,omitempty"`
	Resync     bool     `json:"resync,omitempty"`
}

// EventOf converts a tree event for the wire.
func EventOf(e kvcache.Event) Event {
	return Event{Kind: e.Kind.String(), Namespace: uint64(e.Namespace), ParentHash: e.ParentHash, Hashes: e.Hashes}
}

// KV converts a wire event back; unknown kinds are an error.
func (e Event) KV() (kvcache.Event, error) {
	ev := kvcache.Event{Namespace: kvcache.Namespace(e.Namespace), ParentHash: e.ParentHash, Hashes: e.Hashes}
	switch e.Kind {
	case "stored":
		ev.Kind = kvcache.Stored
	case "removed":
		ev.Kind = kvcache.Removed
	case "cleared":
		ev.Kind = kvcache.Cleared
	default:
		return ev, fmt.Errorf("kv event kind %q: want stored, removed or cleared", e.Kind)
	}
	return ev, nil
}

// ReadEvents decodes an NDJSON event stream, calling fn for each, until r ends.
func ReadEvents(r io.Reader, fn func(kvcache.Event, bool)) error {
	dec := json.NewDecoder(r)
	for {
		var e Event
		if err := dec.Decode(&e); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading kv events: %w", err)
		}
		ev, err := e.KV()
		if err != nil {
			return err
		}
		fn(ev, e.Resync)
	}
}

// ModelInfo is GET /internal/model-info: what a frontend needs to tokenise for this worker.
type ModelInfo struct {
	Model           string `json:"model"`
	ContextLen      int    `json:"context_len"`
	PageSize        int    `json:"page_size"`
	TokenizerJSON   []byte `json:"tokenizer_json"`
	TokenizerConfig []byte `json:"tokenizer_config,omitempty"`
	GenerationCfg   []byte `json:"generation_config,omitempty"`
}
