package kernels

import (
	"fmt"
	"math"
	"sync"
)

// RMSNorm writes out[i] = x[i] / sqrt(mean(x²) + eps) * weight[i] for one row;
// out may alias x. The sum of squares is accumulated in float64.
func RMSNorm(out, x, weight []float32, eps float32) {
	n := len(x)
	out, weight = out[:n], weight[:n]
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	inv := float32(1 / math.Sqrt(ss/float64(n)+float64(eps)))
	for i, v := range x {
		out[i] = v * inv * weight[i]
	}
}

// swigluChunk is how many elements SwiGLU hands a worker per grab: a decode
// step's FFN activations (thousands) already split in a few pieces, since the
// exponentials cost µs that the workers would otherwise idle through.
const swigluChunk = 2048

// SwiGLU computes gate[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + e^-g).
// Inputs longer than swigluChunk are split over the pool.
func SwiGLU(gate, up []float32) {
	up = up[:len(gate)]
	parallelFor(len(gate), swigluChunk, func(lo, hi int) {
		u := up[lo:hi]
		for i, g := range gate[lo:hi] {
			gate[lo+i] = g / (1 + exp32(-g)) * u[i]
		}
	})
}

// Softmax replaces x by softmax(x), subtracting the maximum first for stability.
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	m := x[0]
	for _, v := range x[1:] {
		if v > m {
			m = v
		}
	}
	var sum float32
	for i, v := range x {
		e := exp32(v - m)
		x[i] = e
		sum += e
	}
	inv := 1 / sum
	for i := range x {
		x[i] *= inv
	}
}

// exp32 is e^x in float32 arithmetic to within about 2 ulp: x = n·ln2 + r with
// |r| ≤ ln2/2, e^r by a degree-6 minimax polynomial (the classic Cephes expf
// coefficients), scaled by 2^n through the exponent bits. Results that would be
// subnormal flush to 0. It is several times cheaper than math.Exp in float64,
// which dominated SwiGLU.
func exp32(x float32) float32 {
	switch {
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -87.33654:
		return 0
	case x != x:
		return x
	}
	f := x*1.44269504088896341 + 0.5
	n := int32(f)
	if float32(n) > f {
		n--
	}
	fn := float32(n)
	r := x - fn*0.693359375 - fn*-2.12194440e-4
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	y := p*r*r + r + 1
	// 2^n may be 2^128 for x near the top: scale in two steps to stay finite.
	if n > 127 {
		return y * 2 * math.Float32frombits(uint32(n-1+127)<<23)
	}
	return y * math.Float32frombits(uint32(n+127)<<23)
}

// RoPE rotates each of the nHeads heads of x (len nHeads*headDim) in the
// rotate_half layout used by Hugging Face Llama (GPT-NeoX): element i pairs with
// element i+headDim/2. cos and sin hold the headDim/2 angles' values for this
// token's position.
func RoPE(x []float32, nHeads, headDim int, cos, sin []float32) {
	half := headDim / 2
	cos, sin = cos[:half], sin[:half]
	for h := range nHeads {
		a := x[h*headDim : h*headDim+half]
		b := x[h*headDim+half : h*headDim+headDim]
		for i := range a {
			x0, x1 := a[i], b[i]
			a[i] = x0*cos[i] - x1*sin[i]
			b[i] = x0*sin[i] + x1*cos[i]
		}
	}
}

var scorePool = sync.Pool{New: func() any { return new([]float32) }}

func checkAttention(out, q []float32, kLen, vLen int, slots []int32, nHeads, nKVHeads, headDim int) {
	if nKVHeads <= 0 || nHeads%nKVHeads != 0 {
		panic(fmt.Sprintf("kernels: attention with %d heads over %d KV heads", nHeads, nKVHeads))
	}
	if len(q) < nHeads*headDim || len(out) < nHeads*headDim {
		panic(fmt.Sprintf("kernels: attention q/out shorter than %d heads × %d", nHeads, headDim))
	}
	stride := nKVHeads * headDim
	for _, s := range slots {
		if s < 0 || (int(s)+1)*stride > kLen || (int(s)+1)*stride > vLen {
			panic(fmt.Sprintf("kernels: attention slot %d outside the KV arena", s))
		}
	}
}

