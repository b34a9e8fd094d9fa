package client

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxEventBytes bounds one SSE line so a misbehaving server cannot make the client buffer without end.
const maxEventBytes = 4 << 20

// Event is one server-sent event: its data lines joined by "\n" (the SSE rule) and its event name.
type Event struct {
	Name string
	Data []byte
}

// SSEReader splits a text/event-stream body into events. Comments (":…"), id and retry fields are
// skipped; an event without data lines is not reported.
type SSEReader struct {
	sc *bufio.Scanner
}

// NewSSEReader reads events from r.
func NewSSEReader(r io.Reader) *SSEReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventBytes)
	return &SSEReader{sc: sc}
}

// Next returns the next event, io.EOF at the end of the stream, or the read error.
func (s *SSEReader) Next() (Event, error) {
	var ev Event
	var data [][]byte
	have := false
	for s.sc.Scan() {
		line := s.sc.Bytes()
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			if have {
				ev.Data = bytes.Join(data, []byte("\n"))
				return ev, nil
			}
			ev = Event{}
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "data":
			data = append(data, append([]byte(nil), value...))
			have = true
		case "event":
			ev.Name = string(value)
		}
	}
	if err := s.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return Event{}, fmt.Errorf("reading event stream: an event line exceeds %d bytes", maxEventBytes)
		}
		return Event{}, fmt.Errorf("reading event stream: %w", err)
	}
	// A stream may end without the blank line after its last event.
	if have {
		ev.Data = bytes.Join(data, []byte("\n"))
		return ev, nil
	}
	return Event{}, io.EOF
}

// Chunk is one chat.completion.chunk (or, unstreamed, a chat.completion) as servers send it.
type Chunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []ChunkChoice `json:"choices"`
	Usage   *wireUsage    `json:"usage"`
	Error   *wireError    `json:"error"`
}

// ChunkChoice is one choice of a chunk: Delta when streamed, Message when not.
type ChunkChoice struct {
	Index        int     `json:"index"`
	Delta        *Delta  `json:"delta"`
	Message      *Delta  `json:"message"`
	FinishReason *string `json:"finish_reason"`
	Text         *string `json:"text"` // /v1/completions
}

// Delta is the text a chunk adds: the answer and, from reasoning models, the reasoning.
type Delta struct {
	Role      string `json:"role,omitempty"`
	Content   string `json:"content,omitempty"`
	Reasoning string `json:"reasoning_content,omitempty"`
}

type wireUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

type wireError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    any    `json:"code"`
}

func (u *wireUsage) usage() Usage {
	out := Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	if u.PromptTokensDetails != nil {
		out.CachedTokens = u.PromptTokensDetails.CachedTokens
	}
	return out
}

// ParseChunk decodes one event's data as a chunk. An error object in the stream becomes an error.
func ParseChunk(data []byte) (*Chunk, error) {
	var c Chunk
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("decoding stream chunk %q: %w", truncate(data, 120), err)
	}
	if c.Error != nil {
		return nil, &APIError{Message: c.Error.Message, Type: c.Error.Type}
	}
	if c.Usage != nil && (c.Usage.PromptTokens < 0 || c.Usage.CompletionTokens < 0) {
		return nil, fmt.Errorf("stream chunk reports negative token counts")
	}
	return &c, nil
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
