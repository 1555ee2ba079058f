// The classifier GEMV's dot products on AVX-512 VNNI (see x86/avx2/qgemv.cc
// for the kernel around them). zmm: 64 weights per vpdpbusd, four rows at a
// time so the four accumulators hide the instruction's latency.
#include "runtime/kernels/x86/avx512/qgemv_vnni.h"

#include <immintrin.h>

#define C8_AVX512_VNNI __attribute__((target("avx512vnni,avx512bw,avx512f")))

namespace c8::x86 {

C8_AVX512_VNNI void qgemv_dot4_vnni(const uint8_t* x, const int8_t* w, int64_t Kp, int64_t nb, int32_t* sums) {
  __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
  if (nb == 4) {
    for (int64_t k = 0; k < Kp; k += 64) {
      const __m512i xv = _mm512_loadu_si512(x + k);
      acc[0] = _mm512_dpbusd_epi32(acc[0], xv, _mm512_loadu_si512(w + k));
      acc[1] = _mm512_dpbusd_epi32(acc[1], xv, _mm512_loadu_si512(w + Kp + k));
      acc[2] = _mm512_dpbusd_epi32(acc[2], xv, _mm512_loadu_si512(w + 2 * Kp + k));
      acc[3] = _mm512_dpbusd_epi32(acc[3], xv, _mm512_loadu_si512(w + 3 * Kp + k));
    }
  } else {
    for (int64_t k = 0; k < Kp; k += 64) {
      const __m512i xv = _mm512_loadu_si512(x + k);
      for (int64_t j = 0; j < nb; ++j) acc[j] = _mm512_dpbusd_epi32(acc[j], xv, _mm512_loadu_si512(w + j * Kp + k));
    }
  }
  // Through memory, not _mm512_reduce_add_epi32: GCC 12's header warns
  // (-Wmaybe-uninitialized) inside it; four rows per call, the cost is nil.
  for (int64_t j = 0; j < nb; ++j) {
    alignas(64) int32_t lanes[16];
    _mm512_store_si512(lanes, acc[j]);
    int32_t s = 0;
    for (int32_t v : lanes) s += v;
    sums[j] = s;
  }
}

}  // namespace c8::x86
