//go:build amd64

#include "textflag.h"

// Hand-written AVX2+FMA kernels (avo was not available to this build; the file is
// plain Go assembly). Every routine that touches Y registers ends with VZEROUPPER:
// Go's scalar float code uses legacy SSE encodings, and leaving the upper halves
// dirty makes every later SSE instruction pay a transition penalty.

// reduce4 sums each of Y4..Y7 horizontally and stores the four results at (R).
#define REDUCE4(R) \
	VHADDPS Y5, Y4, Y4 \
	VHADDPS Y7, Y6, Y6 \
	VHADDPS Y6, Y4, Y4 \
	VEXTRACTF128 $1, Y4, X5 \
	VADDPS X5, X4, X4 \
	VMOVUPS X4, (R)

// func f32Dot4AVX2(w *float32, stride uintptr, x *float32, n int, out *float32)
// out[i] = Σ_{c<n} w[i*stride/4 + c]·x[c] for i in 0..3; n is a multiple of 8.
// Four rows share every load of x; two vectors per row per step keep eight
// independent FMA chains in flight.
TEXT ·f32Dot4AVX2(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), DX
	MOVQ x+16(FP), AX
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), BX
	LEAQ (SI)(DX*1), DI
	LEAQ (DI)(DX*1), R10
	LEAQ (R10)(DX*1), R11
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	SHLQ $2, CX
	MOVQ CX, R13
	ANDQ $-64, R13
	XORQ R12, R12
	LEAQ (SI)(DX*4), R14   // the next four rows: prefetched while these are read

f32d4loop:
	CMPQ R12, R13
	JGE  f32d4tail
	PREFETCHT0 (R14)
	PREFETCHT0 64(R14)
	PREFETCHT0 128(R14)
	PREFETCHT0 192(R14)
	PREFETCHT1 (R14)(DX*8)
	PREFETCHT1 64(R14)(DX*8)
	PREFETCHT1 128(R14)(DX*8)
	PREFETCHT1 192(R14)(DX*8)
	ADDQ $256, R14
	VMOVUPS (AX)(R12*1), Y0
	VMOVUPS 32(AX)(R12*1), Y1
	VFMADD231PS (SI)(R12*1), Y0, Y4
	VFMADD231PS 32(SI)(R12*1), Y1, Y8
	VFMADD231PS (DI)(R12*1), Y0, Y5
	VFMADD231PS 32(DI)(R12*1), Y1, Y9
	VFMADD231PS (R10)(R12*1), Y0, Y6
	VFMADD231PS 32(R10)(R12*1), Y1, Y10
	VFMADD231PS (R11)(R12*1), Y0, Y7
	VFMADD231PS 32(R11)(R12*1), Y1, Y11
	ADDQ $64, R12
	JMP  f32d4loop

f32d4tail:
	CMPQ R12, CX
	JGE  f32d4done
	VMOVUPS (AX)(R12*1), Y0
	VFMADD231PS (SI)(R12*1), Y0, Y4
	VFMADD231PS (DI)(R12*1), Y0, Y5
	VFMADD231PS (R10)(R12*1), Y0, Y6
	VFMADD231PS (R11)(R12*1), Y0, Y7

f32d4done:
	VADDPS Y8, Y4, Y4
	VADDPS Y9, Y5, Y5
	VADDPS Y10, Y6, Y6
	VADDPS Y11, Y7, Y7
	REDUCE4(BX)
	VZEROUPPER
	RET

// func bf16Dot4AVX2(w *uint16, stride uintptr, x *float32, n int, out *float32)
// As f32Dot4AVX2 over bfloat16 weights (stride in bytes): each weight widens to
// float32 by zero-extension and a 16-bit left shift, then FMA.
TEXT ·bf16Dot4AVX2(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), DX
	MOVQ x+16(FP), AX
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), BX
	LEAQ (SI)(DX*1), DI
	LEAQ (DI)(DX*1), R10
	LEAQ (R10)(DX*1), R11
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	SHLQ $1, CX            // bytes of weights per row
	MOVQ CX, R13
	ANDQ $-32, R13
	XORQ R12, R12          // byte offset into each row; x offset is twice it
	LEAQ (SI)(DX*4), R14   // the next four rows: prefetched while these are read

