package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Tokenizer encodes text to token ids and back. It is safe for concurrent use.
type Tokenizer struct {
	model      *bpe
	normalizer normalizer
	pre        preTokenizer
	post       postProcessor
	dec        decoder

	added     []*addedToken
	addedByID map[int32]*addedToken
	rawTrie   *trie // added tokens matched on the original text (normalized: false)
	rawToks   []*addedToken
	normTrie  *trie // added tokens matched on normalized text (normalized: true)
	normToks  []*addedToken

	vocabSize int
	bos, eos  int32
	stops     []int32
	addBOS    bool // GGUF: add_bos_token (tokenizer.json uses its post_processor instead)
	addEOS    bool

	chat *chatTemplate
}

// ErrNoTokenizer is returned by Load when the directory has no tokenizer.json.
var ErrNoTokenizer = errors.New("no tokenizer.json")

// maxVocab bounds token ids read from files so that hostile input cannot make us allocate without limit.
const maxVocab = 1 << 22

// Load reads dir/tokenizer.json and, when present, dir/tokenizer_config.json (chat template, bos/eos
// tokens) and dir/generation_config.json (extra stop ids). dir may also name a tokenizer.json file.
func Load(dir string) (*Tokenizer, error) {
	path := dir
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		path = filepath.Join(dir, "tokenizer.json")
	} else {
		dir = filepath.Dir(dir)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("loading tokenizer from %s: %w", dir, ErrNoTokenizer)
		}
		return nil, fmt.Errorf("loading tokenizer: %w", err)
	}
	var cfg, gen []byte
	if b, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json")); err == nil {
		cfg = b
	}
	if b, err := os.ReadFile(filepath.Join(dir, "generation_config.json")); err == nil {
		gen = b
	}
	t, err := FromJSON(data, cfg)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	if gen != nil {
		var g struct {
			EOS json.RawMessage `json:"eos_token_id"`
		}
		if json.Unmarshal(gen, &g) == nil {
			for _, id := range intOrList(g.EOS) {
				t.addStop(id)
			}
		}
	}
	return t, nil
}

func intOrList(raw json.RawMessage) []int32 {
	var one int32
	if json.Unmarshal(raw, &one) == nil {
		return []int32{one}
	}
	var many []int32
	_ = json.Unmarshal(raw, &many)
	return many
}

type tokenizerJSON struct {
	AddedTokens   []addedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         modelJSON       `json:"model"`
}

type modelJSON struct {
	Type                    string           `json:"type"`
	Vocab                   map[string]int32 `json:"vocab"`
	Merges                  json.RawMessage  `json:"merges"`
	UnkToken                *string          `json:"unk_token"`
	FuseUnk                 bool             `json:"fuse_unk"`
	ByteFallback            bool             `json:"byte_fallback"`
	IgnoreMerges            bool             `json:"ignore_merges"`
	ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
	Dropout                 *float64         `json:"dropout"`
}

