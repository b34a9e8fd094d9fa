package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestRMSNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	x := randF32(rng, 77)
	w := randF32(rng, 77)
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	inv := 1 / math.Sqrt(ss/77+1e-5)
	out := make([]float32, 77)
	RMSNorm(out, x, w, 1e-5)
	for i := range x {
		want := float64(x[i]) * inv * float64(w[i])
		if math.Abs(float64(out[i])-want) > 1e-5*math.Abs(want)+1e-7 {
			t.Fatalf("out[%d] = %g, want %g", i, out[i], want)
		}
	}
	RMSNorm(x, x, w, 1e-5) // aliasing
	for i := range x {
		if x[i] != out[i] {
			t.Fatalf("aliased RMSNorm differs at %d", i)
		}
	}
}

func TestSwiGLUAndSoftmax(t *testing.T) {
	g := []float32{-3, -0.5, 0, 0.5, 3}
	u := []float32{1, 2, 3, 4, 5}
	want := make([]float64, len(g))
	for i := range g {
		want[i] = float64(g[i]) / (1 + math.Exp(-float64(g[i]))) * float64(u[i])
	}
	SwiGLU(g, u)
	for i := range g {
		if math.Abs(float64(g[i])-want[i]) > 1e-6 {
			t.Fatalf("swiglu[%d] = %g, want %g", i, g[i], want[i])
		}
	}
	x := []float32{1000, 1001, 999, -math.MaxFloat32}
	Softmax(x)
	e := []float64{math.Exp(-1), 1, math.Exp(-2), 0}
	s := e[0] + e[1] + e[2]
	for i := range x {
		if math.Abs(float64(x[i])-e[i]/s) > 1e-6 {
			t.Fatalf("softmax[%d] = %g, want %g", i, x[i], e[i]/s)
		}
	}
}

func TestRoPERotateHalf(t *testing.T) {
	const heads, hd = 3, 8
	rng := rand.New(rand.NewPCG(23, 24))
	x := randF32(rng, heads*hd)
	orig := append([]float32(nil), x...)
	cos, sin := make([]float32, hd/2), make([]float32, hd/2)
	for i := range cos {
		th := 7 * math.Pow(10000, -2*float64(i)/hd) // position 7
		cos[i], sin[i] = float32(math.Cos(th)), float32(math.Sin(th))
	}
	RoPE(x, heads, hd, cos, sin)
	for h := range heads {
		for i := range hd / 2 {
			a, b := orig[h*hd+i], orig[h*hd+i+hd/2]
			wa := float64(a)*float64(cos[i]) - float64(b)*float64(sin[i])
			wb := float64(a)*float64(sin[i]) + float64(b)*float64(cos[i])
			if math.Abs(float64(x[h*hd+i])-wa) > 1e-5 || math.Abs(float64(x[h*hd+i+hd/2])-wb) > 1e-5 {
				t.Fatalf("head %d pair %d: got (%g,%g) want (%g,%g)", h, i, x[h*hd+i], x[h*hd+i+hd/2], wa, wb)
			}
		}
	}
}

// refAttention is the float64 reference of one-token attention.
func refAttention(q, k, v []float32, slots []int32, nHeads, nKV, hd int, scale float64) []float64 {
	out := make([]float64, nHeads*hd)
	group := nHeads / nKV
	for h := range nHeads {
		kvh := h / group
		sc := make([]float64, len(slots))
		m := math.Inf(-1)
		for i, s := range slots {
			var d float64
			for j := range hd {
				d += float64(q[h*hd+j]) * float64(k[(int(s)*nKV+kvh)*hd+j])
			}
			sc[i] = d * scale
			m = math.Max(m, sc[i])
		}
		var sum float64
		for i := range sc {
			sc[i] = math.Exp(sc[i] - m)
			sum += sc[i]
		}
		for i, s := range slots {
			for j := range hd {
				out[h*hd+j] += sc[i] / sum * float64(v[(int(s)*nKV+kvh)*hd+j])
			}
		}
	}
	return out
}

func TestAttentionGQAOverPagedSlots(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for _, portable := range []bool{true, false} {
		UsePortable(portable)
		for _, n := range []int{1, 5, 300} {
			const nHeads, nKV, hd, arena = 8, 2, 16, 400
			k, v := randF32(rng, arena*nKV*hd), randF32(rng, arena*nKV*hd)
			q := randF32(rng, nHeads*hd)
			slots := make([]int32, n)
			for i, p := range rng.Perm(arena)[:n] {
				slots[i] = int32(p)
			}
			scale := 1 / math.Sqrt(hd)
			want := refAttention(q, k, v, slots, nHeads, nKV, hd, scale)
			out := make([]float32, nHeads*hd)
			Attention(out, q, k, v, slots, nHeads, nKV, hd, float32(scale))
			for i := range out {
				if math.Abs(float64(out[i])-want[i]) > 1e-5 {
					t.Fatalf("portable=%v n=%d: out[%d] = %g, want %g", portable, n, i, out[i], want[i])
				}
			}
			for _, dt := range []DType{BF16, F16} {
				k16, v16 := make([]uint16, len(k)), make([]uint16, len(v))
				kw, vw := make([]float32, len(k)), make([]float32, len(v))
				for i := range k {
					if dt == BF16 {
						k16[i], v16[i] = F32ToBF16(k[i]), F32ToBF16(v[i])
						kw[i], vw[i] = BF16ToF32(k16[i]), BF16ToF32(v16[i])
					} else {
						k16[i], v16[i] = F32ToF16(k[i]), F32ToF16(v[i])
						kw[i], vw[i] = F16ToF32(k16[i]), F16ToF32(v16[i])
					}
				}
				want := refAttention(q, kw, vw, slots, nHeads, nKV, hd, scale)
				AttentionU16(out, q, k16, v16, dt, slots, nHeads, nKV, hd, float32(scale))
				for i := range out {
					if math.Abs(float64(out[i])-want[i]) > 1e-5 {
						t.Fatalf("%s portable=%v n=%d: out[%d] = %g, want %g", dt, portable, n, i, out[i], want[i])
					}
				}
			}
		}
	}
	UsePortable(false)
}

func TestAttentionRejectsSlotOutsideArena(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a slot outside the arena")
		}
	}()
	out := make([]float32, 4)
	Attention(out, make([]float32, 4), make([]float32, 8), make([]float32, 8), []int32{5}, 1, 1, 4, 1)
}

func TestExp32(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	check := func(x float32) {
		got := float64(exp32(x))
		want := math.Exp(float64(x))
		if want < 1.2e-38 { // flushed to zero below the normal range
			if got != 0 && math.Abs(got-want) > 1e-38 {
				t.Fatalf("exp32(%g) = %g, want ~0", x, got)
			}
			return
		}
		if math.IsInf(want, 1) || want > math.MaxFloat32 {
			if !math.IsInf(got, 1) && got < 3.4e38 {
				t.Fatalf("exp32(%g) = %g, want +Inf", x, got)
			}
			return
		}
		if rel := math.Abs(got-want) / want; rel > 4e-7 {
			t.Fatalf("exp32(%g) = %g, want %g (rel err %g)", x, got, want, rel)
		}
	}
	for range 200000 {
		check(float32(rng.Float64()*200 - 100))
	}
	for _, x := range []float32{0, -0.5, 0.5, 1, -1, 88.7, 88.72283, 88.73, -87.3, -87.34, -103, 1e-8, -1e-8} {
		check(x)
	}
	if v := exp32(float32(math.NaN())); v == v {
		t.Fatal("exp32(NaN) is not NaN")
	}
}
