package tokenizer

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Special tokens of synthetic tokenizers, in id order at the top of the vocabulary (as in Llama 3).
var syntheticSpecials = []string{"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"}

// SyntheticByteLevel returns a deterministic Llama-3-style byte-level BPE tokenizer.json with exactly
// vocabSize tokens: the 256 byte tokens, merges learned by a small BPE trainer over a built-in
// English and code text, reserved special tokens filling any remainder the text cannot supply, and the
// five Llama 3 special tokens last. Encoding adds <|begin_of_text|>.
func SyntheticByteLevel(vocabSize int) ([]byte, error) {
	nSpecial := len(syntheticSpecials)
	if vocabSize < 256+nSpecial {
		return nil, fmt.Errorf("synthetic tokenizer: vocab size %d is below the minimum %d", vocabSize, 256+nSpecial)
	}
	if vocabSize > maxVocab {
		return nil, fmt.Errorf("synthetic tokenizer: vocab size %d is above the maximum %d", vocabSize, maxVocab)
	}
	toks, merges := trainBPE(syntheticCorpus, vocabSize-nSpecial)
	vocab := make(map[string]int, vocabSize)
	for i, t := range toks {
		vocab[t] = i
	}
	type addedJSON struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	var added []addedJSON
	for id, r := len(toks), 0; id < vocabSize-nSpecial; id, r = id+1, r+1 {
		added = append(added, addedJSON{ID: id, Content: fmt.Sprintf("<|reserved_special_token_%d|>", r), Special: true})
	}
	bos := vocabSize - nSpecial
	for i, s := range syntheticSpecials {
		added = append(added, addedJSON{ID: bos + i, Content: s, Special: true})
	}
	mergeStrs := make([]string, len(merges))
	for i, m := range merges {
		mergeStrs[i] = m[0] + " " + m[1]
	}
	doc := map[string]any{
		"version":      "1.0",
		"truncation":   nil,
		"padding":      nil,
		"added_tokens": added,
		"normalizer":   nil,
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]string{"Regex": contractCI + fmt.Sprintf(cl100kRest, `\p{N}{1,3}`)},
				"behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}},
		"post_processor": map[string]any{"type": "Sequence", "processors": []any{
			map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
			map[string]any{"type": "TemplateProcessing",
				"single": []any{
					map[string]any{"SpecialToken": map[string]any{"id": syntheticSpecials[0], "type_id": 0}},
					map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
				},
				"pair": []any{
					map[string]any{"SpecialToken": map[string]any{"id": syntheticSpecials[0], "type_id": 0}},
					map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
					map[string]any{"SpecialToken": map[string]any{"id": syntheticSpecials[0], "type_id": 1}},
					map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}},
				},
				"special_tokens": map[string]any{syntheticSpecials[0]: map[string]any{
					"id": syntheticSpecials[0], "ids": []int{bos}, "tokens": []string{syntheticSpecials[0]}}},
			},
		}},
		"decoder": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": true,
			"vocab": vocab, "merges": mergeStrs},
	}
	out, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		return nil, fmt.Errorf("synthetic tokenizer: %w", err)
	}
	return out, nil
}

// SyntheticChatTemplate is the Llama-3-style chat template written for synthetic tokenizers.
const SyntheticChatTemplate = `{{- bos_token }}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] | trim %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set system_message = '' %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- if system_message %}
    {{- '<|start_header_id|>system<|end_header_id|>\n\n' + system_message + '<|eot_id|>' }}
{%- endif %}
{%- for message in loop_messages %}
    {%- if message['role'] not in ['user', 'assistant'] %}
        {{- raise_exception('roles must be user or assistant after an optional system message') }}
    {%- endif %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}`

// SyntheticTokenizerConfig returns a tokenizer_config.json matching SyntheticByteLevel: bos/eos tokens
// and SyntheticChatTemplate.
func SyntheticTokenizerConfig() ([]byte, error) {
	doc := map[string]any{
		"bos_token":                    syntheticSpecials[0],
		"eos_token":                    syntheticSpecials[2],
		"chat_template":                SyntheticChatTemplate,
		"clean_up_tokenization_spaces": false,
		"model_max_length":             131072,
		"tokenizer_class":              "PreTrainedTokenizerFast",
	}
	out, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		return nil, fmt.Errorf("synthetic tokenizer config: %w", err)
	}
	return out, nil
}

