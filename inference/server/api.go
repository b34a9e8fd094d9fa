package server

import (
	"encoding/json"
	"fmt"
)

// ChatMessage is one message of a chat request. Content may be a string or an array of text parts.
type ChatMessage struct {
	Role    string      `json:"role"`
	Content TextContent `json:"content"`
}

// TextContent accepts OpenAI's string content or its array of {"type":"text","text":...} parts.
type TextContent string

func (c *TextContent) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*c = TextContent(s)
		return nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		if string(b) == "null" {
			*c = ""
			return nil
		}
		return fmt.Errorf("content must be a string or an array of text parts")
	}
	var out string
	for _, p := range parts {
		if p.Type != "text" {
			return fmt.Errorf("content part type %q is not supported (text only)", p.Type)
		}
		out += p.Text
	}
	*c = TextContent(out)
	return nil
}

// StopList accepts a string or an array of strings.
type StopList []string

func (s *StopList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = StopList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		if string(b) == "null" {
			*s = nil
			return nil
		}
		return fmt.Errorf("stop must be a string or an array of strings")
	}
	*s = many
	return nil
}

// Prompt accepts a string, an array of one string, or an array of token ids.
type Prompt struct {
	Text   string
	Tokens []int32
	IsIDs  bool
}

func (p *Prompt) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		p.Text = s
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err == nil {
		if len(ss) != 1 {
			return fmt.Errorf("prompt arrays must hold exactly one prompt (batched prompts are not supported)")
		}
		p.Text = ss[0]
		return nil
	}
	var ids []int32
	if err := json.Unmarshal(b, &ids); err == nil {
		p.Tokens, p.IsIDs = ids, true
		return nil
	}
	return fmt.Errorf("prompt must be a string or an array of token ids")
}

// StreamOptions is OpenAI's stream_options.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// samplingFields are shared by both endpoints (OpenAI's plus SGLang's extensions).
type samplingFields struct {
	Model             string         `json:"model"`
	MaxTokens         *int           `json:"max_tokens"`
	Temperature       *float64       `json:"temperature"`
	TopP              *float64       `json:"top_p"`
	TopK              *int           `json:"top_k"`
	MinP              *float64       `json:"min_p"`
	PresencePenalty   *float64       `json:"presence_penalty"`
	FrequencyPenalty  *float64       `json:"frequency_penalty"`
	RepetitionPenalty *float64       `json:"repetition_penalty"`
	Seed              *int64         `json:"seed"`
	Stop              StopList       `json:"stop"`
	StopTokenIDs      []int32        `json:"stop_token_ids"`
	IgnoreEOS         bool           `json:"ignore_eos"`
	N                 *int           `json:"n"`
	Stream            bool           `json:"stream"`
	StreamOptions     *StreamOptions `json:"stream_options"`
	User              string         `json:"user"`
}

// ChatRequest is the body of POST /v1/chat/completions.
type ChatRequest struct {
	samplingFields
	Messages            []ChatMessage `json:"messages"`
	MaxCompletionTokens *int          `json:"max_completion_tokens"`
	Logprobs            bool          `json:"logprobs"`
	TopLogprobs         *int          `json:"top_logprobs"`
}

// CompletionRequest is the body of POST /v1/completions.
type CompletionRequest struct {
	samplingFields
	Prompt   *Prompt `json:"prompt"`
	Logprobs *int    `json:"logprobs"`
	Echo     bool    `json:"echo"`
}

// Usage is OpenAI's usage object; PromptTokensDetails is always present (cached_tokens may be 0).
type Usage struct {
	PromptTokens        int                 `json:"prompt_tokens"`
	CompletionTokens    int                 `json:"completion_tokens"`
	TotalTokens         int                 `json:"total_tokens"`
	PromptTokensDetails PromptTokensDetails `json:"prompt_tokens_details"`
}

// PromptTokensDetails carries the radix cache's contribution.
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// LogprobToken is one token of a logprobs.content list.
type LogprobToken struct {
	Token       string         `json:"token"`
	Logprob     float32        `json:"logprob"`
	Bytes       []int          `json:"bytes"`
	TopLogprobs []LogprobEntry `json:"top_logprobs"`
}

// LogprobEntry is one alternative.
type LogprobEntry struct {
	Token   string  `json:"token"`
	Logprob float32 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

// Logprobs is a choice's logprobs object (chat form).
type Logprobs struct {
	Content []LogprobToken `json:"content"`
}

// ChatMessageOut is the assistant message of a non-streamed response.
type ChatMessageOut struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatChoice is one choice of a chat response or chunk.
type ChatChoice struct {
	Index        int             `json:"index"`
	Message      *ChatMessageOut `json:"message,omitempty"`
	Delta        *ChatDelta      `json:"delta,omitempty"`
	Logprobs     *Logprobs       `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

// ChatDelta is a streamed message fragment.
type ChatDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

// ChatResponse is a chat.completion or chat.completion.chunk.
type ChatResponse struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint,omitempty"`
	Choices           []ChatChoice `json:"choices"`
	Usage             *Usage       `json:"usage,omitempty"`
}

// CompletionChoice is one choice of a text completion.
type CompletionChoice struct {
	Index        int     `json:"index"`
	Text         string  `json:"text"`
	Logprobs     any     `json:"logprobs"`
	FinishReason *string `json:"finish_reason"`
}

// CompletionResponse is a text_completion (streamed or not).
type CompletionResponse struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []CompletionChoice `json:"choices"`
	Usage   *Usage             `json:"usage,omitempty"`
}

// ErrorBody is OpenAI's error shape.
type ErrorBody struct {
	Error APIError `json:"error"`
}

// APIError is the inner error object.
type APIError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}
