package tokenizer

import (
	"encoding/json"
	"fmt"

	"github.com/ardanlabs/jinja"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatTemplate struct {
	src      string
	tmpl     *jinja.Template
	bos, eos string
}

// pickTemplate reads tokenizer_config.json's chat_template: a string, or a list of {name, template}
// from which "default" (else the first) is taken.
func pickTemplate(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var named []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw, &named); err != nil {
		return "", fmt.Errorf("chat_template: want a string or a list of {name, template}: %w", err)
	}
	for _, n := range named {
		if n.Name == "default" {
			return n.Template, nil
		}
	}
	if len(named) > 0 {
		return named[0].Template, nil
	}
	return "", nil
}

// Built-in templates for models without a chat_template. The Llama 3 form is used when the vocabulary
// has <|start_header_id|>, else ChatML (<|im_start|>role\ncontent<|im_end|>\n), which is also what the
// text falls back to when the vocabulary has neither (the markers are then plain text).
const (
	llama3Fallback = `{{- bos_token }}
{%- for message in messages %}
{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}`

	chatMLFallback = `{%- for message in messages %}
{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|im_start|>assistant\n' }}
{%- endif %}`
)

var (
	llama3FallbackTmpl = mustCompile(llama3Fallback)
	chatMLFallbackTmpl = mustCompile(chatMLFallback)
)

func mustCompile(src string) *jinja.Template {
	t, err := jinja.Compile(src)
	if err != nil {
		panic(fmt.Sprintf("built-in chat template: %v", err))
	}
	return t
}

// HasChatTemplate reports whether the model brought its own chat template.
func (t *Tokenizer) HasChatTemplate() bool { return t.chat != nil }

// ChatTemplate returns the model's chat template source, or the built-in one used in its place.
func (t *Tokenizer) ChatTemplate() string {
	if t.chat != nil {
		return t.chat.src
	}
	if _, ok := t.TokenID("<|start_header_id|>"); ok {
		return llama3Fallback
	}
	return chatMLFallback
}

// ApplyChatTemplate renders a conversation into the prompt text the model expects. The text already
// contains any BOS the template writes: encode it with Encode(text, false).
func (t *Tokenizer) ApplyChatTemplate(msgs []Message, addGenerationPrompt bool) (string, error) {
	return t.ApplyChatTemplateVars(msgs, addGenerationPrompt, nil)
}

// ApplyChatTemplateVars is ApplyChatTemplate with extra template variables, such as Qwen3's
// enable_thinking, passed as transformers passes apply_chat_template's keyword arguments.
func (t *Tokenizer) ApplyChatTemplateVars(msgs []Message, addGenerationPrompt bool, vars map[string]any) (string, error) {
	tmpl := chatMLFallbackTmpl
	bos, eos := t.Token(t.bos), t.Token(t.eos)
	if t.bos < 0 {
		bos = ""
	}
	if t.eos < 0 {
		eos = ""
	}
	if t.chat != nil {
		tmpl, bos, eos = t.chat.tmpl, t.chat.bos, t.chat.eos
	} else if _, ok := t.TokenID("<|start_header_id|>"); ok {
		tmpl = llama3FallbackTmpl
	}
	out, err := renderChat(tmpl, msgs, addGenerationPrompt, bos, eos, vars)
	if err != nil {
		return "", fmt.Errorf("applying chat template: %w", err)
	}
	return out, nil
}

// EncodeChat renders the conversation and encodes it without adding special tokens again.
func (t *Tokenizer) EncodeChat(msgs []Message, addGenerationPrompt bool) ([]int32, error) {
	s, err := t.ApplyChatTemplate(msgs, addGenerationPrompt)
	if err != nil {
		return nil, err
	}
	return t.Encode(s, false), nil
}

// RenderChatTemplate renders a chat template source directly; extra variables (for example
// enable_thinking or date_string) are passed to the template as they are.
func RenderChatTemplate(src string, msgs []Message, addGenerationPrompt bool, bos, eos string, extra map[string]any) (string, error) {
	tmpl, err := compileTemplate(src)
	if err != nil {
		return "", fmt.Errorf("compiling chat template: %w", err)
	}
	return renderChat(tmpl, msgs, addGenerationPrompt, bos, eos, extra)
}

// compileTemplate compiles a chat template; a panic inside the template engine on hostile input becomes an
// error, so a bad tokenizer_config.json cannot bring a server down.
func compileTemplate(src string) (t *jinja.Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("chat template engine failed: %v", r)
		}
	}()
	return jinja.Compile(src)
}

func renderChat(tmpl *jinja.Template, msgs []Message, addGen bool, bos, eos string, extra map[string]any) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("chat template engine failed: %v", r)
		}
	}()
	// Messages are dicts with keys in the order transformers passes them (role, then content), so that
	// filters such as tojson print them the same way.
	ms := make([]jinja.Value, len(msgs))
	for i, m := range msgs {
		d := jinja.NewDict()
		d.AsDict().Set("role", jinja.NewString(m.Role))
		d.AsDict().Set("content", jinja.NewString(m.Content))
		ms[i] = d
	}
	data := map[string]jinja.Value{
		"messages":              jinja.NewList(ms),
		"add_generation_prompt": jinja.NewBool(addGen),
		"bos_token":             jinja.NewString(bos),
		"eos_token":             jinja.NewString(eos),
	}
	for k, v := range extra {
		data[k] = jinja.FromGoValue(v)
	}
	return tmpl.RenderValues(data)
}

func (t *Tokenizer) setChatTemplate(src string) error {
	tmpl, err := compileTemplate(src)
	if err != nil {
		return fmt.Errorf("compiling chat_template: %w", err)
	}
	t.chat = &chatTemplate{src: src, tmpl: tmpl, bos: t.Token(t.bos), eos: t.Token(t.eos)}
	if t.bos < 0 {
		t.chat.bos = ""
	}
	if t.eos < 0 {
		t.chat.eos = ""
	}
	return nil
}
