//go:build amd64

#include "textflag.h"

// func q8Touch4(w *int8, wstride uintptr, ws *float32, sstride uintptr, xq *int8, xs *float32, nb int, out *float32)
TEXT ·q8Touch4(SB), NOSPLIT, $0-64
	MOVQ w+0(FP), SI
	MOVQ wstride+8(FP), DX
	MOVQ nb+48(FP), CX
	LEAQ (SI)(DX*1), DI
	LEAQ (DI)(DX*1), R10
	LEAQ (R10)(DX*1), R11
	LEAQ (SI)(DX*4), R12
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
tl:
	PREFETCHT0 (R12)
	PREFETCHT0 64(R12)
	PREFETCHT1 (R12)(DX*8)
	PREFETCHT1 64(R12)(DX*8)
	ADDQ $128, R12
	VPADDB (SI), Y4, Y4
	VPADDB (DI), Y5, Y5
	VPADDB (R10), Y6, Y6
	VPADDB (R11), Y7, Y7
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R10
	ADDQ $32, R11
	DECQ CX
	JNZ tl
	MOVQ out+56(FP), BX
	VPADDB Y5, Y4, Y4
	VPADDB Y7, Y6, Y6
	VPADDB Y6, Y4, Y4
	VMOVDQU X4, (BX)
	VZEROUPPER
	RET

#define REDUCE4H(R) \
	VHADDPS Y5, Y4, Y4 \
	VHADDPS Y7, Y6, Y6 \
	VHADDPS Y6, Y4, Y4 \
	VEXTRACTF128 $1, Y4, X5 \
	VADDPS X5, X4, X4 \
	VMOVUPS X4, (R)


#define Q8BLOCKH(W, T, SCALE, ACC, ABSX) \
	VPSIGNB Y0, W, W \
	VPMADDUBSW W, ABSX, W \
	VPMADDWD Y15, W, W \
	VCVTDQ2PS W, W \
	VBROADCASTSS SCALE, T \
	VMULPS Y1, T, T \
	VFMADD231PS T, W, ACC

// func q8Dot4Head(w *int8, wstride uintptr, ws *float32, sstride uintptr, xq *int8, xs *float32, nb int, out *float32)
// Four Q8_0 rows (row i at w+i*wstride, its scales at ws+i*sstride) against x
// quantised to Q8_0 (xq, xs), nb blocks of 32.
TEXT ·q8Dot4Head(SB), NOSPLIT, $0-64
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

q8hl:
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
	Q8BLOCKH(Y2, Y3, (R8), Y4, Y14)
	Q8BLOCKH(Y8, Y9, (R8)(R9*1), Y5, Y14)
	Q8BLOCKH(Y10, Y11, (R8)(R9*2), Y6, Y14)
	Q8BLOCKH(Y12, Y13, (R13), Y7, Y14)
	ADDQ $32, AX
	ADDQ $4, BX
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $4, R8
	ADDQ $4, R13
	DECQ CX
	JNZ  q8hl

	MOVQ out+56(FP), BX
	REDUCE4H(BX)
	VZEROUPPER
	RET

