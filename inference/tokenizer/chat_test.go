package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeModelDir(t *testing.T, tokJSON []byte, cfg map[string]any, gen string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), tokJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if gen != "" {
		if err := os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(gen), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var convo = []Message{{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "Bye"}}

func TestLoadDirWithConfig(t *testing.T) {
	tj, err := SyntheticByteLevel(600)
	if err != nil {
		t.Fatal(err)
	}
	named := []map[string]string{
		{"name": "tool_use", "template": "TOOLS"},
		{"name": "default", "template": "{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}{{ eos_token }}"},
	}
	dir := writeModelDir(t, tj, map[string]any{
		"chat_template": named,
		"bos_token":     map[string]any{"content": "<|begin_of_text|>", "lstrip": false},
		"eos_token":     map[string]any{"content": "<|eot_id|>"},
	}, `{"eos_token_id": [597, 598]}`)
	tk, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tk.TokenID("<|begin_of_text|>"); tk.BOS() != got {
		t.Errorf("BOS = %d, want %d", tk.BOS(), got)
	}
	eot, _ := tk.TokenID("<|eot_id|>")
	if tk.EOS() != eot {
		t.Errorf("EOS = %d, want %d", tk.EOS(), eot)
	}
	end, _ := tk.TokenID("<|end_of_text|>")
	for _, want := range []int32{eot, end, 597, 598} {
		if !slices.Contains(tk.StopIDs(), want) {
			t.Errorf("StopIDs %v lacks %d", tk.StopIDs(), want)
		}
	}
	got, err := tk.ApplyChatTemplate(convo[:2], false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[system:Be brief.][user:Hi]<|eot_id|>"; got != want {
		t.Errorf("template = %q, want %q", got, want)
	}
	got, err = tk.ApplyChatTemplateVars(convo[:1], false, map[string]any{"messages": []any{}})
	if err != nil || got != "<|eot_id|>" {
		t.Errorf("vars override messages: %q, %v", got, err)
	}
	// Load also accepts the tokenizer.json path itself.
	if _, err := Load(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Errorf("Load(file): %v", err)
	}
}

func TestSyntheticChatTemplate(t *testing.T) {
	tk := syntheticTokenizer(t, 600)
	got, err := tk.ApplyChatTemplate(convo, true)
	if err != nil {
		t.Fatal(err)
	}
	want := "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
		"<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>" +
		"<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if _, err := tk.ApplyChatTemplate([]Message{{"tool", "x"}}, false); err == nil || !strings.Contains(err.Error(), "roles must be") {
		t.Fatalf("raise_exception: err = %v", err)
	}
	ids, err := tk.EncodeChat(convo[:2], true)
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] != tk.BOS() || slices.Contains(ids[1:], tk.BOS()) {
		t.Fatalf("EncodeChat must carry exactly one BOS: %v", ids)
	}
}

func TestFallbackTemplates(t *testing.T) {
	tj, err := SyntheticByteLevel(600)
	if err != nil {
		t.Fatal(err)
	}
	llama, err := FromJSON(tj, nil)
	if err != nil {
		t.Fatal(err)
	}
	if llama.HasChatTemplate() {
		t.Fatal("no config, yet a template")
	}
	got, err := llama.ApplyChatTemplate(convo[:2], true)
	if err != nil {
		t.Fatal(err)
	}
	want := "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
		"<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
	if got != want {
		t.Errorf("llama fallback = %q", got)
	}
	spm := loadTestTokenizer(t, "spm.json")
	got, err = spm.ApplyChatTemplate(convo[:2], true)
	if err != nil {
		t.Fatal(err)
	}
	if want := "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"; got != want {
		t.Errorf("chatml fallback = %q", got)
	}
	if !strings.Contains(spm.ChatTemplate(), "im_start") || !strings.Contains(llama.ChatTemplate(), "start_header_id") {
		t.Error("ChatTemplate() does not report the fallback in use")
	}
}

func TestConfigErrors(t *testing.T) {
	tj, err := SyntheticByteLevel(600)
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]string{
		"not json":     `{`,
		"bad template": `{"chat_template": "{% if %}"}`,
		"bad list":     `{"chat_template": [1, 2]}`,
	} {
		if _, err := FromJSON(tj, []byte(cfg)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no tokenizer.json") {
		t.Errorf("empty dir: %v", err)
	}
}

// transformers' LlamaTokenizerFast decides BOS/EOS from add_bos_token/add_eos_token.
func TestLlamaTokenizerClassFlags(t *testing.T) {
	tj, err := os.ReadFile(filepath.Join("testdata", "spm.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cfg  string
		want []int32
	}{
		{`{"tokenizer_class":"LlamaTokenizerFast","bos_token":"<s>","eos_token":"</s>"}`, []int32{1, 9}},
		{`{"tokenizer_class":"LlamaTokenizerFast","add_bos_token":false,"add_eos_token":true}`, []int32{9, 2}},
		{`{"tokenizer_class":"PreTrainedTokenizerFast","add_bos_token":false}`, []int32{1, 9}},
	} {
		tk, err := FromJSON(tj, []byte(c.cfg))
		if err != nil {
			t.Fatal(err)
		}
		x := tk.Encode("x", false)
		want := slices.Clone(c.want)
		for i := range want {
			if want[i] == 9 {
				want = slices.Replace(want, i, i+1, x...)
				break
			}
		}
		if got := tk.Encode("x", true); !slices.Equal(got, want) {
			t.Errorf("%s: Encode = %v, want %v", c.cfg, got, want)
		}
	}
}

// Constructs real templates rely on beyond the goldens: strftime_now, tojson, dict access and loops.
func TestTemplateBuiltins(t *testing.T) {
	src := `{{ strftime_now('%Y') | length }}|{{ messages | length }}|{{ messages[0] | tojson }}|` +
		`{% for m in messages %}{{ loop.index }}{{ m['role'][0] | upper }}{% if not loop.last %},{% endif %}{% endfor %}|{{ missing is defined }}`
	got, err := RenderChatTemplate(src, convo[:2], false, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `4|2|{"role": "system", "content": "Be brief."}|1S,2U|False`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
