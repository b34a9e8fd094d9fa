package tokenizer

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestNormalizers(t *testing.T) {
	cases := []struct {
		js, in, want string
	}{
		{`{"type":"NFC"}`, "cafe\u0301", "café"},
		{`{"type":"NFD"}`, "café", "cafe\u0301"},
		{`{"type":"NFKC"}`, "ﬁ²", "fi2"},
		{`{"type":"Lowercase"}`, "ÀB", "àb"},
		{`{"type":"Strip","strip_left":true,"strip_right":false}`, "  x  ", "x  "},
		{`{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]}`, "a b", "▁a▁b"},
		{`{"type":"Prepend","prepend":"▁"}`, "", ""},
		{`{"type":"Replace","pattern":{"Regex":"\\s+"},"content":" "}`, "a \t\u3000b", "a b"},
	}
	for _, c := range cases {
		n, err := parseNormalizer(json.RawMessage(c.js), 0)
		if err != nil {
			t.Fatalf("%s: %v", c.js, err)
		}
		if got := n.normalize(c.in); got != c.want {
			t.Errorf("%s(%q) = %q, want %q", c.js, c.in, got, c.want)
		}
	}
	for _, bad := range []string{`{"type":"Replace","pattern":{"Regex":"a(?=b)"},"content":""}`, `{"type":"Replace","content":""}`, `{"type":"Precompiled"}`, `[`} {
		if _, err := parseNormalizer(json.RawMessage(bad), 0); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestMetaspacePreTokenizer(t *testing.T) {
	cases := []struct {
		js    string
		in    string
		first bool
		want  []string
	}{
		{`{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}`, "hi  there", false, []string{"▁hi", "▁", "▁there"}},
		{`{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false}`, "hi there", false, []string{"hi▁there"}},
		{`{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false}`, "hi there", true, []string{"▁hi▁there"}},
		{`{"type":"Metaspace","replacement":"▁","add_prefix_space":false}`, "a b", true, []string{"a", "▁b"}},
		{`{"type":"Digits","individual_digits":false}`, "a123b45", true, []string{"a", "123", "b", "45"}},
		{`{"type":"ByteLevel","add_prefix_space":true,"use_regex":true}`, "hi you", true, []string{"Ġhi", "Ġyou"}},
	}
	for _, c := range cases {
		p, err := parsePreTokenizer(json.RawMessage(c.js), 0)
		if err != nil {
			t.Fatalf("%s: %v", c.js, err)
		}
		var got []string
		for _, x := range p.pretokenize([]pre{{s: c.in, first: c.first}}) {
			got = append(got, x.s)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s(%q) = %q, want %q", c.js, c.in, got, c.want)
		}
	}
}

func TestDecoders(t *testing.T) {
	cases := []struct {
		js   string
		in   []string
		want string
	}{
		{`{"type":"Metaspace","replacement":"▁","prepend_scheme":"always"}`, []string{"▁Hey", "▁you"}, "Hey you"},
		{`{"type":"Sequence","decoders":[{"type":"ByteFallback"},{"type":"Fuse"}]}`, []string{"a", "<0xE4>", "<0xB8>", "<0xAD>", "<0xFF>", "<0xE4>", "b", "<0xE4>", "<0xB8>", "<0xAD>"},
			"a\uFFFD\uFFFD\uFFFD\uFFFD\uFFFDb中"}, // a run of byte tokens that is not valid UTF-8 becomes one U+FFFD per byte, as in HF
		{`{"type":"Strip","content":"x","start":2,"stop":1}`, []string{"xxxaxx"}, "xax"},
	}
	for _, c := range cases {
		d, err := parseDecoder(json.RawMessage(c.js), 0)
		if err != nil {
			t.Fatalf("%s: %v", c.js, err)
		}
		got := ""
		for _, s := range d.chain(slices.Clone(c.in), false) {
			got += s
		}
		if got != c.want {
			t.Errorf("%s(%q) = %q, want %q", c.js, c.in, got, c.want)
		}
	}
}
