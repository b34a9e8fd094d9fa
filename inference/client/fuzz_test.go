package client

import (
	"strings"
	"testing"
)

// FuzzStream feeds arbitrary bytes through the SSE reader and chunk parser as a server's body would
// arrive: it must end in a result or an error, never a panic, and never report negative counts.
func FuzzStream(f *testing.F) {
	f.Add(dynamoStream)
	f.Add("data: [DONE]\n\n")
	f.Add("event: error\ndata: boom\n\n")
	f.Add("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}],\"usage\":{\"prompt_tokens\":-1}}\n\n")
	f.Add("data: {\"choices\":null,\"usage\":{\"prompt_tokens_details\":null}}\n\n")
	f.Add("data: {\"error\":\"plain\"}\n\n")
	f.Add(":\n\ndata\n\ndata:\n\n")
	f.Fuzz(func(t *testing.T, body string) {
		chunks := 0
		err := consumeStream(strings.NewReader(body), func(c *Chunk) {
			chunks++
			if c.Usage != nil {
				u := c.Usage.usage()
				if u.PromptTokens < 0 || u.CompletionTokens < 0 {
					t.Fatalf("negative usage passed through: %+v", u)
				}
			}
		})
		if err != nil && err.Error() == "" {
			t.Fatal("empty error message")
		}
	})
}
