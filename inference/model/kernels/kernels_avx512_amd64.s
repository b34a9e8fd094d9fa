//go:build amd64

#include "textflag.h"

// AVX-512 kernels (F, BW, VL; VNNI for the int8 one). They run only where
// arch_amd64.go found the features; tests hold each to its portable twin on every
// path the CPU has. Like the AVX2 file, every routine ends with VZEROUPPER.

// Lanes 0..7 take element 0, lanes 8..15 element 1: spreads a pair of per-block
// scales over the two 32-byte halves of a ZMM register.
DATA pairidx<>+0(SB)/8, $0
DATA pairidx<>+8(SB)/8, $0
DATA pairidx<>+16(SB)/8, $0
DATA pairidx<>+24(SB)/8, $0
DATA pairidx<>+32(SB)/8, $0x0000000100000001
DATA pairidx<>+40(SB)/8, $0x0000000100000001
DATA pairidx<>+48(SB)/8, $0x0000000100000001
DATA pairidx<>+56(SB)/8, $0x0000000100000001
GLOBL pairidx<>(SB), RODATA|NOPTR, $64

// HALVE4 folds the upper 256 bits of Z4..Z7 onto their lower halves (Y4..Y7),
// ready for REDUCE4; uses Y8..Y11.
#define HALVE4 \
	VEXTRACTF64X4 $1, Z4, Y8 \
	VEXTRACTF64X4 $1, Z5, Y9 \
	VEXTRACTF64X4 $1, Z6, Y10 \
	VEXTRACTF64X4 $1, Z7, Y11 \
	VADDPS Y8, Y4, Y4 \
	VADDPS Y9, Y5, Y5 \
	VADDPS Y10, Y6, Y6 \
	VADDPS Y11, Y7, Y7

#define REDUCE4Y(R) \
	VHADDPS Y5, Y4, Y4 \
	VHADDPS Y7, Y6, Y6 \
	VHADDPS Y6, Y4, Y4 \
	VEXTRACTF128 $1, Y4, X5 \
	VADDPS X5, X4, X4 \
	VMOVUPS X4, (R)

// func f32Dot4AVX512(w *float32, stride uintptr, x *float32, n int, out *float32)
// out[i] = Σ_{c<n} w[i*stride/4 + c]·x[c] for i in 0..3; n is a multiple of 16.
TEXT ·f32Dot4AVX512(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), DX
	MOVQ x+16(FP), AX
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), BX
	LEAQ (SI)(DX*1), DI
	LEAQ (DI)(DX*1), R10
	LEAQ (R10)(DX*1), R11
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	SHLQ $2, CX
	MOVQ CX, R13
	ANDQ $-128, R13
	XORQ R12, R12
	LEAQ (SI)(DX*4), R14

f32z4loop:
	CMPQ R12, R13
	JGE  f32z4tail
	PREFETCHT0 (R14)
	PREFETCHT0 64(R14)
	PREFETCHT0 128(R14)
	PREFETCHT0 192(R14)
	PREFETCHT0 256(R14)
	PREFETCHT0 320(R14)
	PREFETCHT0 384(R14)
	PREFETCHT0 448(R14)
	PREFETCHT1 (R14)(DX*8)
	PREFETCHT1 64(R14)(DX*8)
	PREFETCHT1 128(R14)(DX*8)
	PREFETCHT1 192(R14)(DX*8)
	PREFETCHT1 256(R14)(DX*8)
	PREFETCHT1 320(R14)(DX*8)
	PREFETCHT1 384(R14)(DX*8)
	PREFETCHT1 448(R14)(DX*8)
	ADDQ $512, R14
	VMOVUPS (AX)(R12*1), Z0
	VMOVUPS 64(AX)(R12*1), Z1
	VFMADD231PS (SI)(R12*1), Z0, Z4
	VFMADD231PS 64(SI)(R12*1), Z1, Z16
	VFMADD231PS (DI)(R12*1), Z0, Z5
	VFMADD231PS 64(DI)(R12*1), Z1, Z17
	VFMADD231PS (R10)(R12*1), Z0, Z6
	VFMADD231PS 64(R10)(R12*1), Z1, Z18
	VFMADD231PS (R11)(R12*1), Z0, Z7
	VFMADD231PS 64(R11)(R12*1), Z1, Z19
	ADDQ $128, R12
	JMP  f32z4loop

