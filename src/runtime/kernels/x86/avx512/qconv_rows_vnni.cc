// The GEMM of the im2col INT8 convolution (x86/avx2/qconv_im2col.cc) on
// AVX-512 VNNI: a register tile of 6 pixels x 64 output channels (24 zmm
// accumulators, 4 weight vectors, 1 broadcast: 29 of 32 registers), the
// same tile shape as the AVX2 kernel's 6 x 16 widened by the zmm width, and
// the epilogue applied straight from the registers. The float operations are
// the AVX2 kernel's (and oneDNN's) in the same order, so results are bit-
// identical to both.
#include "runtime/kernels/x86/avx512/qconv_rows_vnni.h"

#include <immintrin.h>

#include <algorithm>

// GCC 12's AVX-512 headers build the conversions' and min/max's pass-through
// operand from an uninitialised variable (_mm512_undefined_*) and warn
// about their own code when they are inlined here.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define C8_AVX512_VNNI __attribute__((target("avx512vnni,avx512vl,avx512bw,avx512f")))

namespace c8::x86 {
namespace {

constexpr int kRows = 6;

// acc += u8 a . s8 b, in place. GCC 12 compiles _mm512_dpbusd_epi32 in a
// 24-accumulator loop as a copy into a scratch register, the vpdpbusd and a
// copy back (and spills): measured 2.5x slower than this.
C8_AVX512_VNNI inline void dpbusd(__m512i& acc, __m512i a, __m512i b) {
  asm("vpdpbusd %[b], %[a], %[acc]" : [acc] "+v"(acc) : [a] "v"(a), [b] "v"(b));
}

// The epilogue's per-call constants in registers (stores through uint8_t*
// may alias the QRowsEpilogue, so the compiler would reload its fields).
struct Consts {
  __m512 act_lo, act_hi, zy, hi;
  bool s8_out;
};

// 16 accumulators (already minus comp) of channels [c, c + 16) -> m-masked
// saturated bytes.
C8_AVX512_VNNI inline void store16(const Consts& k, __m512i acc, __m512 bias, __m512 scale, uint8_t* out, __mmask16 m) {
  __m512 v = _mm512_cvtepi32_ps(acc);
  v = _mm512_add_ps(v, bias);
  v = _mm512_mul_ps(v, scale);
  v = _mm512_min_ps(k.act_hi, _mm512_max_ps(k.act_lo, v));
  v = _mm512_min_ps(k.hi, _mm512_add_ps(v, k.zy));
  const __m512i q = _mm512_cvtps_epi32(v);  // round half to even (MXCSR default)
  // The low bound is the conversion's saturation: below it (INT_MIN
  // included) gives 0 for u8 / -128 for s8, as the AVX2 kernel's packs.
  const __m128i bytes = k.s8_out ? _mm512_cvtsepi32_epi8(q) : _mm512_cvtepi32_epi8(_mm512_max_epi32(q, _mm512_setzero_si512()));
  _mm_mask_storeu_epi8(out, m, bytes);
}

// R pixels x NB blocks of 16 channels starting at c0.
template <int R, int NB>
C8_AVX512_VNNI void tile(const uint8_t* a, int64_t rs, const int32_t* koff, const int8_t* b, int64_t Kp, int64_t c0,
                         int64_t OC, const QRowsEpilogue& e, uint8_t* out) {
  __m512i acc[R][NB];
  // Starting from -comp leaves acc - comp in the registers: the same exact
  // int32 the epilogue would subtract, one load and subtraction fewer per store.
#pragma GCC unroll 4
  for (int j = 0; j < NB; ++j) {
    const __m512i neg = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_loadu_si512(e.comp + c0 + j * 16));
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r][j] = neg;
  }
  const uint8_t* row[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) row[r] = a + r * rs;
  const int64_t K4 = Kp / 4, bstride = K4 * 64;  // bytes from one 16-channel block to the next
  for (int64_t k = 0; k < K4; ++k) {
    __m512i w[NB];
#pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) w[j] = _mm512_loadu_si512(b + j * bstride + k * 64);
    const int64_t off = koff[k];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      int32_t four;
      __builtin_memcpy(&four, row[r] + off, 4);
      const __m512i x = _mm512_set1_epi32(four);
#pragma GCC unroll 4
      for (int j = 0; j < NB; ++j) dpbusd(acc[r][j], x, w[j]);
    }
  }
  const Consts k{_mm512_set1_ps(e.act_lo), _mm512_set1_ps(e.act_hi), _mm512_set1_ps(e.zy), _mm512_set1_ps(e.hi),
                 e.s8_out};
  const int64_t tail = OC - (c0 + (NB - 1) * 16);
  const __mmask16 last = tail >= 16 ? __mmask16(0xffff) : __mmask16((1u << tail) - 1);
  // Row by row, as the accumulators were filled: GCC 12 keeps the 24 of them
  // in registers only for this order (block-major spilled them all, 2.5x slower).
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) {
      const int64_t c = c0 + j * 16;
      store16(k, acc[r][j], _mm512_loadu_ps(e.bias + c), _mm512_loadu_ps(e.scale + c), out + r * OC + c,
              j == NB - 1 ? last : __mmask16(0xffff));
    }
}

template <int NB>
C8_AVX512_VNNI void rows_nb(const uint8_t* a, int64_t rs, int64_t rows, const int32_t* koff, const int8_t* b,
                            int64_t Kp, int64_t c0, int64_t OC, const QRowsEpilogue& e, uint8_t* out) {
  for (int64_t i = 0; i < rows; i += kRows) {
    const uint8_t* ai = a + i * rs;
    uint8_t* oi = out + i * OC;
    switch (std::min<int64_t>(kRows, rows - i)) {
      case 6: tile<6, NB>(ai, rs, koff, b, Kp, c0, OC, e, oi); break;
      case 5: tile<5, NB>(ai, rs, koff, b, Kp, c0, OC, e, oi); break;
      case 4: tile<4, NB>(ai, rs, koff, b, Kp, c0, OC, e, oi); break;
      case 3: tile<3, NB>(ai, rs, koff, b, Kp, c0, OC, e, oi); break;
      case 2: tile<2, NB>(ai, rs, koff, b, Kp, c0, OC, e, oi); break;
      default: tile<1, NB>(ai, rs, koff, b, Kp, c0, OC, e, oi); break;
    }
  }
}

}  // namespace

C8_AVX512_VNNI void qconv_rows_vnni(const uint8_t* a, int64_t row_stride, int64_t rows, const int32_t* koff,
                                    const int8_t* B, int64_t Kp, int64_t OC, const QRowsEpilogue& e, uint8_t* out) {
  const int64_t blocks = (OC + 15) / 16;
  for (int64_t ob = 0; ob < blocks; ob += 4) {
    const int8_t* b = B + ob * Kp * 16;
    const int64_t c0 = ob * 16;
    switch (std::min<int64_t>(4, blocks - ob)) {
      case 4: rows_nb<4>(a, row_stride, rows, koff, b, Kp, c0, OC, e, out); break;
      case 3: rows_nb<3>(a, row_stride, rows, koff, b, Kp, c0, OC, e, out); break;
      case 2: rows_nb<2>(a, row_stride, rows, koff, b, Kp, c0, OC, e, out); break;
      default: rows_nb<1>(a, row_stride, rows, koff, b, Kp, c0, OC, e, out); break;
    }
  }
}

}  // namespace c8::x86