// Attention computes, for ONE query token, out_h = Σ_i softmax_i(scale·q_h·k_i) v_i
// for every head h over the positions whose KV slots are listed in slots (in
// order). k and v are arenas [slot][nKVHeads][headDim]; head h reads KV head
// h/(nHeads/nKVHeads) (grouped-query attention). Heads are spread over the pool.
func Attention(out, q []float32, k, v []float32, slots []int32, nHeads, nKVHeads, headDim int, scale float32) {
	checkAttention(out, q, len(k), len(v), slots, nHeads, nKVHeads, headDim)
	axpy := active.axpy
	attention(out, q, slots, nHeads, nKVHeads, headDim, scale,
		func(dst []float32, off int) { copy(dst, k[off:off+headDim]) },
		func(off int) []float32 { return k[off : off+headDim] },
		func(acc []float32, p float32, off int) { axpy(acc, p, v[off:off+headDim]) })
}

// AttentionU16 is Attention over a 16-bit KV arena: dt is F16 or BF16 (raw bits).
func AttentionU16(out, q []float32, k, v []uint16, dt DType, slots []int32, nHeads, nKVHeads, headDim int, scale float32) {
	checkAttention(out, q, len(k), len(v), slots, nHeads, nKVHeads, headDim)
	var widen func(dst []float32, src []uint16)
	switch dt {
	case BF16:
		widen = func(dst []float32, src []uint16) {
			for i, h := range src {
				dst[i] = BF16ToF32(h)
			}
		}
	case F16:
		t := f16Tab()
		widen = func(dst []float32, src []uint16) {
			for i, h := range src {
				dst[i] = t[h]
			}
		}
	default:
		panic(fmt.Sprintf("kernels: AttentionU16 over %s (want f16 or bf16)", dt))
	}
	attention(out, q, slots, nHeads, nKVHeads, headDim, scale,
		func(dst []float32, off int) { widen(dst, k[off:off+headDim]) },
		nil,
		func(acc []float32, p float32, off int) {
			src := v[off : off+headDim]
			switch dt {
			case BF16:
				for i, h := range src {
					acc[i] += p * BF16ToF32(h)
				}
			default:
				t := f16Tab()
				for i, h := range src {
					acc[i] += p * t[h]
				}
			}
		})
}

// attention is the shared body: loadK widens one key into a buffer, or kRow returns
// it in place (f32 arenas); addV adds p·v to an accumulator.
func attention(out, q []float32, slots []int32, nHeads, nKVHeads, headDim int, scale float32,
	loadK func(dst []float32, off int), kRow func(off int) []float32, addV func(acc []float32, p float32, off int)) {
	dot := active.dot
	group := nHeads / nKVHeads
	stride := nKVHeads * headDim
	n := len(slots)
	if n == 0 {
		clear(out[:nHeads*headDim])
		return
	}
	chunk := 1
	if n*headDim < 4096 { // short contexts: not worth waking the pool per head
		chunk = nHeads
	}
	parallelFor(nHeads, chunk, func(lo, hi int) {
		sp := scorePool.Get().(*[]float32)
		if cap(*sp) < n+headDim {
			*sp = make([]float32, n+headDim)
		}
		scores := (*sp)[:n]
		kbuf := (*sp)[n : n+headDim]
		for h := lo; h < hi; h++ {
			qh := q[h*headDim : (h+1)*headDim]
			kvOff := (h / group) * headDim
			for i, s := range slots {
				off := int(s)*stride + kvOff
				var kr []float32
				if kRow != nil {
					kr = kRow(off)
				} else {
					loadK(kbuf, off)
					kr = kbuf
				}
				scores[i] = dot(qh, kr) * scale
			}
			Softmax(scores)
			acc := out[h*headDim : (h+1)*headDim]
			clear(acc)
			for i, s := range slots {
				addV(acc, scores[i], int(s)*stride+kvOff)
			}
		}
		scorePool.Put(sp)
	})
}

func axpyGo(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}