// FromJSON builds a Tokenizer from the bytes of a tokenizer.json and, optionally (nil), a
// tokenizer_config.json.
func FromJSON(tokenizerJSONData, tokenizerConfig []byte) (*Tokenizer, error) {
	var j tokenizerJSON
	if err := json.Unmarshal(tokenizerJSONData, &j); err != nil {
		return nil, fmt.Errorf("parsing tokenizer.json: %w", err)
	}
	if j.Model.Type == "" && j.Model.Merges == nil {
		return nil, fmt.Errorf("tokenizer.json: no model")
	}
	if j.Model.Type != "" && j.Model.Type != "BPE" {
		return nil, fmt.Errorf("tokenizer.json: unsupported model type %q (only BPE is supported)", j.Model.Type)
	}
	if p := j.Model.ContinuingSubwordPrefix; p != nil && *p != "" {
		return nil, fmt.Errorf("tokenizer.json: BPE continuing_subword_prefix %q is not supported", *p)
	}
	if p := j.Model.EndOfWordSuffix; p != nil && *p != "" {
		return nil, fmt.Errorf("tokenizer.json: BPE end_of_word_suffix %q is not supported", *p)
	}
	m := &bpe{vocab: j.Model.Vocab, unk: -1, fuseUnk: j.Model.FuseUnk, byteFallback: j.Model.ByteFallback,
		ignoreMerges: j.Model.IgnoreMerges}
	if m.vocab == nil {
		m.vocab = map[string]int32{}
	}
	size := 0
	for tok, id := range m.vocab {
		if id < 0 || id >= maxVocab {
			return nil, fmt.Errorf("tokenizer.json: token %q has id %d out of range", tok, id)
		}
		size = max(size, int(id)+1)
	}
	for _, a := range j.AddedTokens {
		if a.ID < 0 || a.ID >= maxVocab {
			return nil, fmt.Errorf("tokenizer.json: added token %q has id %d out of range", a.Content, a.ID)
		}
		size = max(size, int(a.ID)+1)
	}
	m.tokens = make([]string, size)
	for tok, id := range m.vocab {
		m.tokens[id] = tok
	}
	if u := j.Model.UnkToken; u != nil {
		id, ok := m.vocab[*u]
		if !ok {
			return nil, fmt.Errorf("tokenizer.json: unk_token %q is not in the vocabulary", *u)
		}
		m.unk = id
	}
	m.initByteIDs()
	pairs, err := parseMerges(j.Model.Merges)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	if err := m.setMerges(pairs); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}

	t := &Tokenizer{model: m, vocabSize: size, bos: -1, eos: -1}
	if t.normalizer, err = parseNormalizer(j.Normalizer, 0); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	if t.pre, err = parsePreTokenizer(j.PreTokenizer, 0); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	if t.post, err = parsePostProcessor(j.PostProcessor, m, j.AddedTokens, 0); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	if t.dec, err = parseDecoder(j.Decoder, 0); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	for i := range j.AddedTokens {
		t.addAdded(j.AddedTokens[i])
	}
	t.buildTries()
	if err := t.applyConfig(tokenizerConfig); err != nil {
		return nil, err
	}
	return t, nil
}

// parseMerges accepts both the "a b" string form and the ["a", "b"] pair form.
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var strs []string
	if err := json.Unmarshal(raw, &strs); err == nil {
		out := make([][2]string, len(strs))
		for i, s := range strs {
			a, b, ok := strings.Cut(s, " ")
			if !ok {
				return nil, fmt.Errorf("merge %d %q: want two tokens separated by a space", i, s)
			}
			out[i] = [2]string{a, b}
		}
		return out, nil
	}
	var lists [][]string
	if err := json.Unmarshal(raw, &lists); err != nil {
		return nil, fmt.Errorf("merges: want a list of \"a b\" strings or of [a, b] pairs: %w", err)
	}
	out := make([][2]string, len(lists))
	for i, l := range lists {
		if len(l) != 2 {
			return nil, fmt.Errorf("merge %d: want 2 tokens, got %d", i, len(l))
		}
		out[i] = [2]string{l[0], l[1]}
	}
	return out, nil
}

func (m *bpe) setMerges(pairs [][2]string) error {
	m.merges = make(map[uint64]mergeRule, len(pairs))
	for i, p := range pairs {
		a, ok1 := m.vocab[p[0]]
		b, ok2 := m.vocab[p[1]]
		c, ok3 := m.vocab[p[0]+p[1]]
		if !ok1 || !ok2 || !ok3 {
			return fmt.Errorf("merge %d (%q %q): token not in the vocabulary", i, p[0], p[1])
		}
		m.merges[pairKey(a, b)] = mergeRule{rank: int32(i), id: c}
	}
	return nil
}

func (t *Tokenizer) addAdded(a addedToken) {
	at := a
	if old, ok := t.addedByID[at.ID]; ok { // a later entry for the same id replaces the earlier one
		*old = at
		return
	}
	if t.addedByID == nil {
		t.addedByID = map[int32]*addedToken{}
	}
	t.added = append(t.added, &at)
	t.addedByID[at.ID] = &at
	if int(at.ID) < len(t.model.tokens) && t.model.tokens[at.ID] == "" {
		t.model.tokens[at.ID] = at.Content
	}
}

