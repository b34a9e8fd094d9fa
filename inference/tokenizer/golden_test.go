package tokenizer

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The goldens under testdata/ come from the Hugging Face tokenizers and transformers libraries, written by
// testdata/gen/gen_goldens.py (which trains the tokenizers too). -update cannot regenerate them from Go:
// run that script where those libraries are installed and copy its output into testdata/.
var update = flag.Bool("update", false, "rewrite goldens produced by radix itself (testdata/synthetic_*.json)")

type goldenCase struct {
	Text       string  `json:"text"`
	IDs        []int32 `json:"ids"`
	IDsSpecial []int32 `json:"ids_special"`
	Decode     string  `json:"decode"`
	DecodeSkip string  `json:"decode_skip"`
}

type goldenSet struct {
	Tokenizer string       `json:"tokenizer"`
	Cases     []goldenCase `json:"cases"`
	Random    []struct {
		IDs        []int32 `json:"ids"`
		Decode     string  `json:"decode"`
		DecodeSkip string  `json:"decode_skip"`
	} `json:"random_decodes"`
}

func loadGoldens(t testing.TB) []goldenSet {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sets []goldenSet
	if err := json.Unmarshal(b, &sets); err != nil {
		t.Fatal(err)
	}
	return sets
}

func loadTestTokenizer(t testing.TB, name string) *Tokenizer {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	tk, err := FromJSON(b, nil)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tk
}

// TestGoldenHF checks encode (with and without special tokens) and decode (with and without skipping
// special tokens) against the Hugging Face tokenizers library, exactly.
func TestGoldenHF(t *testing.T) {
	for _, set := range loadGoldens(t) {
		t.Run(set.Tokenizer, func(t *testing.T) {
			tk := loadTestTokenizer(t, set.Tokenizer)
			enc, dec, rnd := 0, 0, 0
			for _, c := range set.Cases {
				ok := true
				if got := tk.Encode(c.Text, false); !slices.Equal(got, c.IDs) {
					t.Errorf("Encode(%q) = %v, want %v", c.Text, got, c.IDs)
					ok = false
				}
				if got := tk.Encode(c.Text, true); !slices.Equal(got, c.IDsSpecial) {
					t.Errorf("Encode(%q, special) = %v, want %v", c.Text, got, c.IDsSpecial)
					ok = false
				}
				if ok {
					enc++
				}
				ok = true
				if got := tk.Decode(c.IDsSpecial); got != c.Decode {
					t.Errorf("Decode(%v) = %q, want %q", c.IDsSpecial, got, c.Decode)
					ok = false
				}
				if got := tk.DecodeSkipSpecial(c.IDsSpecial); got != c.DecodeSkip {
					t.Errorf("DecodeSkipSpecial(%v) = %q, want %q", c.IDsSpecial, got, c.DecodeSkip)
					ok = false
				}
				if ok {
					dec++
				}
			}
			for _, r := range set.Random {
				ok := true
				if got := tk.Decode(r.IDs); got != r.Decode {
					t.Errorf("Decode(%v) = %q, want %q", r.IDs, got, r.Decode)
					ok = false
				}
				if got := tk.DecodeSkipSpecial(r.IDs); got != r.DecodeSkip {
					t.Errorf("DecodeSkipSpecial(%v) = %q, want %q", r.IDs, got, r.DecodeSkip)
					ok = false
				}
				if ok {
					rnd++
				}
			}
			t.Logf("%s: encode %d/%d, decode %d/%d, random-id decode %d/%d", set.Tokenizer,
				enc, len(set.Cases), dec, len(set.Cases), rnd, len(set.Random))
		})
	}
}

type chatGolden struct {
	Templates map[string]string `json:"templates"`
	Cases     []struct {
		Template string         `json:"template"`
		Messages []Message      `json:"messages"`
		AddGen   bool           `json:"add_generation_prompt"`
		Extra    map[string]any `json:"extra"`
		BOS      string         `json:"bos"`
		EOS      string         `json:"eos"`
		Output   *string        `json:"output"`
		Error    string         `json:"error"`
	} `json:"cases"`
}

// TestGoldenChatTemplates renders templates exercising the constructs of the Llama 3 and Qwen3 templates
// and compares with transformers' apply_chat_template.
func TestGoldenChatTemplates(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "chat_goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g chatGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	match := 0
	for i, c := range g.Cases {
		name := fmt.Sprintf("%d_%s", i, c.Template)
		got, err := RenderChatTemplate(g.Templates[c.Template], c.Messages, c.AddGen, c.BOS, c.EOS, c.Extra)
		switch {
		case c.Output == nil && err == nil:
			t.Errorf("%s: rendered %q, want an error like %q", name, got, c.Error)
		case c.Output != nil && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.Output != nil && got != *c.Output:
			t.Errorf("%s: rendered\n%q\nwant\n%q", name, got, *c.Output)
		default:
			match++
		}
	}
	t.Logf("chat templates: %d/%d match transformers", match, len(g.Cases))
}