bf16d4loop:
	CMPQ R12, R13
	JGE  bf16d4tail
	PREFETCHT0 (R14)
	PREFETCHT0 64(R14)
	PREFETCHT1 (R14)(DX*8)
	PREFETCHT1 64(R14)(DX*8)
	ADDQ $128, R14
	VMOVUPS (AX)(R12*2), Y0
	VMOVUPS 32(AX)(R12*2), Y1
	VPMOVZXWD (SI)(R12*1), Y2
	VPMOVZXWD 16(SI)(R12*1), Y3
	VPMOVZXWD (DI)(R12*1), Y12
	VPMOVZXWD 16(DI)(R12*1), Y13
	VPSLLD $16, Y2, Y2
	VPSLLD $16, Y3, Y3
	VPSLLD $16, Y12, Y12
	VPSLLD $16, Y13, Y13
	VFMADD231PS Y2, Y0, Y4
	VFMADD231PS Y3, Y1, Y8
	VFMADD231PS Y12, Y0, Y5
	VFMADD231PS Y13, Y1, Y9
	VPMOVZXWD (R10)(R12*1), Y2
	VPMOVZXWD 16(R10)(R12*1), Y3
	VPMOVZXWD (R11)(R12*1), Y14
	VPMOVZXWD 16(R11)(R12*1), Y15
	VPSLLD $16, Y2, Y2
	VPSLLD $16, Y3, Y3
	VPSLLD $16, Y14, Y14
	VPSLLD $16, Y15, Y15
	VFMADD231PS Y2, Y0, Y6
	VFMADD231PS Y3, Y1, Y10
	VFMADD231PS Y14, Y0, Y7
	VFMADD231PS Y15, Y1, Y11
	ADDQ $32, R12
	JMP  bf16d4loop

bf16d4tail:
	CMPQ R12, CX
	JGE  bf16d4done
	VMOVUPS (AX)(R12*2), Y0
	VPMOVZXWD (SI)(R12*1), Y2
	VPMOVZXWD (DI)(R12*1), Y3
	VPMOVZXWD (R10)(R12*1), Y12
	VPMOVZXWD (R11)(R12*1), Y13
	VPSLLD $16, Y2, Y2
	VPSLLD $16, Y3, Y3
	VPSLLD $16, Y12, Y12
	VPSLLD $16, Y13, Y13
	VFMADD231PS Y2, Y0, Y4
	VFMADD231PS Y3, Y0, Y5
	VFMADD231PS Y12, Y0, Y6
	VFMADD231PS Y13, Y0, Y7

bf16d4done:
	VADDPS Y8, Y4, Y4
	VADDPS Y9, Y5, Y5
	VADDPS Y10, Y6, Y6
	VADDPS Y11, Y7, Y7
	REDUCE4(BX)
	VZEROUPPER
	RET

// One row's int8 block dot, AVX2: |x| as unsigned times w·sign(x) as signed
// (VPMADDUBSW: int16 pairs, at most 2·128·127 so no saturation), pairs summed to
// int32 against ones (VPMADDWD), converted, then scaled by wscale·xscale and
// accumulated. Taking the sign from x lets |x| be computed once per block for all
// rows. W holds the 32 weight bytes; Y0 = x quants, ABSX = |x|, Y1 = x scale
// broadcast, Y15 = int16 ones; T is a temporary; ACC the accumulator.
#define Q8BLOCK(W, T, SCALE, ACC, ABSX) \
	VPSIGNB Y0, W, W \
	VPMADDUBSW W, ABSX, W \
	VPMADDWD Y15, W, W \
	VCVTDQ2PS W, W \
	VBROADCASTSS SCALE, T \
	VMULPS Y1, T, T \
	VFMADD231PS T, W, ACC

// func q8Dot4AVX2(w *int8, wstride uintptr, ws *float32, sstride uintptr, xq *int8, xs *float32, nb int, out *float32)
// Four Q8_0 rows (row i at w+i*wstride, its scales at ws+i*sstride) against x
// quantised to Q8_0 (xq, xs), nb blocks of 32.
TEXT ·q8Dot4AVX2(SB), NOSPLIT, $0-64
	MOVQ w+0(FP), SI
	MOVQ wstride+8(FP), DX
	MOVQ ws+16(FP), R8
	MOVQ sstride+24(FP), R9
	MOVQ xq+32(FP), AX
	MOVQ xs+40(FP), BX
	MOVQ nb+48(FP), CX
	LEAQ (SI)(DX*1), DI
	LEAQ (DI)(DX*1), R10
	LEAQ (R10)(DX*1), R11
	LEAQ (R8)(R9*2), R13
	ADDQ R9, R13           // row 3's scales
	LEAQ (SI)(DX*4), R12   // the next four rows: prefetched while these are read
	VPCMPEQW Y15, Y15, Y15
	VPSRLW $15, Y15, Y15   // int16 ones
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

