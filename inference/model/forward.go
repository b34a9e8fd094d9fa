package model

import (
	"fmt"
	"math"
	"sync"

	"github.com/radixops/radix/inference/kvcache"
	"github.com/radixops/radix/inference/model/kernels"
)

// Seq is one sequence's part of a forward step: Tokens are new tokens at positions Pos, Pos+1, ...;
// Slots maps every position 0..Pos+len(Tokens)-1 to its KV slot in the pool. Positions before Pos are a
// prefix whose K/V are already in the pool (cached or computed by an earlier step).
type Seq struct {
	Tokens []int32
	Pos    int
	Slots  []int32
}

// forwardState is Forward's scratch, reused across calls.
type forwardState struct {
	mu                            sync.Mutex
	x, xn, q, k, v, att, gate, up []float32
	last, lo                      []float32
	cos, sin                      []float32 // [positions][headDim/2]
	ropeLen                       int
	pos                           []int
	seqOf                         []int
	outs3                         [3][]float32 // matmulMulti's arguments, kept here so they are not allocated per layer
	ws3                           [3]*kernels.Matrix
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// ensureRope extends the cos/sin table to cover positions < n. Angles are formed in float32 as
// Hugging Face does (inv_freq · position), then their cosine and sine rounded to float32.
func (m *Model) ensureRope(n int) {
	s := &m.fw
	if n <= s.ropeLen {
		return
	}
	half := m.cfg.HeadDim / 2
	newLen := max(n, 2*s.ropeLen, 64)
	cos, sin := make([]float32, newLen*half), make([]float32, newLen*half)
	copy(cos, s.cos)
	copy(sin, s.sin)
	for p := s.ropeLen; p < newLen; p++ {
		for i, f := range m.invFreq {
			a := float64(float32(f) * float32(p))
			cos[p*half+i] = float32(math.Cos(a))
			sin[p*half+i] = float32(math.Sin(a))
		}
	}
	s.cos, s.sin, s.ropeLen = cos, sin, newLen
}

func matmul(out []float32, w *kernels.Matrix, x []float32, n int) {
	if n == 1 {
		kernels.MatVec(out, w, x)
		return
	}
	kernels.MatMul(out, w, x, n)
}

// matmulMulti applies several matrices to the same activations in one trip through the kernels' worker
// pool, with x quantised once for the int8 paths (the q, k, v projections; gate and up).
func matmulMulti(outs [][]float32, ws []*kernels.Matrix, x []float32, n int) {
	if n == 1 {
		kernels.MatVecMulti(outs, ws, x)
		return
	}
	kernels.MatMulMulti(outs, ws, x, n)
}

// Forward runs one step over batch: it writes every new token's K/V into its slot in kv and returns in
// logits[i] the logits of the last new token of batch[i] (len Vocab; a logits[i] shorter than that is
// replaced by a new slice). Attention of a new token covers all positions up to its own, the cached
// prefix included. Forward is not safe for concurrent use with itself.
func (m *Model) Forward(batch []Seq, kv *kvcache.Pool, logits [][]float32) error {
	c := m.cfg
	if len(logits) != len(batch) {
		return fmt.Errorf("forward: %d logits buffers for %d sequences", len(logits), len(batch))
	}
	if len(batch) == 0 {
		return nil
	}
	pc := kv.Config()
	if pc.Layers != c.Layers || pc.KVHeads != c.KVHeads || pc.HeadDim != c.HeadDim {
		return fmt.Errorf("forward: KV pool shaped %d layers × %d KV heads × %d, model needs %d × %d × %d",
			pc.Layers, pc.KVHeads, pc.HeadDim, c.Layers, c.KVHeads, c.HeadDim)
	}
	T, maxPos := 0, 0
	for i, s := range batch {
		end := s.Pos + len(s.Tokens)
		switch {
		case len(s.Tokens) == 0:
			return fmt.Errorf("forward: sequence %d has no new tokens", i)
		case s.Pos < 0:
			return fmt.Errorf("forward: sequence %d has negative position %d", i, s.Pos)
		case end > c.ContextLen:
			return fmt.Errorf("forward: sequence %d reaches position %d, beyond the model's context of %d", i, end, c.ContextLen)
		case len(s.Slots) < end:
			return fmt.Errorf("forward: sequence %d has %d KV slots for %d positions", i, len(s.Slots), end)
		}
		for _, t := range s.Tokens {
			if t < 0 || int(t) >= c.Vocab {
				return fmt.Errorf("forward: sequence %d: token %d outside the vocabulary of %d", i, t, c.Vocab)
			}
		}
		for _, sl := range s.Slots[:end] {
			if sl < 0 || int(sl) >= pc.Tokens {
				return fmt.Errorf("forward: sequence %d: KV slot %d outside the pool of %d", i, sl, pc.Tokens)
			}
		}
		T += len(s.Tokens)
		maxPos = max(maxPos, end)
	}

	s := &m.fw
	s.mu.Lock()
	defer s.mu.Unlock()
	m.ensureRope(maxPos)
	H, D, half := c.Hidden, c.HeadDim, c.HeadDim/2
	qd, kvd := c.Heads*D, c.KVHeads*D
	s.x, s.xn = grow(s.x, T*H), grow(s.xn, T*max(H, qd))
	s.q, s.k, s.v, s.att = grow(s.q, T*qd), grow(s.k, T*kvd), grow(s.v, T*kvd), grow(s.att, T*qd)
	s.gate, s.up = grow(s.gate, T*c.FFN), grow(s.up, T*c.FFN)
	s.pos, s.seqOf = s.pos[:0], s.seqOf[:0]
	for i, sq := range batch {
		for j, tok := range sq.Tokens {
			t := len(s.pos)
			s.pos = append(s.pos, sq.Pos+j)
			s.seqOf = append(s.seqOf, i)
			kernels.DecodeRow(s.x[t*H:(t+1)*H], m.embed, int(tok))
		}
	}
	x, xn, q, k, v, att := s.x, s.xn[:T*H], s.q, s.k, s.v, s.att
	eps := float32(c.NormEps)
	scale := float32(1 / math.Sqrt(float64(D)))
	for li := range m.layers {
		l := &m.layers[li]
		for t := 0; t < T; t++ {
			kernels.RMSNorm(xn[t*H:(t+1)*H], x[t*H:(t+1)*H], l.attnNorm, eps)
		}
		s.outs3[0], s.outs3[1], s.outs3[2] = q, k, v
		s.ws3[0], s.ws3[1], s.ws3[2] = l.wq, l.wk, l.wv
		matmulMulti(s.outs3[:], s.ws3[:], xn, T)
		for t := 0; t < T; t++ {
			qt, kt := q[t*qd:(t+1)*qd], k[t*kvd:(t+1)*kvd]
			if c.QKNorm {
				for h := 0; h < c.Heads; h++ {
					kernels.RMSNorm(qt[h*D:(h+1)*D], qt[h*D:(h+1)*D], l.qNorm, eps)
				}
				for h := 0; h < c.KVHeads; h++ {
					kernels.RMSNorm(kt[h*D:(h+1)*D], kt[h*D:(h+1)*D], l.kNorm, eps)
				}
			}
			p := s.pos[t]
			cos, sin := s.cos[p*half:(p+1)*half], s.sin[p*half:(p+1)*half]
			kernels.RoPE(qt, c.Heads, D, cos, sin)
			kernels.RoPE(kt, c.KVHeads, D, cos, sin)
		}
		m.storeKV(kv, li, batch, k, v, kvd)
		for t := 0; t < T; t++ {
			sq := batch[s.seqOf[t]]
			slots := sq.Slots[:s.pos[t]+1]
			qt, out := q[t*qd:(t+1)*qd], att[t*qd:(t+1)*qd]
			if kv.DType() == kvcache.F32 {
				ka, va := kv.F32(li)
				kernels.Attention(out, qt, ka, va, slots, c.Heads, c.KVHeads, D, scale)
			} else {
				ka, va := kv.U16(li)
				dt := kernels.BF16
				if kv.DType() == kvcache.F16 {
					dt = kernels.F16
				}
				kernels.AttentionU16(out, qt, ka, va, dt, slots, c.Heads, c.KVHeads, D, scale)
			}
		}
		matmul(xn, l.wo, att, T)
		addTo(x, xn)
		for t := 0; t < T; t++ {
			kernels.RMSNorm(xn[t*H:(t+1)*H], x[t*H:(t+1)*H], l.ffnNorm, eps)
		}
		s.outs3[0], s.outs3[1] = s.gate, s.up
		s.ws3[0], s.ws3[1] = l.wgate, l.wup
		matmulMulti(s.outs3[:2], s.ws3[:2], xn, T)
		kernels.SwiGLU(s.gate, s.up)
		matmul(xn, l.wdown, s.gate, T)
		addTo(x, xn)
	}
	B := len(batch)
	s.last, s.lo = grow(s.last, B*H), grow(s.lo, B*c.Vocab)
	t := 0
	for i, sq := range batch {
		t += len(sq.Tokens)
		kernels.RMSNorm(s.last[i*H:(i+1)*H], x[(t-1)*H:t*H], m.norm, eps)
	}
	matmul(s.lo, m.output, s.last, B)
	for i := range batch {
		if len(logits[i]) < c.Vocab {
			logits[i] = make([]float32, c.Vocab)
		}
		copy(logits[i], s.lo[i*c.Vocab:(i+1)*c.Vocab])
	}
	return nil
}

func addTo(x, y []float32) {
	for i := range x {
		x[i] += y[i]
	}
}

// storeKV writes the new tokens' K and V rows (already normed and rotated) into their slots.
func (m *Model) storeKV(kv *kvcache.Pool, layer int, batch []Seq, k, v []float32, kvd int) {
	t := 0
	f32 := kv.DType() == kvcache.F32
	var kf, vf []float32
	var ku, vu []uint16
	if f32 {
		kf, vf = kv.F32(layer)
	} else {
		ku, vu = kv.U16(layer)
	}
	conv := kernels.F32ToBF16
	if kv.DType() == kvcache.F16 {
		conv = kernels.F32ToF16
	}
	for _, sq := range batch {
		for j := range sq.Tokens {
			slot := int(sq.Slots[sq.Pos+j])
			src, dst := t*kvd, slot*kvd
			if f32 {
				copy(kf[dst:dst+kvd], k[src:src+kvd])
				copy(vf[dst:dst+kvd], v[src:src+kvd])
			} else {
				for i := 0; i < kvd; i++ {
					ku[dst+i] = conv(k[src+i])
					vu[dst+i] = conv(v[src+i])
				}
			}
			t++
		}
	}
}
