package server

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// The official OpenAI Go client talks to the live server: chat (plain and streamed with usage),
// completions, models, and errors as *openai.Error with the right status.
func TestOpenAIGoClient(t *testing.T) {
	l := startLive(t, testOpts{apiKey: "k"})
	c := openai.NewClient(option.WithBaseURL(l.http.URL+"/v1"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model: "tiny",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("You are terse."),
			openai.UserMessage("Name three colours."),
		},
		MaxTokens:   openai.Int(8),
		Temperature: openai.Float(0),
	}
	var first *openai.ChatCompletion
	for i := range 2 {
		cc, err := c.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if len(cc.Choices) != 1 || cc.Choices[0].Message.Role != "assistant" || cc.Usage.CompletionTokens == 0 {
			t.Fatalf("completion %+v", cc)
		}
		if i == 0 {
			first = cc
		} else if cc.Usage.PromptTokensDetails.CachedTokens == 0 || cc.Choices[0].Message.Content != first.Choices[0].Message.Content {
			t.Fatalf("second identical request: cached %d, %q vs %q", cc.Usage.PromptTokensDetails.CachedTokens,
				cc.Choices[0].Message.Content, first.Choices[0].Message.Content)
		}
	}

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := c.Chat.Completions.NewStreaming(ctx, params)
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != first.Choices[0].Message.Content {
		t.Fatalf("streamed %q, plain %q", acc.Choices[0].Message.Content, first.Choices[0].Message.Content)
	}
	if acc.Usage.TotalTokens == 0 || acc.Usage.PromptTokensDetails.CachedTokens == 0 {
		t.Fatalf("stream usage %+v", acc.Usage)
	}

	comp, err := c.Completions.New(ctx, openai.CompletionNewParams{
		Model:     "tiny",
		Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
		MaxTokens: openai.Int(6),
	})
	if err != nil || len(comp.Choices) != 1 || comp.Usage.CompletionTokens == 0 {
		t.Fatalf("completions: %v %+v", err, comp)
	}

	models, err := c.Models.List(ctx)
	if err != nil || len(models.Data) != 1 || models.Data[0].ID != "tiny" {
		t.Fatalf("models: %v %+v", err, models)
	}

	params.Model = "nope"
	_, err = c.Chat.Completions.New(ctx, params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || !strings.Contains(apiErr.Message, "does not exist") {
		t.Fatalf("unknown model: %v", err)
	}
	bad := openai.NewClient(option.WithBaseURL(l.http.URL+"/v1"), option.WithAPIKey("wrong"), option.WithMaxRetries(0))
	_, err = bad.Models.List(ctx)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Fatalf("wrong key: %v", err)
	}
}
