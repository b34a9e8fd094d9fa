package kernels

import (
	"fmt"
	"time"
)

// sumFast is the vector streaming sum when the CPU has one; nil means sumGo.
var sumFast func(p []float32) float32

func sumGo(p []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(p); i += 4 {
		s0 += p[i]
		s1 += p[i+1]
		s2 += p[i+2]
		s3 += p[i+3]
	}
	for ; i < len(p); i++ {
		s0 += p[i]
	}
	return s0 + s1 + s2 + s3
}

// sink keeps the compiler from dropping the sums.
var sink float32

// MeasureReadBandwidth measures the machine's streaming read bandwidth in bytes
// per second: threads goroutines (of the worker pool's kind: split in chunks over
// the pool, with Threads temporarily set to threads) each sum their share of a
// buffer of the given size, which should be well beyond the last-level cache
// (≥ 256 MiB) to measure DRAM. It returns the best of a few passes, the first
// (page-faulting) pass excluded.
func MeasureReadBandwidth(bytes int64, threads int) (float64, error) {
	if bytes < 1<<20 {
		return 0, fmt.Errorf("measure read bandwidth: %d bytes is too small to mean anything", bytes)
	}
	n := int(bytes / 4)
	buf := make([]float32, n)
	for i := range buf {
		buf[i] = float32(i & 7)
	}
	old := Threads()
	SetThreads(threads)
	defer SetThreads(old)
	// The probe measures the machine, not the kernels: it uses the vector sum
	// whenever the CPU has one, even with the portable kernels forced.
	sum := sumGo
	if sumFast != nil {
		sum = sumFast
	}
	const piece = 1 << 16 // floats per grab: 256 KiB
	pieces := (n + piece - 1) / piece
	best := 0.0
	for range 4 {
		partial := make([]float32, pieces)
		start := time.Now()
		parallelFor(pieces, 8, func(lo, hi int) {
			for p := lo; p < hi; p++ {
				partial[p] = sum(buf[p*piece : min(n, (p+1)*piece)])
			}
		})
		el := time.Since(start).Seconds()
		for _, s := range partial {
			sink += s
		}
		if bw := float64(n*4) / el; bw > best {
			best = bw
		}
	}
	return best, nil
}
