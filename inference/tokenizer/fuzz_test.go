package tokenizer

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"unicode/utf8"
)

var (
	fuzzOnce sync.Once
	fuzzTks  map[string]*Tokenizer
)

func fuzzTokenizers(t testing.TB) map[string]*Tokenizer {
	fuzzOnce.Do(func() {
		fuzzTks = map[string]*Tokenizer{"synthetic": syntheticTokenizer(t, 700)}
		for _, n := range []string{"bytelevel", "bytelevel_gpt2", "spm", "spm_metaspace"} {
			fuzzTks[n] = loadTestTokenizer(t, n+".json")
		}
	})
	return fuzzTks
}

func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "hello world", " \n\t  x", "I'M 12345 你好 👨‍👩‍👧‍👦", "<|eot_id|>a", "\xff\xfe\xe4\xb8", "'ſ 'LL"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, tk := range fuzzTokenizers(t) {
			ids := tk.Encode(s, true)
			for _, id := range ids {
				if id < 0 || int(id) >= tk.VocabSize() {
					t.Fatalf("%s: id %d out of range", name, id)
				}
			}
			out := tk.Decode(ids)
			if !utf8.ValidString(out) {
				t.Fatalf("%s: Decode returned invalid UTF-8 %q", name, out)
			}
			// Byte-level without added tokens of unusual flags: exact round trip for valid UTF-8.
			if name == "synthetic" && utf8.ValidString(s) {
				if got := tk.Decode(tk.Encode(s, false)); got != s {
					t.Fatalf("round trip %q -> %q", s, got)
				}
			}
		}
	})
}

func FuzzStream(f *testing.F) {
	f.Add([]byte{1, 2, 3})
	f.Add([]byte{0xF0, 0x9F, 0x98, 0x80, 0xFF, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, tk := range fuzzTokenizers(t) {
			ids := make([]int32, 0, len(data)/2)
			for i := 0; i+1 < len(data); i += 2 {
				ids = append(ids, int32(int(data[i])<<8|int(data[i+1]))%int32(tk.VocabSize()))
			}
			checkStream(t, tk, ids)
		}
	})
}

func FuzzLoadTokenizerJSON(f *testing.F) {
	for _, n := range []string{"spm.json", "spm_metaspace.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	small, err := SyntheticByteLevel(270)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small)
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]]},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"\\s+|\\w+"},"behavior":"MergedWithNext","invert":true}}`))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":-1}}}`))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{},"merges":["x y"]},"decoder":{"type":"Strip","content":"xy"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := FromJSON(data, nil)
		if err != nil {
			return
		}
		for _, s := range []string{"", "Hello world 123", "a b  c\n\n<s>", "\xff"} {
			ids := tk.Encode(s, true)
			_ = tk.Decode(ids)
			st := tk.NewStream()
			for _, id := range ids {
				_ = st.Add(id)
			}
			_ = st.Flush()
		}
		_, _ = tk.ApplyChatTemplate([]Message{{"user", "hi"}}, true)
	})
}

// FuzzChatTemplate: a hostile chat_template gives an error, never a panic.
func FuzzChatTemplate(f *testing.F) {
	f.Add(SyntheticChatTemplate)
	f.Add(llama3Fallback)
	f.Add(chatMLFallback)
	f.Add("{% for m in messages[::-1] %}{{ m.content.split('x')[-1] | upper }}{% endfor %}{{ raise_exception('no') }}")
	f.Add("{% set ns = namespace(a=1) %}{% set ns.a = ns.a + 1 %}{{ ns.a }}{{ messages | tojson }}")
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 4096 {
			return
		}
		_, _ = RenderChatTemplate(src, []Message{{"system", "s"}, {"user", "u"}}, true, "<s>", "</s>", nil)
	})
}
