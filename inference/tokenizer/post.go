package tokenizer

import (
	"encoding/json"
	"fmt"
)

// postProcessor adds special tokens around an encoded sequence (Encode with addSpecial).
type postProcessor interface {
	process(ids []int32) []int32
}

type postSeq []postProcessor

func (q postSeq) process(ids []int32) []int32 {
	for _, p := range q {
		ids = p.process(ids)
	}
	return ids
}

func (q postSeq) firstSpecial() int32 {
	for _, p := range q {
		if f, ok := p.(interface{ firstSpecial() int32 }); ok {
			if id := f.firstSpecial(); id >= 0 {
				return id
			}
		}
	}
	return -1
}

// postTemplate is TemplateProcessing's "single" template: special tokens and the sequence $A.
type postTemplate struct {
	items [][]int32 // nil = the sequence itself
}

func (p postTemplate) process(ids []int32) []int32 {
	out := make([]int32, 0, len(ids)+4)
	for _, it := range p.items {
		if it == nil {
			out = append(out, ids...)
		} else {
			out = append(out, it...)
		}
	}
	return out
}

// firstSpecial is the token the template puts before the text (the BOS of Llama), or -1.
func (p postTemplate) firstSpecial() int32 {
	if len(p.items) > 1 && p.items[0] != nil && len(p.items[0]) == 1 {
		return p.items[0][0]
	}
	return -1
}

// postNoop is the ByteLevel post-processor: it only trims offsets, which ids do not carry.
type postNoop struct{}

func (postNoop) process(ids []int32) []int32 { return ids }

type postJSON struct {
	Type       string            `json:"type"`
	Processors []json.RawMessage `json:"processors"`
	Single     []struct {
		SpecialToken *struct {
			ID string `json:"id"`
		} `json:"SpecialToken"`
		Sequence *struct {
			ID string `json:"id"`
		} `json:"Sequence"`
	} `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int32 `json:"ids"`
	} `json:"special_tokens"`
	Cls []json.RawMessage `json:"cls"`
	Sep []json.RawMessage `json:"sep"`
}

func parsePostProcessor(raw json.RawMessage, m *bpe, added []addedToken, depth int) (postProcessor, error) {
	if isNull(raw) {
		return nil, nil
	}
	if depth > 8 {
		return nil, fmt.Errorf("post_processor: nested too deeply")
	}
	var j postJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("post_processor: %w", err)
	}
	switch j.Type {
	case "Sequence":
		var q postSeq
		for i, r := range j.Processors {
			p, err := parsePostProcessor(r, m, added, depth+1)
			if err != nil {
				return nil, fmt.Errorf("post_processor sequence item %d: %w", i, err)
			}
			if p != nil {
				q = append(q, p)
			}
		}
		return q, nil
	case "ByteLevel":
		return postNoop{}, nil
	case "TemplateProcessing":
		var p postTemplate
		for i, it := range j.Single {
			switch {
			case it.Sequence != nil:
				p.items = append(p.items, nil)
			case it.SpecialToken != nil:
				st, ok := j.SpecialTokens[it.SpecialToken.ID]
				if !ok {
					return nil, fmt.Errorf("post_processor: template item %d names special token %q missing from special_tokens", i, it.SpecialToken.ID)
				}
				for _, id := range st.IDs {
					if id < 0 || int(id) >= len(m.tokens) {
						return nil, fmt.Errorf("post_processor: special token %q has id %d out of range", it.SpecialToken.ID, id)
					}
				}
				p.items = append(p.items, append([]int32{}, st.IDs...))
			default:
				return nil, fmt.Errorf("post_processor: template item %d is neither SpecialToken nor Sequence", i)
			}
		}
		return p, nil
	case "BertProcessing", "RobertaProcessing":
		// cls and sep are [token, id] pairs.
		var cls, sep int32
		if len(j.Cls) != 2 || len(j.Sep) != 2 || json.Unmarshal(j.Cls[1], &cls) != nil || json.Unmarshal(j.Sep[1], &sep) != nil ||
			cls < 0 || sep < 0 || int(cls) >= len(m.tokens) || int(sep) >= len(m.tokens) {
			return nil, fmt.Errorf("post_processor %s: bad cls/sep", j.Type)
		}
		return postTemplate{items: [][]int32{{cls}, nil, {sep}}}, nil
	}
	return nil, fmt.Errorf("unsupported post_processor type %q", j.Type)
}