q8d4loop:
	PREFETCHT0 (R12)
	PREFETCHT0 64(R12)
	PREFETCHT1 (R12)(DX*8) // and into L2 three groups ahead: DRAM latency needs the distance
	PREFETCHT1 64(R12)(DX*8)
	ADDQ $128, R12
	VMOVDQU (AX), Y0
	VBROADCASTSS (BX), Y1
	VPSIGNB Y0, Y0, Y14
	VMOVDQU (SI), Y2
	VMOVDQU (DI), Y8
	VMOVDQU (R10), Y10
	VMOVDQU (R11), Y12
	Q8BLOCK(Y2, Y3, (R8), Y4, Y14)
	Q8BLOCK(Y8, Y9, (R8)(R9*1), Y5, Y14)
	Q8BLOCK(Y10, Y11, (R8)(R9*2), Y6, Y14)
	Q8BLOCK(Y12, Y13, (R13), Y7, Y14)
	ADDQ $32, AX
	ADDQ $4, BX
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $4, R8
	ADDQ $4, R13
	DECQ CX
	JNZ  q8d4loop

	MOVQ out+56(FP), BX
	REDUCE4(BX)
	VZEROUPPER
	RET

// Q4NIBBLES widens the 16 bytes of one Q4_0 block at MEM into 32 signed bytes in
// W (weights 0..15 from the low nibbles, 16..31 from the high ones, minus 8),
// using T; Y14 = 0x0F bytes, Y13 = 8s.
#define Q4NIBBLES(MEM, W, X_W, X_T, T) \
	VMOVDQU MEM, X_W \
	VPSRLW $4, X_W, X_T \
	VINSERTI128 $1, X_T, W, W \
	VPAND Y14, W, W \
	VPSUBB Y13, W, W

// func q4Dot4AVX2(w *byte, wstride uintptr, ws *float32, sstride uintptr, xq *int8, xs *float32, nb int, out *float32)
// As q8Dot4AVX2 over Q4_0 rows (16 bytes per block).
TEXT ·q4Dot4AVX2(SB), NOSPLIT, $0-64
	MOVQ w+0(FP), SI
	MOVQ wstride+8(FP), DX
	MOVQ ws+16(FP), R8
	MOVQ sstride+24(FP), R9
	MOVQ xq+32(FP), AX
	MOVQ xs+40(FP), BX
	MOVQ nb+48(FP), CX
	LEAQ (SI)(DX*1), DI
	LEAQ (DI)(DX*1), R10
	LEAQ (R10)(DX*1), R11
	LEAQ (R8)(R9*2), R12
	ADDQ R9, R12
	VPCMPEQW Y15, Y15, Y15
	VPSRLW $15, Y15, Y15
	MOVQ $0x0f0f0f0f0f0f0f0f, DX
	MOVQ DX, X14
	VPBROADCASTQ X14, Y14
	MOVQ $0x0808080808080808, DX
	MOVQ DX, X13
	VPBROADCASTQ X13, Y13
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

q4d4loop:
	VMOVDQU (AX), Y0
	VBROADCASTSS (BX), Y1
	VPSIGNB Y0, Y0, Y12
	Q4NIBBLES((SI), Y2, X2, X3, Y3)
	Q4NIBBLES((DI), Y8, X8, X9, Y9)
	Q8BLOCK(Y2, Y3, (R8), Y4, Y12)
	Q8BLOCK(Y8, Y9, (R8)(R9*1), Y5, Y12)
	Q4NIBBLES((R10), Y10, X10, X11, Y11)
	Q4NIBBLES((R11), Y2, X2, X3, Y3)
	Q8BLOCK(Y10, Y11, (R8)(R9*2), Y6, Y12)
	Q8BLOCK(Y2, Y3, (R12), Y7, Y12)
	ADDQ $32, AX
	ADDQ $4, BX
	ADDQ $16, SI
	ADDQ $16, DI
	ADDQ $16, R10
	ADDQ $16, R11
	ADDQ $4, R8
	ADDQ $4, R12
	DECQ CX
	JNZ  q4d4loop

	MOVQ out+56(FP), BX
	REDUCE4(BX)
	VZEROUPPER
	RET