f32z4tail:
	CMPQ R12, CX
	JGE  f32z4done
	VMOVUPS (AX)(R12*1), Z0
	VFMADD231PS (SI)(R12*1), Z0, Z4
	VFMADD231PS (DI)(R12*1), Z0, Z5
	VFMADD231PS (R10)(R12*1), Z0, Z6
	VFMADD231PS (R11)(R12*1), Z0, Z7

f32z4done:
	VADDPS Z16, Z4, Z4
	VADDPS Z17, Z5, Z5
	VADDPS Z18, Z6, Z6
	VADDPS Z19, Z7, Z7
	HALVE4
	REDUCE4Y(BX)
	VZEROUPPER
	RET

// func bf16Dot4AVX512(w *uint16, stride uintptr, x *float32, n int, out *float32)
// As f32Dot4AVX512 over bfloat16 weights (stride in bytes), each widened to
// float32 by zero-extension and a 16-bit left shift; n is a multiple of 16.
TEXT ·bf16Dot4AVX512(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), DX
	MOVQ x+16(FP), AX
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), BX
	LEAQ (SI)(DX*1), DI
	LEAQ (DI)(DX*1), R10
	LEAQ (R10)(DX*1), R11
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	SHLQ $1, CX            // bytes of weights per row
	MOVQ CX, R13
	ANDQ $-64, R13
	XORQ R12, R12          // byte offset into each row; x offset is twice it
	LEAQ (SI)(DX*4), R14

bf16z4loop:
	CMPQ R12, R13
	JGE  bf16z4tail
	PREFETCHT0 (R14)
	PREFETCHT0 64(R14)
	PREFETCHT0 128(R14)
	PREFETCHT0 192(R14)
	PREFETCHT1 (R14)(DX*8)
	PREFETCHT1 64(R14)(DX*8)
	PREFETCHT1 128(R14)(DX*8)
	PREFETCHT1 192(R14)(DX*8)
	ADDQ $256, R14
	VMOVUPS (AX)(R12*2), Z0
	VMOVUPS 64(AX)(R12*2), Z1
	VPMOVZXWD (SI)(R12*1), Z2
	VPMOVZXWD 32(SI)(R12*1), Z3
	VPMOVZXWD (DI)(R12*1), Z12
	VPMOVZXWD 32(DI)(R12*1), Z13
	VPMOVZXWD (R10)(R12*1), Z14
	VPMOVZXWD 32(R10)(R12*1), Z15
	VPMOVZXWD (R11)(R12*1), Z20
	VPMOVZXWD 32(R11)(R12*1), Z21
	VPSLLD $16, Z2, Z2
	VPSLLD $16, Z3, Z3
	VPSLLD $16, Z12, Z12
	VPSLLD $16, Z13, Z13
	VPSLLD $16, Z14, Z14
	VPSLLD $16, Z15, Z15
	VPSLLD $16, Z20, Z20
	VPSLLD $16, Z21, Z21
	VFMADD231PS Z2, Z0, Z4
	VFMADD231PS Z3, Z1, Z16
	VFMADD231PS Z12, Z0, Z5
	VFMADD231PS Z13, Z1, Z17
	VFMADD231PS Z14, Z0, Z6
	VFMADD231PS Z15, Z1, Z18
	VFMADD231PS Z20, Z0, Z7
	VFMADD231PS Z21, Z1, Z19
	ADDQ $64, R12
	JMP  bf16z4loop

