#pragma once
#include <cstdint>

namespace c8::x86 {

// The per-position GEMMs of the exact INT8 Winograd kernel
// (x86/avx2/qconv_winograd.cc) on AVX-512 VNNI:
//   c[r * ldc + 16 * j + o] = sum_k a[r * lda + k] * b[j * b_stride + (k / 2) * 32 + 2 * o + k % 2]
// for rows r < rows, output-channel blocks j < blocks of 16 channels, and
// k < 2 * K2 input channels: int16 transformed input tiles times int16
// transformed weights packed [block][K / 2][16][2], summed in int32.
// One vpdpwssd does 16 lanes x 2 MACs, the work of two vpmaddwd and two vpaddd
// on ymm. Sums wrap modulo 2^32 as vpaddd's do, so the results are the AVX2
// kernel's bit for bit. Needs AVX-512 VNNI (the caller checks
// cpu_has_avx512_vnni()).
void wino_gemm_s16_vnni(const int16_t* a, int64_t lda, int64_t rows, const int16_t* b, int64_t b_stride,
                        int64_t blocks, int64_t K2, int32_t* c, int64_t ldc);

}  // namespace c8::x86