// func dotAVX2(a, b *float32, n int) float32
// n is a multiple of 8.
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	SHLQ $2, CX
	MOVQ CX, R13
	ANDQ $-64, R13
	XORQ R12, R12

dotloop:
	CMPQ R12, R13
	JGE  dottail
	VMOVUPS (SI)(R12*1), Y2
	VMOVUPS 32(SI)(R12*1), Y3
	VFMADD231PS (DI)(R12*1), Y2, Y0
	VFMADD231PS 32(DI)(R12*1), Y3, Y1
	ADDQ $64, R12
	JMP  dotloop

dottail:
	CMPQ R12, CX
	JGE  dotdone
	VMOVUPS (SI)(R12*1), Y2
	VFMADD231PS (DI)(R12*1), Y2, Y0

dotdone:
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func axpyAVX2(y, x *float32, a float32, n int)
// y[i] += a·x[i] for i < n; n is a multiple of 8.
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	VBROADCASTSS a+16(FP), Y0
	MOVQ n+24(FP), CX
	SHLQ $2, CX
	XORQ R12, R12

axpyloop:
	CMPQ R12, CX
	JGE  axpydone
	VMOVUPS (DI)(R12*1), Y1
	VFMADD231PS (SI)(R12*1), Y0, Y1
	VMOVUPS Y1, (DI)(R12*1)
	ADDQ $32, R12
	JMP  axpyloop

axpydone:
	VZEROUPPER
	RET

// func sumAVX2(p *float32, n int) float32
// Σ p[i] for i < n, n a multiple of 64: the streaming read of the bandwidth
// measurement (eight independent adders, 256 bytes per step).
TEXT ·sumAVX2(SB), NOSPLIT, $0-20
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	SHRQ $6, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ CX, CX
	JZ    sumdone

sumloop:
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	VADDPS 128(SI), Y4, Y4
	VADDPS 160(SI), Y5, Y5
	VADDPS 192(SI), Y6, Y6
	VADDPS 224(SI), Y7, Y7
	ADDQ $256, SI
	DECQ CX
	JNZ  sumloop

sumdone:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y5, Y4, Y4
	VADDPS Y7, Y6, Y6
	VADDPS Y2, Y0, Y0
	VADDPS Y6, Y4, Y4
	VADDPS Y4, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+16(FP)
	RET

// ---- two-token kernels (MatMul): each weight row loaded once for two tokens ----

DATA ones16<>+0(SB)/8, $0x0001000100010001
DATA ones16<>+8(SB)/8, $0x0001000100010001
DATA ones16<>+16(SB)/8, $0x0001000100010001
DATA ones16<>+24(SB)/8, $0x0001000100010001
GLOBL ones16<>(SB), RODATA|NOPTR, $32

// REDUCE4X sums each of A, B, C, D horizontally into the four floats at (R);
// XA/XT are the X names of A and of the temporary T.
#define REDUCE4X(A, B, C, D, XA, T, XT, R) \
	VHADDPS B, A, A \
	VHADDPS D, C, C \
	VHADDPS C, A, A \
	VEXTRACTF128 $1, A, XT \
	VADDPS XT, XA, XA \
	VMOVUPS XA, (R)

// Q8TOK: one row's block against one token: sign of x (in memory at XMEM) moved
// onto the weights in Y12, times |x| (ABSX), pairs to int32, to float, times
// wscale (Y15) · xscale (XS), into ACC.
#define Q8TOK(XMEM, ABSX, XS, ACC) \
	VPSIGNB XMEM, Y12, Y13 \
	VPMADDUBSW Y13, ABSX, Y13 \
	VPMADDWD ones16<>(SB), Y13, Y13 \
	VCVTDQ2PS Y13, Y13 \
	VMULPS XS, Y15, Y14 \
	VFMADD231PS Y14, Y13, ACC

#define Q8ROW2(WMEM, SMEM, ACC0, ACC1) \
	VMOVDQU WMEM, Y12 \
	VBROADCASTSS SMEM, Y15 \
	Q8TOK((AX), Y8, Y10, ACC0) \
	Q8TOK((AX)(R14*1), Y9, Y11, ACC1)