bf16z4tail:
	CMPQ R12, CX
	JGE  bf16z4done
	VMOVUPS (AX)(R12*2), Z0
	VPMOVZXWD (SI)(R12*1), Z2
	VPMOVZXWD (DI)(R12*1), Z3
	VPMOVZXWD (R10)(R12*1), Z12
	VPMOVZXWD (R11)(R12*1), Z13
	VPSLLD $16, Z2, Z2
	VPSLLD $16, Z3, Z3
	VPSLLD $16, Z12, Z12
	VPSLLD $16, Z13, Z13
	VFMADD231PS Z2, Z0, Z4
	VFMADD231PS Z3, Z0, Z5
	VFMADD231PS Z12, Z0, Z6
	VFMADD231PS Z13, Z0, Z7

bf16z4done:
	VADDPS Z16, Z4, Z4
	VADDPS Z17, Z5, Z5
	VADDPS Z18, Z6, Z6
	VADDPS Z19, Z7, Z7
	HALVE4
	REDUCE4Y(BX)
	VZEROUPPER
	RET

// One row's pair of int8 blocks, VNNI. K1 holds the sign bits of the 64 x quants
// and Z19 = |x|: the row's weights are negated where x is negative (Z30 = 0), so
// that |x| (unsigned) times w·sign(x) (signed) is x·w, which VPDPBUSD sums four
// bytes at a time into int32 lanes (lanes 0..7 block 0, 8..15 block 1; at most
// 4·127·127, no overflow). The pair of row scales times the pair of x scales (X1)
// is spread over the halves by Z29 and applied in one FMA.
#define Q8PAIR(WMEM, SMEM, W, I, S, XS, ACC) \
	VMOVDQU64 WMEM, W \
	VPSUBB W, Z30, K1, W \
	VPXORD I, I, I \
	VPDPBUSD W, Z19, I \
	VCVTDQ2PS I, I \
	VMOVQ SMEM, XS \
	VMULPS X1, XS, XS \
	VPERMPS S, Z29, S \
	VFMADD231PS S, I, ACC

// func q8Dot4VNNI(w *int8, wstride uintptr, ws *float32, sstride uintptr, xq *int8, xs *float32, np int, out *float32)
// Four Q8_0 rows against x quantised to Q8_0, np pairs of blocks (np >= 1).
TEXT ·q8Dot4VNNI(SB), NOSPLIT, $0-64
	MOVQ w+0(FP), SI
	MOVQ wstride+8(FP), DX
	MOVQ ws+16(FP), R8
	MOVQ sstride+24(FP), R9
	MOVQ xq+32(FP), AX
	MOVQ xs+40(FP), BX
	MOVQ np+48(FP), CX
	LEAQ (SI)(DX*1), DI
	LEAQ (DI)(DX*1), R10
	LEAQ (R10)(DX*1), R11
	LEAQ (R8)(R9*2), R13
	ADDQ R9, R13           // row 3's scales
	LEAQ (SI)(DX*4), R12   // the next four rows: prefetched while these are read
	VMOVDQU64 pairidx<>(SB), Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7

q8v4loop:
	PREFETCHT0 (R12)
	PREFETCHT0 64(R12)
	PREFETCHT0 128(R12)
	PREFETCHT0 192(R12)
	PREFETCHT1 (R12)(DX*8)
	PREFETCHT1 64(R12)(DX*8)
	PREFETCHT1 128(R12)(DX*8)
	PREFETCHT1 192(R12)(DX*8)
	ADDQ $256, R12
	VMOVDQU64 (AX), Z0
	VPMOVB2M Z0, K1
	VPABSB Z0, Z19
	VMOVQ (BX), X1
	Q8PAIR((SI), (R8), Z2, Z8, Z3, X3, Z4)
	Q8PAIR((DI), (R8)(R9*1), Z9, Z10, Z11, X11, Z5)
	Q8PAIR((R10), (R8)(R9*2), Z16, Z13, Z12, X12, Z6)
	Q8PAIR((R11), (R13), Z17, Z18, Z15, X15, Z7)
	ADDQ $64, AX
	ADDQ $8, BX
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, R10
	ADDQ $64, R11
	ADDQ $8, R8
	ADDQ $8, R13
	DECQ CX
	JNZ  q8v4loop

	MOVQ out+56(FP), BX
	HALVE4
	REDUCE4Y(BX)
	VZEROUPPER
	RET