func (t *Tokenizer) buildTries() {
	t.rawTrie, t.normTrie = newTrie(), newTrie()
	t.rawToks, t.normToks = nil, nil
	for _, a := range t.added {
		a.text = a.Content
		if a.Normalized && t.normalizer != nil {
			a.text = t.normalizer.normalize(a.Content)
		}
		if a.Content == "" {
			continue
		}
		if a.Normalized { // matched after normalization, against the normalized form of its content
			pat := a.Content
			if t.normalizer != nil {
				pat = t.normalizer.normalize(pat)
			}
			t.normTrie.insert(pat, int32(len(t.normToks)))
			t.normToks = append(t.normToks, a)
			continue
		}
		t.rawTrie.insert(a.Content, int32(len(t.rawToks)))
		t.rawToks = append(t.rawToks, a)
	}
}

// Encode turns text into token ids. With addSpecial the post-processor's tokens (BOS for Llama) are
// added. Text is taken as it is: invalid UTF-8 bytes are encoded through byte-level or byte-fallback
// tokens where the vocabulary has them.
func (t *Tokenizer) Encode(text string, addSpecial bool) []int32 {
	ids := make([]int32, 0, len(text)/3+4)
	for _, seg := range t.rawTrie.split(text, t.rawToks) {
		if seg.id >= 0 {
			ids = append(ids, seg.id)
			continue
		}
		s := seg.s
		if t.normalizer != nil {
			s = t.normalizer.normalize(s)
		}
		for i, sub := range t.normTrie.split(s, t.normToks) {
			if sub.id >= 0 {
				ids = append(ids, sub.id)
				continue
			}
			ps := []pre{{s: sub.s, first: seg.start == 0 && i == 0 && sub.start == 0}}
			if t.pre != nil {
				ps = t.pre.pretokenize(ps)
			}
			for _, p := range ps {
				ids = t.model.tokenize(p.s, ids)
			}
		}
	}
	if addSpecial {
		if t.post != nil {
			ids = t.post.process(ids)
		} else {
			if t.addBOS && t.bos >= 0 {
				ids = append([]int32{t.bos}, ids...)
			}
			if t.addEOS && t.eos >= 0 {
				ids = append(ids, t.eos)
			}
		}
	}
	return ids
}

// BOS is the beginning-of-sequence token id, -1 when the tokenizer has none.
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS is the end-of-sequence token id, -1 when the tokenizer has none.
func (t *Tokenizer) EOS() int32 { return t.eos }

// StopIDs are the ids that end a generation: EOS, generation_config.json's eos_token_id, and the
// end-of-turn tokens of the known chat formats present in the vocabulary (<|eot_id|>, <|im_end|>, ...).
func (t *Tokenizer) StopIDs() []int32 { return append([]int32(nil), t.stops...) }

// VocabSize is one more than the largest token id.
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// TokenID returns the id of a token's text (vocabulary or added token).
func (t *Tokenizer) TokenID(tok string) (int32, bool) {
	for _, a := range t.added {
		if a.Content == tok {
			return a.ID, true
		}
	}
	id, ok := t.model.vocab[tok]
	return id, ok
}

// Token returns the text of a token id as stored in the vocabulary ("" when out of range).
func (t *Tokenizer) Token(id int32) string {
	if a, ok := t.addedByID[id]; ok {
		return a.Content
	}
	if id < 0 || int(id) >= len(t.model.tokens) {
		return ""
	}
	return t.model.tokens[id]
}

// IsSpecial reports whether id is a special added token (skipped by DecodeSkipSpecial and streams).
func (t *Tokenizer) IsSpecial(id int32) bool {
	a, ok := t.addedByID[id]
	return ok && a.Special
}