// func q8Dot4x2AVX2(w *int8, wstride uintptr, ws *float32, sstride uintptr, xq *int8, xs *float32, nb int, out *float32, ostride uintptr)
// Four Q8_0 rows against two Q8_0 tokens: token 1's quants are nb*32 bytes after
// token 0's, its scales nb*4 bytes after; results go to out[0..3] (token 0) and
// out+ostride (token 1).
TEXT ·q8Dot4x2AVX2(SB), NOSPLIT, $0-72
	MOVQ w+0(FP), SI
	MOVQ wstride+8(FP), DX
	MOVQ ws+16(FP), R8
	MOVQ sstride+24(FP), R9
	MOVQ xq+32(FP), AX
	MOVQ xs+40(FP), BX
	MOVQ nb+48(FP), CX
	LEAQ (SI)(DX*1), DI
	LEAQ (DI)(DX*1), R10
	LEAQ (R10)(DX*1), R11
	LEAQ (R8)(R9*2), R13
	ADDQ R9, R13
	MOVQ CX, R14
	SHLQ $5, R14           // token stride of the quants
	MOVQ CX, R12
	SHLQ $2, R12           // token stride of the scales
	LEAQ (SI)(DX*4), R15   // the next four rows, prefetched as in q8Dot4AVX2
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

q8d4x2loop:
	PREFETCHT0 (R15)
	PREFETCHT0 64(R15)
	PREFETCHT1 (R15)(DX*8)
	PREFETCHT1 64(R15)(DX*8)
	ADDQ $128, R15
	VMOVDQU (AX), Y8
	VMOVDQU (AX)(R14*1), Y9
	VPSIGNB Y8, Y8, Y8
	VPSIGNB Y9, Y9, Y9
	VBROADCASTSS (BX), Y10
	VBROADCASTSS (BX)(R12*1), Y11
	Q8ROW2((SI), (R8), Y0, Y1)
	Q8ROW2((DI), (R8)(R9*1), Y2, Y3)
	Q8ROW2((R10), (R8)(R9*2), Y4, Y5)
	Q8ROW2((R11), (R13), Y6, Y7)
	ADDQ $32, AX
	ADDQ $4, BX
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $4, R8
	ADDQ $4, R13
	DECQ CX
	JNZ  q8d4x2loop

	MOVQ out+56(FP), BX
	MOVQ ostride+64(FP), DX
	REDUCE4X(Y0, Y2, Y4, Y6, X0, Y8, X8, BX)
	ADDQ DX, BX
	REDUCE4X(Y1, Y3, Y5, Y7, X1, Y8, X8, BX)
	VZEROUPPER
	RET

// F32ROW2 loads 8 weights of one row and multiplies them into both tokens.
#define F32ROW2(WMEM, ACC0, ACC1) \
	VMOVUPS WMEM, Y12 \
	VFMADD231PS Y12, Y8, ACC0 \
	VFMADD231PS Y12, Y9, ACC1

// func f32Dot4x2AVX2(w *float32, stride uintptr, x *float32, xstride uintptr, n int, out *float32, ostride uintptr)
// Four f32 rows against two tokens (token 1 at x+xstride bytes), n a multiple
// of 8; results to out[0..3] and out+ostride.
TEXT ·f32Dot4x2AVX2(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), DX
	MOVQ x+16(FP), AX
	MOVQ xstride+24(FP), R14
	MOVQ n+32(FP), CX
	LEAQ (SI)(DX*1), DI
	LEAQ (DI)(DX*1), R10
	LEAQ (R10)(DX*1), R11
	ADDQ AX, R14
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	SHLQ $2, CX
	XORQ R12, R12
	LEAQ (SI)(DX*4), R13   // the next four rows, prefetched as in f32Dot4AVX2

f32d4x2loop:
	PREFETCHT0 (R13)
	PREFETCHT0 64(R13)
	PREFETCHT1 (R13)(DX*8)
	PREFETCHT1 64(R13)(DX*8)
	ADDQ $128, R13
	VMOVUPS (AX)(R12*1), Y8
	VMOVUPS (R14)(R12*1), Y9
	F32ROW2((SI)(R12*1), Y0, Y1)
	F32ROW2((DI)(R12*1), Y2, Y3)
	F32ROW2((R10)(R12*1), Y4, Y5)
	F32ROW2((R11)(R12*1), Y6, Y7)
	ADDQ $32, R12
	CMPQ R12, CX
	JLT  f32d4x2loop

	MOVQ out+40(FP), BX
	MOVQ ostride+48(FP), DX
	REDUCE4X(Y0, Y2, Y4, Y6, X0, Y8, X8, BX)
	ADDQ DX, BX
	REDUCE4X(Y1, Y3, Y5, Y7, X1, Y8, X8, BX)
	VZEROUPPER
	RET