// trainBPE learns byte-level BPE merges over text until the vocabulary has maxTokens tokens or no pair
// occurs twice. Words come from the Llama 3 pre-tokenizer; the most frequent pair merges first, ties
// going to the pair whose tokens sort first, so the result is deterministic.
func trainBPE(text string, maxTokens int) (toks []string, merges [][2]string) {
	toks = make([]string, 256)
	for b := 0; b < 256; b++ {
		toks[b] = string(byteToRune[b])
	}
	counts := map[string]int{}
	for _, sp := range (&cl100k{ci: true, foldLongS: true, digitMax: 3}).findAll(text) {
		counts[text[sp[0]:sp[1]]]++
	}
	type word struct {
		syms  []int
		count int
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	words := make([]word, 0, len(keys))
	for _, k := range keys {
		w := word{count: counts[k]}
		for i := 0; i < len(k); i++ {
			w.syms = append(w.syms, int(k[i]))
		}
		words = append(words, w)
	}
	index := map[string]int{}
	for i, t := range toks {
		index[t] = i
	}
	for len(toks) < maxTokens {
		pairs := map[[2]int]int{}
		for _, w := range words {
			for i := 0; i+1 < len(w.syms); i++ {
				pairs[[2]int{w.syms[i], w.syms[i+1]}] += w.count
			}
		}
		best, bestN := [2]int{}, 0
		for p, n := range pairs {
			if n > bestN || n == bestN && pairLess(toks, p, best) {
				best, bestN = p, n
			}
		}
		if bestN < 2 {
			break
		}
		merged := toks[best[0]] + toks[best[1]]
		id, ok := index[merged]
		if !ok {
			id = len(toks)
			toks = append(toks, merged)
			index[merged] = id
		}
		merges = append(merges, [2]string{toks[best[0]], toks[best[1]]})
		for wi := range words {
			s := words[wi].syms
			out := s[:0]
			for i := 0; i < len(s); i++ {
				if i+1 < len(s) && s[i] == best[0] && s[i+1] == best[1] {
					out = append(out, id)
					i++
				} else {
					out = append(out, s[i])
				}
			}
			words[wi].syms = out
		}
	}
	return toks, merges
}

func pairLess(toks []string, a, b [2]int) bool {
	if toks[a[0]] != toks[b[0]] {
		return toks[a[0]] < toks[b[0]]
	}
	return toks[a[1]] < toks[b[1]]
}

// syntheticCorpus is the built-in training text: plain English prose and a little Go and Python, written
// for this package.
var syntheticCorpus = strings.Repeat(corpusProse, 2) + corpusCode

const corpusProse = `The engine keeps a tree of every prompt it has seen. When a new request arrives, the scheduler walks
the tree from the root and finds the longest prefix that is already cached. Those tokens are not computed
again: their keys and values are still in the pool, page by page, and the request only needs to prefill
the part of the prompt that is new. This is why a chat with a long system message gets faster after the
first turn, and why many users asking questions about the same document share most of their work.

A tokenizer turns text into numbers. It splits the text into words and pieces of words, and looks each
piece up in a vocabulary of tens of thousands of entries. Common words such as "the", "and", "of" and
"to" are single tokens; rare words are made of several. Numbers are cut into groups of at most three
digits, so 2026 becomes 202 and 6, and 1234567 becomes 123, 456 and 7. Spaces usually stick to the start
of the next word, which is why " world" and "world" are different tokens.

When the model answers, it produces one token at a time. The server decodes each token back into text
and sends it to the client as soon as it can. Some characters take more than one token: an emoji or a
Chinese character may be split across two or three tokens, and the server must wait until the character
is complete before it sends anything, or the user would see broken symbols on the screen.

Memory is the limit. Each token in the cache holds a key and a value for every layer and every head, so a
model with thirty-two layers and eight key-value heads of size one hundred and twenty-eight stores about
one hundred and thirty thousand numbers per token. When the pool fills up, the least recently used
branches of the tree are evicted, unless a running request still holds them locked.

Questions people ask: What is the capital of France? How do I sort a list in Python? Why is the sky
blue? Can you write a haiku about autumn leaves? Please summarise this article in three sentences.
I'd like a recipe for bread, and I'm sure it'll be good. They've said we're ready, you'll see.
`

const corpusCode = `package main

import (
	"fmt"
	"strings"
)

// Count returns how many times each word occurs in the text.
func Count(text string) map[string]int {
	counts := make(map[string]int)
	for _, word := range strings.Fields(text) {
		counts[strings.ToLower(word)]++
	}
	return counts
}

func main() {
	for word, n := range Count("the cat and the hat") {
		fmt.Printf("%s: %d\n", word, n)
	}
}

def fibonacci(n: int) -> list[int]:
    """Return the first n Fibonacci numbers."""
    result = [0, 1]
    while len(result) < n:
        result.append(result[-1] + result[-2])
    return result[:n]

if __name__ == "__main__":
    for i, value in enumerate(fibonacci(10)):
        print(f"{i}: {value}")

SELECT name, count(*) FROM requests WHERE cached_tokens > 0 GROUP BY name ORDER BY 2 DESC;
{"model": "llama", "messages": [{"role": "user", "content": "Hello!"}], "stream": true}
`
