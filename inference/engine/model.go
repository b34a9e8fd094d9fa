package engine

import (
	"fmt"

	"github.com/radixops/radix/inference/kvcache"
	"github.com/radixops/radix/inference/model"
)

// ModelRunner adapts a loaded model to the scheduler's Runner.
type ModelRunner struct {
	M   *model.Model
	buf []model.Seq
}

// NewModelRunner wraps m.
func NewModelRunner(m *model.Model) *ModelRunner { return &ModelRunner{M: m} }

// VocabSize is the model's logit width.
func (r *ModelRunner) VocabSize() int { return r.M.Config().Vocab }

// Forward runs one step of the model over the batch.
func (r *ModelRunner) Forward(batch []Seq, kv *kvcache.Pool, logits [][]float32) error {
	r.buf = r.buf[:0]
	for _, s := range batch {
		r.buf = append(r.buf, model.Seq{Tokens: s.Tokens, Pos: s.Pos, Slots: s.Slots})
	}
	if err := r.M.Forward(r.buf, kv, logits); err != nil {
		return fmt.Errorf("model forward: %w", err)
	}
	return nil
}
