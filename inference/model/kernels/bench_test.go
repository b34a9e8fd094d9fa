package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Benchmarks compare the fast path with the portable one in the same run. The
// "hot" cases reuse one matrix (it stays in the last-level cache when it fits);
// the "dram" cases cycle through copies totalling ≥ 256 MiB, so every call streams
// its weights from memory as a decode step does. Weight GB/s is reported as MB/s
// by -benchmem/SetBytes and as a gbps metric.
//
//	go test -run '^$' -bench 'MatVec|MatMul|ReadBandwidth' -benchtime 20x ./inference/model/kernels/

var benchShapes = [][2]int{{2048, 2048}, {5632, 2048}}

// benchPaths are the kernel paths this CPU supports, portable first.
func benchPaths() []string { return KernelPaths() }

func BenchmarkMatVec(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, dt := range []DType{F32, BF16, Q8_0, Q4_0} {
		for _, sh := range benchShapes {
			rows, cols := sh[0], sh[1]
			base := randMatrix(b, rng, rows, cols, dt)
			copies := int(max(1, (256<<20)/base.Bytes()+1))
			mats := []*Matrix{base}
			for range copies - 1 {
				c := *base
				switch dt {
				case F32:
					c.F32 = append([]float32(nil), base.F32...)
				case BF16:
					c.U16 = append([]uint16(nil), base.U16...)
				case Q8_0:
					c.Q8 = append([]int8(nil), base.Q8...)
					c.Scales = append([]float32(nil), base.Scales...)
				case Q4_0:
					c.Q4 = append([]byte(nil), base.Q4...)
					c.Scales = append([]float32(nil), base.Scales...)
				}
				mats = append(mats, &c)
			}
			x := randF32(rng, cols)
			out := make([]float32, rows)
			for _, mode := range []string{"hot", "dram"} {
				for _, p := range benchPaths() {
					name := fmt.Sprintf("%s/%dx%d/%s/%s", dt, rows, cols, mode, p)
					b.Run(name, func(b *testing.B) {
						useKernels(b, p)
						b.SetBytes(base.Bytes())
						b.ReportAllocs()
						i := 0
						for b.Loop() {
							m := base
							if mode == "dram" {
								m = mats[i%len(mats)]
								i++
							}
							MatVec(out, m, x)
						}
						b.ReportMetric(float64(base.Bytes())*float64(b.N)/b.Elapsed().Seconds()/1e9, "gbps")
					})
				}
			}
		}
	}
}

func BenchmarkMatMul(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	const rows, cols, n = 2048, 2048, 64
	x := randF32(rng, n*cols)
	out := make([]float32, n*rows)
	for _, dt := range []DType{F32, BF16, Q8_0} {
		m := randMatrix(b, rng, rows, cols, dt)
		for _, p := range benchPaths() {
			b.Run(fmt.Sprintf("%s/%dx%dx%d/%s", dt, n, rows, cols, p), func(b *testing.B) {
				useKernels(b, p)
				b.ReportAllocs()
				for b.Loop() {
					MatMul(out, m, x, n)
				}
				b.ReportMetric(2*float64(rows*cols*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "gflops")
			})
		}
	}
}

func BenchmarkReadBandwidth(b *testing.B) {
	for _, th := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", th), func(b *testing.B) {
			var bw float64
			for b.Loop() {
				var err error
				if bw, err = MeasureReadBandwidth(256<<20, th); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(bw/1e9, "gbps")
		})
	}
}
