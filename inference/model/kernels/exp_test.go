package kernels

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

//go:noescape
func q8Touch4(w *int8, wstride uintptr, ws *float32, sstride uintptr, xq *int8, xs *float32, nb int, out *float32)

func BenchmarkExpQ8(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	rows, cols := 5632, 2048
	base := randMatrix(b, rng, rows, cols, Q8_0)
	mats := []*Matrix{base}
	for range 30 {
		c := *base
		c.Q8 = append([]int8(nil), base.Q8...)
		c.Scales = append([]float32(nil), base.Scales...)
		mats = append(mats, &c)
	}
	x := randF32(rng, cols)
	xq := make([]int8, cols)
	xs := make([]float32, cols/32)
	QuantizeQ8Row(xq, xs, x)
	out := make([]float32, rows+16)
	nb := cols / 32
	modes := []string{"d1x3", "d2x4", "d2x8", "d4x8", "d2x12", "d4x16", "touch"}
	if m := os.Getenv("MODES"); m != "" {
		modes = nil
		fmt.Sscan(m)
		for _, f := range splitComma(m) {
			modes = append(modes, f)
		}
	}
	for _, chunk := range []int{64, 256, 1408} {
		for _, mode := range modes {
			b.Run(fmt.Sprintf("chunk%d/%s", chunk, mode), func(b *testing.B) {
				i := 0
				for b.Loop() {
					m := mats[i%len(mats)]
					i++
					parallelFor(rows, chunk, func(lo, hi int) {
						if mode == "touch" {
							for r := lo; r < hi; r += 4 {
								q8Touch4(&m.Q8[r*cols], uintptr(cols), &m.Scales[r*nb], uintptr(nb)*4, &xq[0], &xs[0], nb, &out[r])
							}
							return
						}
						q8RowsAVX2(out, m.Q8, m.Scales, cols, xq, xs, lo, hi)
					})
				}
				b.ReportMetric(float64(base.Bytes())*float64(b.N)/b.Elapsed().Seconds()/1e9, "gbps")
			})
		}
	}
}

// TestExpAB alternates configurations call by call so drift hits all alike.
func TestExpAB(t *testing.T) {
	if os.Getenv("AB") == "" {
		t.Skip()
	}
	rng := rand.New(rand.NewPCG(1, 1))
	rows, cols := 5632, 2048
	base := randMatrix(t, rng, rows, cols, Q8_0)
	mats := []*Matrix{base}
	for range 30 {
		c := *base
		c.Q8 = append([]int8(nil), base.Q8...)
		c.Scales = append([]float32(nil), base.Scales...)
		mats = append(mats, &c)
	}
	x := randF32(rng, cols)
	xq := make([]int8, cols)
	xs := make([]float32, cols/32)
	QuantizeQ8Row(xq, xs, x)
	out := make([]float32, rows+16)
	nb := cols / 32
	cfgs := splitComma(os.Getenv("AB"))
	tot := make([]time.Duration, len(cfgs))
	k := 0
	for rep := 0; rep < 300; rep++ {
		for ci, cfg := range cfgs {
			m := mats[k%len(mats)]
			k++
			var chunk int
			var mode string
			fmt.Sscanf(cfg, "c%d/%s", &chunk, &mode)
			st := time.Now()
			parallelFor(rows, chunk, func(lo, hi int) {
				if mode == "head" {
					for r := lo; r < hi; r += 4 {
						q8Dot4Head(&m.Q8[r*cols], uintptr(cols), &m.Scales[r*nb], uintptr(nb)*4, &xq[0], &xs[0], nb, &out[r])
					}
					return
				}
				if mode == "touch" {
					for r := lo; r < hi; r += 4 {
						q8Touch4(&m.Q8[r*cols], uintptr(cols), &m.Scales[r*nb], uintptr(nb)*4, &xq[0], &xs[0], nb, &out[r])
					}
					return
				}
				q8RowsAVX2(out, m.Q8, m.Scales, cols, xq, xs, lo, hi)
			})
			tot[ci] += time.Since(st)
		}
	}
	for ci, cfg := range cfgs {
		t.Logf("%-14s %.2f GB/s", cfg, float64(base.Bytes())*300/tot[ci].Seconds()/1e9)
	}
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

//go:noescape
func q8Dot4Head(w *int8, wstride uintptr, ws *float32, sstride uintptr, xq *int8, xs *float32, nb int, out *float32)
