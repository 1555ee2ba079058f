// zmm form of the integer Winograd output transform (see the header and
// output_transform4x in x86/avx2/qconv_winograd.cc for the algebra).
#include "runtime/kernels/x86/avx512/wino_output.h"

#include <immintrin.h>

#define C8_AVX512 __attribute__((target("avx512f,avx512bw")))

namespace c8::x86 {
namespace {

// 16 int32 accumulators -> 16 saturated u8 / s8 (only the channels in mask).
C8_AVX512 inline void store16(__m512i acc, int64_t c, __mmask16 mask, uint8_t* out, const WinoEpilogue& e) {
  __m512 v = _mm512_cvtepi32_ps(acc);
  v = _mm512_add_ps(v, _mm512_loadu_ps(e.bias + c));
  v = _mm512_mul_ps(v, _mm512_loadu_ps(e.scale + c));
  v = _mm512_min_ps(_mm512_set1_ps(e.act_hi), _mm512_max_ps(_mm512_set1_ps(e.act_lo), v));
  v = _mm512_add_ps(v, _mm512_set1_ps(e.zy));
  v = _mm512_min_ps(_mm512_set1_ps(e.hi), _mm512_max_ps(_mm512_set1_ps(e.lo), v));
  const __m512i q = _mm512_cvtps_epi32(v);  // round to nearest even (MXCSR default)
  // Saturating narrowing, as the ymm code's packs / packus chain: the clamp
  // above keeps ordinary values in range, but a NaN (a zero weight scale
  // under a nonzero bias) converts to INT32_MIN, which must become -128 / 0
  // as there, not a truncated 0.
  if (e.s8_out) _mm512_mask_cvtsepi32_storeu_epi8(out, mask, q);
  else _mm512_mask_cvtusepi32_storeu_epi8(out, mask, _mm512_max_epi32(q, _mm512_setzero_si512()));
}

// x / S for the exact multiples S = 16 * 3 (MX = 2) or 16 * 9 (MX = 3): >> 4,
// then times the inverse of 3 or 9 modulo 2^32.
template <int MX>
C8_AVX512 inline __m512i divide(__m512i v) {
  const __m512i inv = _mm512_set1_epi32(int32_t(MX == 2 ? 0xAAAAAAABu : 0x38E38E39u));
  return _mm512_mullo_epi32(_mm512_srai_epi32(v, 4), inv);
}

template <int MX>
C8_AVX512 void tile(const int32_t* m, int64_t xs, int64_t OC, int rows, int cols, uint8_t* out, int64_t row_stride,
                    const WinoEpilogue& e) {
  constexpr int TX = MX + 2;
  for (int64_t c = 0; c < OC; c += 16) {
    const __mmask16 mask = OC - c >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (OC - c)) - 1);
    __m512i s[6][MX];
#pragma GCC unroll 6
    for (int r = 0; r < 6; ++r) {
      __m512i v[TX];
#pragma GCC unroll 5
      for (int q = 0; q < TX; ++q) v[q] = _mm512_loadu_si512(m + (r * TX + q) * xs + c);
      if constexpr (MX == 2) {
        s[r][0] = _mm512_add_epi32(_mm512_add_epi32(v[0], v[1]), v[2]);
        s[r][1] = _mm512_sub_epi32(_mm512_sub_epi32(v[1], v[2]), v[3]);
      } else {
        __m512i v1x3 = _mm512_add_epi32(_mm512_slli_epi32(v[1], 1), v[1]);
        s[r][0] = _mm512_add_epi32(_mm512_sub_epi32(_mm512_add_epi32(_mm512_slli_epi32(v[0], 1), v[0]), v1x3),
                                   _mm512_sub_epi32(v[3], v[2]));
        s[r][1] = _mm512_add_epi32(_mm512_sub_epi32(v[2], v1x3), _mm512_slli_epi32(v[3], 1));
        s[r][2] = _mm512_add_epi32(_mm512_sub_epi32(_mm512_slli_epi32(v[3], 2), _mm512_add_epi32(v1x3, v[2])),
                                   _mm512_add_epi32(_mm512_slli_epi32(v[4], 2), _mm512_slli_epi32(v[4], 1)));
      }
    }
#pragma GCC unroll 3
    for (int q = 0; q < MX; ++q) {
      if (q >= cols) break;
      __m512i p12 = _mm512_add_epi32(s[1][q], s[2][q]), m12 = _mm512_sub_epi32(s[1][q], s[2][q]);
      __m512i p34 = _mm512_add_epi32(s[3][q], s[4][q]), m34 = _mm512_sub_epi32(s[3][q], s[4][q]);
      __m512i six0 = _mm512_add_epi32(_mm512_slli_epi32(s[0][q], 2), _mm512_slli_epi32(s[0][q], 1));
      __m512i y[4];
      y[0] = _mm512_add_epi32(_mm512_sub_epi32(six0, _mm512_slli_epi32(p12, 2)), p34);
      y[1] = _mm512_sub_epi32(_mm512_slli_epi32(m34, 1), _mm512_slli_epi32(m12, 2));
      y[2] = _mm512_slli_epi32(_mm512_sub_epi32(p34, p12), 2);
      __m512i s5x24 = _mm512_add_epi32(_mm512_slli_epi32(s[5][q], 4), _mm512_slli_epi32(s[5][q], 3));
      y[3] = _mm512_add_epi32(_mm512_sub_epi32(_mm512_slli_epi32(m34, 3), _mm512_slli_epi32(m12, 2)), s5x24);
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) {
        if (r >= rows) break;
        store16(divide<MX>(y[r]), c, mask, out + r * row_stride + q * OC + c, e);
      }
    }
  }
}

}  // namespace

void wino_output_tile4x_avx512(const int32_t* m, int64_t xs, int mx, int64_t OC, int rows, int cols, uint8_t* out,
                               int64_t row_stride, const WinoEpilogue& e) {
  if (mx == 3) tile<3>(m, xs, OC, rows, cols, out, row_stride, e);
  else tile<2>(m, xs, OC, rows, cols, out, row_stride, e);
}

}  // namespace c8::x86
