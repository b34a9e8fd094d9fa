// Package kernels holds the numeric inner loops of the model: matrix-vector and
// matrix-matrix products over f32, f16, bf16, Q8_0 and Q4_0 weights with f32
// activations, RMSNorm, SwiGLU, softmax, RoPE and attention over a paged KV arena,
// and the persistent worker pool that splits rows across cores.
//
// Every kernel has a portable Go implementation. On amd64, Go assembly versions
// are selected at run time from the CPU's features (golang.org/x/sys/cpu); a
// plain `go build` gives them, with no cgo and no GOEXPERIMENT. The paths, each a
// table of row kernels, best last:
//
//   - portable: Go only; the twin every other path is tested against.
//   - avx2 (AVX2+FMA, kernels_amd64.s): every matrix kernel and the vector
//     helpers of attention.
//   - avx512 (AVX-512 F/BW/VL, kernels_avx512_amd64.s): ZMM f32 and bf16
//     matrix-vector and two-token matrix kernels; the rest as avx2.
//   - avx512vnni (avx512 plus AVX-512 VNNI): adds the VPDPBUSD Q8_0
//     matrix-vector (the decode hot path) and two-token kernel (prefill).
//
// The best path the CPU has is the default. RADIX_KERNELS=portable|avx2|avx512|
// avx512vnni read at start-up, UseKernels(name) or UsePortable(true) choose
// another (for comparisons; `radix bench model --kernels`); KernelPaths lists
// the usable ones and Accelerated names the one in use.
//
// The assembly: matrix-vector kernels take four rows at a time sharing every load
// of x, with the reductions kept in vector registers to the end, and prefetch the
// next row groups (into L1 one group ahead, L2 three ahead); a one-token product
// hands rows to the pool about 512 KiB at a time, since every grab restarts the
// prefetch streams. MatMul applies each chunk of 64 rows to all tokens while it
// is in cache, two tokens per pass (4 rows × 2 tokens of accumulators, the next
// rows prefetched as in the matvec), so weights stream from memory once per
// call. Activations are quantised to Q8_0 in assembly too (QuantizeQ8Row,
// bit-identical to the Go twin, halves rounded away from zero). MatVecMulti and MatMulMulti take several matrices over the
// same activations (a layer's q, k, v; its gate and up) in one dispatch to the
// pool, x quantised once, each matrix's rows split exactly as alone so results
// are bit-identical to separate calls. bf16 widens to f32 by zero-extension and a 16-bit shift
// before the FMA (Go's assembler has no VDPBF16PS). Q8_0 and Q4_0 quantise the
// activations to Q8_0 once per call and take int8·int8 dot products, scaling
// each block's sum by both scales in vector registers, as ggml does: on avx2 by
// moving x's sign onto w (VPSIGNB) then VPMADDUBSW/VPMADDWD; on avx512vnni by
// VPDPBUSD on two blocks per ZMM register, |x| (VPABSB) as the unsigned operand
// and w negated under x's sign mask (VPMOVB2M, masked VPSUBB), the pair of
// scales spread over the two halves by VPERMPS. Every routine that touches Y or
// Z registers ends with VZEROUPPER. The Go wrappers check bounds once per call
// and finish ragged rows and columns (and an odd last Q8_0 block) in Go or
// through the narrower path.
//
// Testing: TestFastMatchesPortable and TestFastInt8MatchesQ8Q8Twin run every
// non-portable path the CPU has against the portable twins (and a float64
// reference) on random ragged shapes; paths the CPU lacks are skipped with the
// reason logged. The AVX-512 paths were developed on an AVX2-only machine and
// are exercised by running the test binary (`go test -c`) on an AVX-512 VNNI
// machine; the model's golden-logit tests pass there with each of
// RADIX_KERNELS=portable, avx2 and the default.
//
// Weight layouts:
//
//   - F32: Rows*Cols float32, row-major.
//   - F16, BF16: Rows*Cols uint16 raw bits, row-major.
//   - Q8_0 (ggml's scheme): each row is cut into blocks of 32 weights; block b of
//     row r has scale d = max|w|/127 stored at Scales[r*Cols/32+b] and quants
//     q = round(w/d) (half away from zero) at Q8[r*Cols+b*32 ...]; w ≈ d*q.
//     Quants lie in [-127, 127] (ggml's quantiser never makes -128, and the int8
//     path, which moves signs between operands, relies on it).
//   - Q4_0 (ggml's scheme): per block of 32, m is the weight of largest magnitude
//     (with its sign), d = m/-8, q = clamp(trunc(w/d + 8.5), 0, 15), w ≈ d*(q-8).
//     Block b of row r occupies the 16 bytes at Q4[(r*Cols/32+b)*16 ...]; byte j
//     holds weight j of the block in its low nibble and weight j+16 in its high
//     nibble. Its scale is at Scales[r*Cols/32+b].
//
// Measuring the machine: MeasureReadBandwidth and BandwidthProbe time a
// streaming read (the decode ceiling); MeasureInt8Peak times the int8
// multiply-add chains of the AVX2 Q8_0 kernels with nothing else (the prefill
// ceiling). `radix bench model` reports against both, measured in the same run.
//
// This package knows nothing of models, tokens or the KV cache's bookkeeping: it
// computes on slices it is given.
package kernels
