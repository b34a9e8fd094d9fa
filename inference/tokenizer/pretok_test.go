package tokenizer

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestSplitBehaviors(t *testing.T) {
	m := literal("-")
	cases := []struct {
		beh    splitBehavior
		invert bool
		want   []string
	}{
		{behRemoved, false, []string{"a", "b", "c"}},
		{behIsolated, false, []string{"a", "-", "b", "-", "-", "c", "-"}},
		{behMergedWithPrevious, false, []string{"a-", "b-", "-", "c-"}},
		{behMergedWithNext, false, []string{"a", "-b", "-", "-c", "-"}},
		{behContiguous, false, []string{"a", "-", "b", "--", "c", "-"}},
		{behRemoved, true, []string{"-", "-", "-", "-"}},
	}
	for _, c := range cases {
		if got := splitBy("a-b--c-", m, c.beh, c.invert); !slices.Equal(got, c.want) {
			t.Errorf("behavior %d invert %v: %q, want %q", c.beh, c.invert, got, c.want)
		}
	}
}

func pieces(m matcher, s string) []string {
	var out []string
	for _, sp := range m.findAll(s) {
		out = append(out, s[sp[0]:sp[1]])
	}
	return out
}

// Hand-worked cases of the Llama 3 expression (the goldens cover much more, against the real engine).
func TestLlama3Pattern(t *testing.T) {
	m := knownPattern(contractCI + strings.Replace(cl100kRest, "%s", `\p{N}{1,3}`, 1))
	if m == nil {
		t.Fatal("Llama 3 pattern not recognised")
	}
	cases := map[string][]string{
		"Hello world":     {"Hello", " world"},
		"   hello":        {"  ", " hello"},
		"a \n\n  b":       {"a", " \n\n", " ", " b"},
		"1234567":         {"123", "456", "7"},
		" 42":             {" ", "42"},
		"I'M (ok)!!\n\nx": {"I", "'M", " (", "ok", ")!!\n\n", "x"},
		"tail  ":          {"tail", "  "},
		"\xff\xfeab":      {"\xff\xfe", "ab"},
		"x\u3000\u3000y":  {"x", "\u3000", "\u3000y"},
	}
	for in, want := range cases {
		if got := pieces(m, in); !slices.Equal(got, want) {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
}

func TestCompilePattern(t *testing.T) {
	if _, err := compilePattern(`a(?=b)|\s+(?!\S)|\s+`); err == nil || !strings.Contains(err.Error(), "lookaround") {
		t.Errorf("unknown lookahead pattern: err = %v", err)
	}
	if _, err := compilePattern(`(`); err == nil {
		t.Error("broken pattern accepted")
	}
	m, err := compilePattern(`\s+|[^\s]+`)
	if err != nil {
		t.Fatal(err)
	}
	// \s is Unicode White_Space as in Oniguruma, not Go's ASCII class.
	if got := pieces(m, "a\u3000b\u00a0 c"); !slices.Equal(got, []string{"a", "\u3000", "b", "\u00a0 ", "c"}) {
		t.Errorf("translated \\s: %q", got)
	}
	d := digitMatcher{individual: true}
	if got := splitBy("ab123c4", d, behIsolated, false); !slices.Equal(got, []string{"ab", "1", "2", "3", "c", "4"}) {
		t.Errorf("digits: %q", got)
	}
}

func TestRejectsUnsupported(t *testing.T) {
	for name, js := range map[string]string{
		"unigram":     `{"model":{"type":"Unigram","vocab":[]}}`,
		"wordpiece":   `{"model":{"type":"WordPiece","vocab":{}}}`,
		"lookahead":   `{"model":{"type":"BPE","vocab":{}},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"a(?=b)"},"behavior":"Isolated"}}`,
		"normalizer":  `{"model":{"type":"BPE","vocab":{}},"normalizer":{"type":"BertNormalizer"}}`,
		"decoder":     `{"model":{"type":"BPE","vocab":{}},"decoder":{"type":"WordPiece"}}`,
		"post":        `{"model":{"type":"BPE","vocab":{}},"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"x"}}],"special_tokens":{}}}`,
		"merge":       `{"model":{"type":"BPE","vocab":{"a":0},"merges":["a b"]}}`,
		"big id":      `{"model":{"type":"BPE","vocab":{"a":99999999}}}`,
		"unk missing": `{"model":{"type":"BPE","vocab":{},"unk_token":"<unk>"}}`,
		"suffix":      `{"model":{"type":"BPE","vocab":{},"end_of_word_suffix":"</w>"}}`,
		"behavior":    `{"model":{"type":"BPE","vocab":{}},"pre_tokenizer":{"type":"Split","pattern":{"String":" "},"behavior":"Sideways"}}`,
	} {
		if _, err := FromJSON([]byte(js), nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The generic emulation of a top-level \s+(?!\S) alternative (used for patterns radix does not know by
// name, such as DeepSeek V3's) agrees with the hand-written matchers, which the goldens pin to Hugging
// Face, on the golden corpus and on random text.
func TestAlternationMatchesHandWritten(t *testing.T) {
	pats := []string{patGPT2, contractCI + fmt.Sprintf(cl100kRest, `\p{N}{1,3}`), contractCI + fmt.Sprintf(cl100kRest, `\p{N}`),
		contractClass + fmt.Sprintf(cl100kRest, `\p{N}{1,3}`)}
	var texts []string
	for _, set := range loadGoldens(t) {
		if set.Tokenizer == "bytelevel.json" {
			for _, c := range set.Cases {
				texts = append(texts, c.Text)
			}
		}
	}
	for _, p := range pats {
		hand := knownPattern(p)
		branches, ok := topLevelBranches(p)
		if hand == nil || !ok {
			t.Fatalf("pattern %q not recognised", p)
		}
		gen, err := compileAlternation(p, branches)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range texts {
			if a, b := pieces(hand, s), pieces(gen, s); !slices.Equal(a, b) {
				t.Fatalf("%q on %q: hand %q, generic %q", p, s, a, b)
			}
		}
		rapid.Check(t, func(rt *rapid.T) {
			s := rapid.StringOf(rapid.SampledFrom([]rune("aZ9 \t\n\r'sStTlLé你😀\u00a0\u3000.,!_-\u0301\u0663"))).Draw(rt, "s")
			if a, b := pieces(hand, s), pieces(gen, s); !slices.Equal(a, b) {
				rt.Fatalf("%q on %q: hand %q, generic %q", p, s, a, b)
			}
		})
	}
	// A DeepSeek-V3-style pattern compiles and covers its text.
	m, err := compilePattern(`[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_` + "`" + `{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`)
	if err != nil {
		t.Fatal(err)
	}
	if got := pieces(m, "Hello  world!\n\n.x"); !slices.Equal(got, []string{"Hello", " ", " world", "!\n\n", ".x"}) {
		t.Fatalf("deepseek-style: %q", got)
	}
}
