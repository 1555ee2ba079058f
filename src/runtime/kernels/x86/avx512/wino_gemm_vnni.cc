// vpdpwssd GEMM for the integer Winograd kernel (see the header). Two blocks
// of 16 output channels at a time, 12 tile rows: 24 accumulators, the two
// weight vectors and one broadcast fill 27 of the 32 zmm, and each broadcast
// pair of input channels feeds two instructions.
#include "runtime/kernels/x86/avx512/wino_gemm_vnni.h"

#include <immintrin.h>

#define C8_AVX512_VNNI __attribute__((target("avx512vnni,avx512bw,avx512f")))

namespace c8::x86 {
namespace {

constexpr int kRows = 12;

// R rows x NB (1 or 2) blocks of 16 channels.
template <int R, int NB>
C8_AVX512_VNNI inline void micro(const int16_t* a, int64_t lda, const int16_t* b, int64_t b_stride, int64_t K2,
                                 int32_t* c, int64_t ldc) {
  const int32_t* ar[R];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) ar[r] = reinterpret_cast<const int32_t*>(a + r * lda);
  __m512i acc[R][NB];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int j = 0; j < NB; ++j) acc[r][j] = _mm512_setzero_si512();
  for (int64_t k = 0; k < K2; ++k) {
    __m512i w[NB];
#pragma GCC unroll 2
    for (int j = 0; j < NB; ++j) w[j] = _mm512_loadu_si512(b + j * b_stride + k * 32);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const __m512i x = _mm512_set1_epi32(ar[r][k]);  // one (ic, ic + 1) pair of this tile
#pragma GCC unroll 2
      for (int j = 0; j < NB; ++j) acc[r][j] = _mm512_dpwssd_epi32(acc[r][j], x, w[j]);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int j = 0; j < NB; ++j) _mm512_storeu_si512(c + r * ldc + 16 * j, acc[r][j]);
}

template <int NB>
C8_AVX512_VNNI void rows_of(const int16_t* a, int64_t lda, int64_t rows, const int16_t* b, int64_t b_stride,
                            int64_t K2, int32_t* c, int64_t ldc) {
  int64_t r = 0;
  for (; r + kRows <= rows; r += kRows) micro<kRows, NB>(a + r * lda, lda, b, b_stride, K2, c + r * ldc, ldc);
  a += r * lda;
  c += r * ldc;
  switch (rows - r) {
    case 11: micro<11, NB>(a, lda, b, b_stride, K2, c, ldc); break;
    case 10: micro<10, NB>(a, lda, b, b_stride, K2, c, ldc); break;
    case 9: micro<9, NB>(a, lda, b, b_stride, K2, c, ldc); break;
    case 8: micro<8, NB>(a, lda, b, b_stride, K2, c, ldc); break;
    case 7: micro<7, NB>(a, lda, b, b_stride, K2, c, ldc); break;
    case 6: micro<6, NB>(a, lda, b, b_stride, K2, c, ldc); break;
    case 5: micro<5, NB>(a, lda, b, b_stride, K2, c, ldc); break;
    case 4: micro<4, NB>(a, lda, b, b_stride, K2, c, ldc); break;
    case 3: micro<3, NB>(a, lda, b, b_stride, K2, c, ldc); break;
    case 2: micro<2, NB>(a, lda, b, b_stride, K2, c, ldc); break;
    case 1: micro<1, NB>(a, lda, b, b_stride, K2, c, ldc); break;
    default: break;
  }
}

}  // namespace

void wino_gemm_s16_vnni(const int16_t* a, int64_t lda, int64_t rows, const int16_t* b, int64_t b_stride,
                        int64_t blocks, int64_t K2, int32_t* c, int64_t ldc) {
  int64_t j = 0;
  for (; j + 2 <= blocks; j += 2) rows_of<2>(a, lda, rows, b + j * b_stride, b_stride, K2, c + 16 * j, ldc);
  if (j < blocks) rows_of<1>(a, lda, rows, b + j * b_stride, b_stride, K2, c + 16 * j, ldc);
}

}  // namespace c8::x86