// ---- two-token kernels (MatMul): each weight row loaded once for two tokens.
// Token 0's four row sums accumulate in Z4..Z7, token 1's in Z12..Z15.

#define ZERO8 \
	VPXORD Z4, Z4, Z4 \
	VPXORD Z5, Z5, Z5 \
	VPXORD Z6, Z6, Z6 \
	VPXORD Z7, Z7, Z7 \
	VPXORD Z12, Z12, Z12 \
	VPXORD Z13, Z13, Z13 \
	VPXORD Z14, Z14, Z14 \
	VPXORD Z15, Z15, Z15

// STORE2 writes token 0's sums to (BX) and token 1's to (BX)+DX.
#define STORE2 \
	HALVE4 \
	REDUCE4Y(BX) \
	VMOVAPS Z12, Z4 \
	VMOVAPS Z13, Z5 \
	VMOVAPS Z14, Z6 \
	VMOVAPS Z15, Z7 \
	ADDQ DX, BX \
	HALVE4 \
	REDUCE4Y(BX)

#define F32ROWZ2(WMEM, T, ACC0, ACC1) \
	VMOVUPS WMEM, T \
	VFMADD231PS T, Z0, ACC0 \
	VFMADD231PS T, Z1, ACC1

// func f32Dot4x2AVX512(w *float32, stride uintptr, x *float32, xstride uintptr, n int, out *float32, ostride uintptr)
// Four f32 rows against two tokens (token 1 at x+xstride bytes), n a positive
// multiple of 16; results to out[0..3] and out+ostride.
TEXT ·f32Dot4x2AVX512(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), DX
	MOVQ x+16(FP), AX
	MOVQ xstride+24(FP), R14
	MOVQ n+32(FP), CX
	LEAQ (SI)(DX*1), DI
	LEAQ (DI)(DX*1), R10
	LEAQ (R10)(DX*1), R11
	ADDQ AX, R14
	ZERO8
	SHLQ $2, CX
	XORQ R12, R12

f32z4x2loop:
	VMOVUPS (AX)(R12*1), Z0
	VMOVUPS (R14)(R12*1), Z1
	F32ROWZ2((SI)(R12*1), Z16, Z4, Z12)
	F32ROWZ2((DI)(R12*1), Z17, Z5, Z13)
	F32ROWZ2((R10)(R12*1), Z18, Z6, Z14)
	F32ROWZ2((R11)(R12*1), Z19, Z7, Z15)
	ADDQ $64, R12
	CMPQ R12, CX
	JLT  f32z4x2loop

	MOVQ out+40(FP), BX
	MOVQ ostride+48(FP), DX
	STORE2
	VZEROUPPER
	RET

#define BF16ROWZ2(WMEM, T, ACC0, ACC1) \
	VPMOVZXWD WMEM, T \
	VPSLLD $16, T, T \
	VFMADD231PS T, Z0, ACC0 \
	VFMADD231PS T, Z1, ACC1

// func bf16Dot4x2AVX512(w *uint16, stride uintptr, x *float32, xstride uintptr, n int, out *float32, ostride uintptr)
// As f32Dot4x2AVX512 over bfloat16 rows (stride in bytes).
TEXT ·bf16Dot4x2AVX512(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), DX
	MOVQ x+16(FP), AX
	MOVQ xstride+24(FP), R14
	MOVQ n+32(FP), CX
	LEAQ (SI)(DX*1), DI
	LEAQ (DI)(DX*1), R10
	LEAQ (R10)(DX*1), R11
	ADDQ AX, R14
	ZERO8
	SHLQ $1, CX
	XORQ R12, R12          // byte offset into the rows; x offset is twice it