#define BF16ROW2(WMEM, ACC0, ACC1) \
	VPMOVZXWD WMEM, Y12 \
	VPSLLD $16, Y12, Y12 \
	VFMADD231PS Y12, Y8, ACC0 \
	VFMADD231PS Y12, Y9, ACC1

// func bf16Dot4x2AVX2(w *uint16, stride uintptr, x *float32, xstride uintptr, n int, out *float32, ostride uintptr)
// As f32Dot4x2AVX2 over bfloat16 rows (stride in bytes).
TEXT ·bf16Dot4x2AVX2(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), DX
	MOVQ x+16(FP), AX
	MOVQ xstride+24(FP), R14
	MOVQ n+32(FP), CX
	LEAQ (SI)(DX*1), DI
	LEAQ (DI)(DX*1), R10
	LEAQ (R10)(DX*1), R11
	ADDQ AX, R14
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	SHLQ $1, CX
	XORQ R12, R12          // byte offset into the rows; x offset is twice it
	LEAQ (SI)(DX*4), R13   // the next four rows, prefetched as in bf16Dot4AVX2

bf16d4x2loop:
	PREFETCHT0 (R13)
	PREFETCHT1 (R13)(DX*8)
	ADDQ $64, R13
	VMOVUPS (AX)(R12*2), Y8
	VMOVUPS (R14)(R12*2), Y9
	BF16ROW2((SI)(R12*1), Y0, Y1)
	BF16ROW2((DI)(R12*1), Y2, Y3)
	BF16ROW2((R10)(R12*1), Y4, Y5)
	BF16ROW2((R11)(R12*1), Y6, Y7)
	ADDQ $16, R12
	CMPQ R12, CX
	JLT  bf16d4x2loop

	MOVQ out+40(FP), BX
	MOVQ ostride+48(FP), DX
	REDUCE4X(Y0, Y2, Y4, Y6, X0, Y8, X8, BX)
	ADDQ DX, BX
	REDUCE4X(Y1, Y3, Y5, Y7, X1, Y8, X8, BX)
	VZEROUPPER
	RET

// ---- Q8_0 quantisation of activations ----

DATA q8qconst<>+0(SB)/4, $0x7fffffff  // |x| mask
DATA q8qconst<>+4(SB)/4, $0x80000000  // sign mask
DATA q8qconst<>+8(SB)/4, $1.0
DATA q8qconst<>+12(SB)/4, $0.5
DATA q8qconst<>+16(SB)/4, $127.0
GLOBL q8qconst<>(SB), RODATA|NOPTR, $20

DATA q8qperm<>+0(SB)/4, $0
DATA q8qperm<>+4(SB)/4, $4
DATA q8qperm<>+8(SB)/4, $1
DATA q8qperm<>+12(SB)/4, $5
DATA q8qperm<>+16(SB)/4, $2
DATA q8qperm<>+20(SB)/4, $6
DATA q8qperm<>+24(SB)/4, $3
DATA q8qperm<>+28(SB)/4, $7
GLOBL q8qperm<>(SB), RODATA|NOPTR, $32

// Q8ROUND scales V by id (Y11) and rounds half away from zero, as the portable
// quantiser does (not the round-half-even of VROUNDPS mode 0): t = trunc(p),
// then ±1 where |p - t| ≥ 0.5, all exact in float32; to int32 in V.
#define Q8ROUND(V, T, F, S) \
	VMULPS Y11, V, V \
	VROUNDPS $3, V, T \
	VSUBPS T, V, F \
	VANDPS Y15, F, F \
	VCMPPS $13, Y12, F, F \
	VANDPS Y14, V, S \
	VORPS Y13, S, S \
	VANDPS F, S, S \
	VADDPS S, T, V \
	VCVTTPS2DQ V, V

