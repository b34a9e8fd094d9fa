package engine

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/radixops/radix/inference/kvcache"
)

// Request is one generation request as the scheduler sees it: token ids in, token ids out.
type Request struct {
	Tokens    []int32 // the prompt, chat template applied and tokenised
	Params    SamplingParams
	Namespace kvcache.Namespace // keeps equal prefixes of different tenants or adapters apart
}

// FinishReason is why a request ended (OpenAI's finish_reason; "abort" for cancelled or failed).
type FinishReason string

const (
	FinishStop   FinishReason = "stop"
	FinishLength FinishReason = "length"
	FinishAbort  FinishReason = "abort"
)

// Output is one event of a request's stream: normally one new token. The last Output of a stream has
// Finish set (and may carry no token, when the request was cancelled or failed before producing one).
type Output struct {
	HasToken    bool
	Token       int32
	Logprob     float32
	TopLogprobs []TokenLogprob
	// StopToken: Token is the stop token that ended the request; it is not part of the text.
	StopToken bool
	Finish    FinishReason // "" while the request runs
	Err       error        // why an aborted request ended

	// PromptTokens and CachedTokens are set on every output: the prompt length and how many of its tokens
	// came from the radix cache when the request was first admitted.
	PromptTokens, CachedTokens int
}

// Errors Submit returns; the server maps them to HTTP statuses.
var (
	ErrEmptyPrompt   = errors.New("engine: the prompt is empty")
	ErrPromptTooLong = errors.New("engine: the prompt is longer than the model's context")
	ErrNeverFits     = errors.New("engine: the request can never fit the KV pool")
	ErrOverloaded    = errors.New("engine: the waiting queue is full")
	ErrDraining      = errors.New("engine: shutting down, not accepting requests")
	ErrCancelled     = errors.New("engine: request cancelled")
)

// Stream delivers one request's outputs. The scheduler never blocks on a slow reader: outputs queue here
// until Recv takes them.
type Stream struct {
	id  uint64
	eng *Engine

	mu     sync.Mutex
	q      []Output
	closed bool // the final output has been queued
	wake   chan struct{}
	stop   func() bool // unregisters the context watch
}

func newStream(id uint64, e *Engine) *Stream {
	return &Stream{id: id, eng: e, wake: make(chan struct{}, 1)}
}

// push is called by the scheduler loop only.
func (s *Stream) push(o Output) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.q = append(s.q, o)
	if o.Finish != "" {
		s.closed = true
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	if o.Finish != "" && s.stop != nil {
		s.stop()
	}
}

// Recv returns the next output, waiting for it; io.EOF after the final one has been returned. When ctx
// ends first it returns ctx's error (the request itself is cancelled through Submit's context or Cancel).
func (s *Stream) Recv(ctx context.Context) (Output, error) {
	for {
		s.mu.Lock()
		if len(s.q) > 0 {
			o := s.q[0]
			s.q[0] = Output{}
			s.q = s.q[1:]
			s.mu.Unlock()
			return o, nil
		}
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return Output{}, io.EOF
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return Output{}, ctx.Err()
		}
	}
}

// Cancel ends the request and frees what it holds; the stream then ends with an abort output.
func (s *Stream) Cancel() { s.eng.cancel(s.id) }