bf16z4x2loop:
	VMOVUPS (AX)(R12*2), Z0
	VMOVUPS (R14)(R12*2), Z1
	BF16ROWZ2((SI)(R12*1), Z16, Z4, Z12)
	BF16ROWZ2((DI)(R12*1), Z17, Z5, Z13)
	BF16ROWZ2((R10)(R12*1), Z18, Z6, Z14)
	BF16ROWZ2((R11)(R12*1), Z19, Z7, Z15)
	ADDQ $32, R12
	CMPQ R12, CX
	JLT  bf16z4x2loop

	MOVQ out+40(FP), BX
	MOVQ ostride+48(FP), DX
	STORE2
	VZEROUPPER
	RET

// Q8PAIR2: one row's pair of blocks against both tokens. The weights are loaded
// twice (the second from L1) because each token negates them under its own sign
// mask (K1, K2; |x| in Z20, Z21). The row's scale pair is spread once (Z2) and
// times each token's spread scale pair (Z22, Z23).
#define Q8PAIR2(WMEM, SMEM, ACC0, ACC1) \
	VMOVDQU64 WMEM, Z24 \
	VMOVDQU64 WMEM, Z25 \
	VPSUBB Z24, Z30, K1, Z24 \
	VPSUBB Z25, Z30, K2, Z25 \
	VPXORD Z26, Z26, Z26 \
	VPXORD Z27, Z27, Z27 \
	VPDPBUSD Z24, Z20, Z26 \
	VPDPBUSD Z25, Z21, Z27 \
	VCVTDQ2PS Z26, Z26 \
	VCVTDQ2PS Z27, Z27 \
	VMOVQ SMEM, X2 \
	VPERMPS Z2, Z29, Z2 \
	VMULPS Z22, Z2, Z3 \
	VMULPS Z23, Z2, Z2 \
	VFMADD231PS Z3, Z26, ACC0 \
	VFMADD231PS Z2, Z27, ACC1

// func q8Dot4x2VNNI(w *int8, wstride uintptr, ws *float32, sstride uintptr, xq *int8, xs *float32, xstride uintptr, np int, out *float32, ostride uintptr)
// Four Q8_0 rows against two Q8_0 tokens, np pairs of blocks (np >= 1): token
// 1's quants are xstride bytes after token 0's, its scales xstride/8 bytes after
// (one float per 32 quants); results to out[0..3] and out+ostride.
TEXT ·q8Dot4x2VNNI(SB), NOSPLIT, $0-80
	MOVQ w+0(FP), SI
	MOVQ wstride+8(FP), DX
	MOVQ ws+16(FP), R8
	MOVQ sstride+24(FP), R9
	MOVQ xq+32(FP), AX
	MOVQ xs+40(FP), BX
	MOVQ xstride+48(FP), R14
	MOVQ np+56(FP), CX
	LEAQ (SI)(DX*1), DI
	LEAQ (DI)(DX*1), R10
	LEAQ (R10)(DX*1), R11
	LEAQ (R8)(R9*2), R13
	ADDQ R9, R13           // row 3's scales
	MOVQ R14, R12
	SHRQ $3, R12           // token stride of the scales
	VMOVDQU64 pairidx<>(SB), Z29
	VPXORD Z30, Z30, Z30
	ZERO8

q8v4x2loop:
	VMOVDQU64 (AX), Z0
	VMOVDQU64 (AX)(R14*1), Z1
	VPMOVB2M Z0, K1
	VPMOVB2M Z1, K2
	VPABSB Z0, Z20
	VPABSB Z1, Z21
	VMOVQ (BX), X2
	VMOVQ (BX)(R12*1), X3
	VPERMPS Z2, Z29, Z22
	VPERMPS Z3, Z29, Z23
	Q8PAIR2((SI), (R8), Z4, Z12)
	Q8PAIR2((DI), (R8)(R9*1), Z5, Z13)
	Q8PAIR2((R10), (R8)(R9*2), Z6, Z14)
	Q8PAIR2((R11), (R13), Z7, Z15)
	ADDQ $64, AX
	ADDQ $8, BX
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, R10
	ADDQ $64, R11
	ADDQ $8, R8
	ADDQ $8, R13
	DECQ CX
	JNZ  q8v4x2loop

	MOVQ out+64(FP), BX
	MOVQ ostride+72(FP), DX
	STORE2
	VZEROUPPER
	RET