func (t *Tokenizer) addStop(id int32) {
	if id < 0 || int(id) >= t.vocabSize {
		return
	}
	for _, s := range t.stops {
		if s == id {
			return
		}
	}
	t.stops = append(t.stops, id)
	sort.Slice(t.stops, func(i, j int) bool { return t.stops[i] < t.stops[j] })
}

// knownStops are end-of-turn tokens of common chat formats.
var knownStops = []string{"<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|im_end|>", "<|endoftext|>", "</s>", "<|end|>"}

// finishSpecials picks BOS/EOS by well-known names when nothing named them, and fills the stop set.
func (t *Tokenizer) finishSpecials(bosText, eosText string) {
	if bosText != "" {
		if id, ok := t.TokenID(bosText); ok {
			t.bos = id
		}
	}
	if eosText != "" {
		if id, ok := t.TokenID(eosText); ok {
			t.eos = id
		}
	}
	if t.bos < 0 {
		for _, s := range []string{"<|begin_of_text|>", "<s>", "<|startoftext|>"} {
			if id, ok := t.TokenID(s); ok {
				t.bos = id
				break
			}
		}
	}
	if t.eos < 0 {
		for _, s := range []string{"<|end_of_text|>", "</s>", "<|endoftext|>", "<|im_end|>"} {
			if id, ok := t.TokenID(s); ok {
				t.eos = id
				break
			}
		}
	}
	if t.eos >= 0 {
		t.addStop(t.eos)
	}
	for _, s := range knownStops {
		if id, ok := t.TokenID(s); ok && t.IsSpecial(id) {
			t.addStop(id)
		}
	}
}

// applyConfig reads tokenizer_config.json: bos/eos tokens and the chat template.
func (t *Tokenizer) applyConfig(cfg []byte) error {
	var bosText, eosText, chatSrc string
	var llamaClass bool
	var addBOS, addEOS *bool
	if cfg != nil {
		var c struct {
			BOS          json.RawMessage `json:"bos_token"`
			EOS          json.RawMessage `json:"eos_token"`
			ChatTemplate json.RawMessage `json:"chat_template"`
			Class        string          `json:"tokenizer_class"`
			AddBOS       *bool           `json:"add_bos_token"`
			AddEOS       *bool           `json:"add_eos_token"`
		}
		if err := json.Unmarshal(cfg, &c); err != nil {
			return fmt.Errorf("parsing tokenizer_config.json: %w", err)
		}
		bosText, eosText = tokenText(c.BOS), tokenText(c.EOS)
		src, err := pickTemplate(c.ChatTemplate)
		if err != nil {
			return fmt.Errorf("tokenizer_config.json: %w", err)
		}
		chatSrc = src
		llamaClass = c.Class == "LlamaTokenizer" || c.Class == "LlamaTokenizerFast"
		addBOS, addEOS = c.AddBOS, c.AddEOS
	}
	if t.bos < 0 && bosText == "" {
		if sp, ok := t.post.(interface{ firstSpecial() int32 }); ok {
			t.bos = sp.firstSpecial()
		}
	}
	t.finishSpecials(bosText, eosText)
	if llamaClass {
		// transformers' LlamaTokenizerFast rebuilds the post-processor from add_bos_token (default true)
		// and add_eos_token (default false), whatever tokenizer.json says.
		var p postTemplate
		if (addBOS == nil || *addBOS) && t.bos >= 0 {
			p.items = append(p.items, []int32{t.bos})
		}
		p.items = append(p.items, nil)
		if addEOS != nil && *addEOS && t.eos >= 0 {
			p.items = append(p.items, []int32{t.eos})
		}
		t.post = p
	}
	if chatSrc != "" {
		if err := t.setChatTemplate(chatSrc); err != nil {
			return fmt.Errorf("tokenizer_config.json: %w", err)
		}
		if bosText != "" {
			t.chat.bos = bosText
		}
		if eosText != "" {
			t.chat.eos = eosText
		}
	}
	return nil
}

// tokenText reads a bos_token/eos_token value: a string or an AddedToken object {"content": ...}.
func tokenText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Content string `json:"content"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return o.Content
	}
	return ""
}
