package tokenizer

import "testing"

func TestSyntheticRoundTrip(t *testing.T) {
	b, err := SyntheticByteLevel(1000)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := SyntheticTokenizerConfig()
	if err != nil {
		t.Fatal(err)
	}
	tk, err := FromJSON(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := "Hello world! The scheduler   walks\n\n the tree 12345 <|eot_id|> 你好 👍🏽"
	ids := tk.Encode(s, true)
	if ids[0] != tk.BOS() {
		t.Fatalf("first id %d, want BOS %d", ids[0], tk.BOS())
	}
	if got := tk.Decode(ids); got != "<|begin_of_text|>"+s {
		t.Fatalf("Decode = %q", got)
	}
	st := tk.NewStream()
	out := ""
	for _, id := range ids {
		out += st.Add(id)
	}
	out += st.Flush()
	if want := tk.DecodeSkipSpecial(ids); out != want {
		t.Fatalf("stream %q, want %q", out, want)
	}
}
