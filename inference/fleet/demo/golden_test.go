package demo

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/radixops/radix/inference/model"
	"github.com/radixops/radix/inference/tokenizer"
)

// golden is one of transformers' greedy continuations, computed in float32 from the shipped bf16
// weights when the model was trained (train/train.py writes goldens.json).
type golden struct {
	Prompt    string  `json:"prompt"`
	PromptIDs []int32 `json:"prompt_ids"`
	GreedyIDs []int32 `json:"greedy_ids"`
}

func loadGoldens(t *testing.T) []golden {
	t.Helper()
	b, err := os.ReadFile("model/goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	var gs []golden
	if err := json.Unmarshal(b, &gs); err != nil {
		t.Fatal(err)
	}
	return gs
}

// The demo model as radix loads it must answer exactly as transformers did: same chat-template
// tokens, same greedy continuation.
func TestDemoModelMatchesTransformers(t *testing.T) {
	m, err := model.Load("model", model.LoadOptions{DType: "f32"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tok := m.Tokenizer()
	for _, g := range loadGoldens(t) {
		ids, err := tok.EncodeChat([]tokenizer.Message{{Role: "user", Content: g.Prompt}}, true)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids, g.PromptIDs) {
			t.Fatalf("%q: chat prompt tokens\n got %v\nwant %v", g.Prompt, ids, g.PromptIDs)
		}
		var got []int32
		_, err = m.Generate(context.Background(), ids, model.GenerateOptions{MaxTokens: len(g.GreedyIDs), Stop: tok.StopIDs()}, func(id int32) error {
			got = append(got, id)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := g.GreedyIDs
		// transformers emits the stop token itself; Generate stops before it.
		if n := len(want); n > 0 && slices.Contains(tok.StopIDs(), want[n-1]) {
			want = want[:n-1]
		}
		if !slices.Equal(got, want) {
			t.Errorf("%q:\n got %q\nwant %q", g.Prompt, tok.Decode(got), tok.Decode(want))
		}
	}
}
