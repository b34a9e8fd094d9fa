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
// (≥ 256 MiB) to measure DRAM. It returns the best of three passes over the
// buffer, whose pages are touched before the first.
func MeasureReadBandwidth(bytes int64, threads int) (float64, error) {
	old := Threads()
	SetThreads(threads)
	defer SetThreads(old)
	p, err := NewBandwidthProbe(bytes)
	if err != nil {
		return 0, err
	}
	return p.Best(3), nil
}

// BandwidthProbe is a streaming-read measurement kept ready for repeated single
// passes, so that a benchmark can interleave it with the work it measures: on a
// shared machine the bandwidth drifts by tens of percent within a minute, and
// only a probe taken between the timed steps is a fair ceiling for them.
type BandwidthProbe struct {
	buf     []float32
	partial []float32
}

// NewBandwidthProbe allocates and touches a buffer of the given size (it should
// be well beyond the last-level cache, ≥ 256 MiB, to measure DRAM).
func NewBandwidthProbe(bytes int64) (*BandwidthProbe, error) {
	if bytes < 1<<20 {
		return nil, fmt.Errorf("measure read bandwidth: %d bytes is too small to mean anything", bytes)
	}
	n := int(bytes / 4)
	p := &BandwidthProbe{buf: make([]float32, n)}
	for i := range p.buf {
		p.buf[i] = float32(i & 7)
	}
	p.partial = make([]float32, (n+probePiece-1)/probePiece)
	return p, nil
}

// probePiece is how many floats one grab of a probe pass sums: 256 KiB.
const probePiece = 1 << 16

// Pass reads the whole buffer once on the worker pool (Threads() threads) and
// returns the bytes per second it took.
func (p *BandwidthProbe) Pass() float64 {
	// The probe measures the machine, not the kernels: it uses the vector sum
	// whenever the CPU has one, even with the portable kernels forced.
	sum := sumGo
	if sumFast != nil {
		sum = sumFast
	}
	n := len(p.buf)
	start := time.Now()
	parallelFor(len(p.partial), 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			p.partial[i] = sum(p.buf[i*probePiece : min(n, (i+1)*probePiece)])
		}
	})
	el := time.Since(start).Seconds()
	for _, s := range p.partial {
		sink += s
	}
	return float64(n*4) / el
}

// Best returns the fastest of n passes.
func (p *BandwidthProbe) Best(n int) float64 {
	best := 0.0
	for range n {
		best = max(best, p.Pass())
	}
	return best
}

// int8PeakFast runs iters rounds of the int8 multiply-add chains of the fast
// path's Q8_0 kernels (256 multiply-adds a round, nothing else); nil when the
// CPU has no such path.
var int8PeakFast func(iters int)

// MeasureInt8Peak measures how many int8 multiply-adds per second the AVX2
// Q8_0 kernels' instruction pair (VPMADDUBSW, VPMADDWD, then VPADDD) can issue on
// the worker pool's Threads() threads: eight independent chains per thread, no
// loads, no scaling. It is the compute ceiling of the int8 products on this path
// (a kernel also spends issue slots on the sign trick and the per-block float
// scaling); ok is false where there is no such path.
func MeasureInt8Peak() (macPerSec float64, ok bool) {
	if int8PeakFast == nil {
		return 0, false
	}
	const iters = 1 << 22 // about 10 ms a thread at 3 GHz
	t := Threads()
	best := 0.0
	for range 3 {
		start := time.Now()
		parallelFor(t, 1, func(lo, hi int) {
			for range hi - lo {
				int8PeakFast(iters)
			}
		})
		best = max(best, float64(t)*iters*256/time.Since(start).Seconds())
	}
	return best, true
}