// func quantQ8AVX2(q *int8, s *float32, x *float32, nb int)
// nb blocks of 32 floats at x to Q8_0: scale max|x|/127 to s, quants to q.
TEXT ·quantQ8AVX2(SB), NOSPLIT, $0-32
	MOVQ q+0(FP), DX
	MOVQ s+8(FP), DI
	MOVQ x+16(FP), SI
	MOVQ nb+24(FP), CX
	VBROADCASTSS q8qconst<>+0(SB), Y15
	VBROADCASTSS q8qconst<>+4(SB), Y14
	VBROADCASTSS q8qconst<>+8(SB), Y13
	VBROADCASTSS q8qconst<>+12(SB), Y12
	VMOVDQU q8qperm<>(SB), Y10
	VMOVSS q8qconst<>+16(SB), X9
	VXORPS X8, X8, X8
	TESTQ CX, CX
	JZ   q8qdone

q8qloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VANDPS Y15, Y0, Y4
	VANDPS Y15, Y1, Y5
	VANDPS Y15, Y2, Y6
	VANDPS Y15, Y3, Y7
	VMAXPS Y5, Y4, Y4
	VMAXPS Y7, Y6, Y6
	VMAXPS Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VMAXPS X5, X4, X4
	VPERMILPS $0x4E, X4, X5
	VMAXPS X5, X4, X4
	VPERMILPS $0xB1, X4, X5
	VMAXPS X5, X4, X4     // max|x| in every lane
	VDIVSS X9, X4, X6     // d = max/127
	VMOVSS X6, (DI)
	VDIVSS X6, X13, X7    // 1/d
	VCMPSS $4, X8, X6, X6 // d != 0
	VANDPS X6, X7, X7     // id = 0 when d = 0, as the portable code
	VBROADCASTSS X7, Y11
	Q8ROUND(Y0, Y4, Y5, Y6)
	Q8ROUND(Y1, Y4, Y5, Y6)
	Q8ROUND(Y2, Y4, Y5, Y6)
	Q8ROUND(Y3, Y4, Y5, Y6)
	VPACKSSDW Y1, Y0, Y0
	VPACKSSDW Y3, Y2, Y2
	VPACKSSWB Y2, Y0, Y0
	VPERMD Y0, Y10, Y0
	VMOVDQU Y0, (DX)
	ADDQ $128, SI
	ADDQ $32, DX
	ADDQ $4, DI
	DECQ CX
	JNZ  q8qloop

q8qdone:
	VZEROUPPER
	RET

// ---- compute ceiling probe ----

// func int8PeakAVX2(iters int)
// iters rounds of eight independent VPMADDUBSW → VPMADDWD → VPADDD chains: 256
// int8 multiply-adds a round, the arithmetic of the Q8_0 kernels with nothing
// else (MeasureInt8Peak).
TEXT ·int8PeakAVX2(SB), NOSPLIT, $0-8
	MOVQ iters+0(FP), CX
	VPCMPEQW Y15, Y15, Y15
	VPSRLW $15, Y15, Y15   // int16 ones
	VPABSB Y15, Y14
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11
	TESTQ CX, CX
	JZ   peakdone

peakloop:
	VPMADDUBSW Y15, Y14, Y0
	VPMADDUBSW Y15, Y14, Y1
	VPMADDUBSW Y15, Y14, Y2
	VPMADDUBSW Y15, Y14, Y3
	VPMADDUBSW Y15, Y14, Y4
	VPMADDUBSW Y15, Y14, Y5
	VPMADDUBSW Y15, Y14, Y6
	VPMADDUBSW Y15, Y14, Y7
	VPMADDWD Y15, Y0, Y0
	VPMADDWD Y15, Y1, Y1
	VPMADDWD Y15, Y2, Y2
	VPMADDWD Y15, Y3, Y3
	VPMADDWD Y15, Y4, Y4
	VPMADDWD Y15, Y5, Y5
	VPMADDWD Y15, Y6, Y6
	VPMADDWD Y15, Y7, Y7
	VPADDD Y0, Y8, Y8
	VPADDD Y1, Y9, Y9
	VPADDD Y2, Y10, Y10
	VPADDD Y3, Y11, Y11
	VPADDD Y4, Y8, Y8
	VPADDD Y5, Y9, Y9
	VPADDD Y6, Y10, Y10
	VPADDD Y7, Y11, Y11
	DECQ CX
	JNZ  peakloop

peakdone:
	VZEROUPPER
	RET
