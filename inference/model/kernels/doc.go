// Package kernels holds the numeric inner loops of the model: matrix-vector and
// matrix-matrix products over f32, f16, bf16, Q8_0 and Q4_0 weights with f32
// activations, RMSNorm, SwiGLU, softmax, RoPE and attention over a paged KV arena,
// and the persistent worker pool that splits rows across cores.
//
// Every kernel has a portable Go implementation. On amd64, Go assembly versions
// (AVX2+FMA, kernels_amd64.s) are selected at run time from the CPU's features; a
// plain `go build` gives them, with no cgo and no GOEXPERIMENT. UsePortable(true),
// or the environment variable RADIX_KERNELS=portable read at start-up, forces the
// portable path (tests compare the two); Accelerated says which is in use.
//
// The assembly: matrix-vector kernels take four rows at a time sharing every load
// of x, with the reductions kept in vector registers to the end; MatMul applies
// each chunk of 64 rows to all tokens while it is in cache, two tokens per pass
// (4 rows × 2 tokens of accumulators), so weights stream from memory once per
// call. bf16 widens to f32 by a 16-bit shift before the FMA. Q8_0 and Q4_0 quantise
// the activations to Q8_0 once per call and take int8·int8 dot products
// (VPSIGNB/VPMADDUBSW/VPMADDWD), scaling each block's sum by both scales in vector
// registers, as ggml does. There is no AVX-512 path yet: the machines this was
// built on expose only AVX2 and FMA, and unexercised assembly is not shipped.
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
// This package knows nothing of models, tokens or the KV cache's bookkeeping: it
// computes on slices it is given.
package kernels
