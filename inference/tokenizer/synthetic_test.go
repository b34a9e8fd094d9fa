package tokenizer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type syntheticGolden struct {
	SHA256 map[string]string `json:"tokenizer_json_sha256"`
	Cases  []struct {
		Text string  `json:"text"`
		IDs  []int32 `json:"ids"`
	} `json:"encodings_vocab_1000"`
}

var syntheticTexts = []string{"Hello world!", "The scheduler walks the tree from the root.", "func main() {\n\treturn 42\n}",
	"I'd like 1234567 tokens, please.", "你好 😀", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"}

// The synthetic tokenizer is part of every `radix model random` model: it must not change by accident.
// Run with -update after an intended change.
func TestSyntheticGolden(t *testing.T) {
	path := filepath.Join("testdata", "synthetic_goldens.json")
	var g syntheticGolden
	g.SHA256 = map[string]string{}
	for _, n := range []string{"261", "1000", "32000"} {
		var size int
		_ = json.Unmarshal([]byte(n), &size)
		b, err := SyntheticByteLevel(size)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		g.SHA256[n] = hex.EncodeToString(sum[:])
	}
	tk := syntheticTokenizer(t, 1000)
	for _, s := range syntheticTexts {
		g.Cases = append(g.Cases, struct {
			Text string  `json:"text"`
			IDs  []int32 `json:"ids"`
		}{s, tk.Encode(s, true)})
	}
	got, err := json.MarshalIndent(g, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("synthetic tokenizer changed; run with -update if intended:\n%s", got)
	}
}

func TestSyntheticShape(t *testing.T) {
	for _, size := range []int{261, 300, 1000, 32000} {
		b, err := SyntheticByteLevel(size)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := SyntheticByteLevel(size)
		if !bytes.Equal(b, b2) {
			t.Fatalf("size %d: not deterministic", size)
		}
		tk, err := FromJSON(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tk.VocabSize() != size {
			t.Fatalf("VocabSize = %d, want %d", tk.VocabSize(), size)
		}
		if tk.BOS() != int32(size-5) || tk.EOS() != int32(size-4) {
			t.Fatalf("size %d: BOS/EOS = %d/%d", size, tk.BOS(), tk.EOS())
		}
		eot, _ := tk.TokenID("<|eot_id|>")
		if !slices.Contains(tk.StopIDs(), eot) {
			t.Fatalf("StopIDs %v lacks <|eot_id|>", tk.StopIDs())
		}
		s := "Hello, world! 你好 " + strings.Repeat("cache ", 3)
		ids := tk.Encode(s, true)
		if ids[0] != tk.BOS() || tk.DecodeSkipSpecial(ids) != s {
			t.Fatalf("size %d: round trip failed: %v", size, ids)
		}
		if size >= 1000 && len(ids) > len(s)/2 {
			t.Fatalf("size %d: merges barely compress (%d ids for %d bytes)", size, len(ids), len(s))
		}
	}
	if _, err := SyntheticByteLevel(100); err == nil {
		t.Fatal("vocab 100 accepted")
	}
}
