#include "runtime/kernels/x86/avx2/quantize.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace c8::x86 {

// y[i] = saturate(round_half_even(x[i] / s) + zp), NaN -> 0 (ONNX
// QuantizeLinear, bit-exact with the reference kernel).
template <typename T>
void quantize_f32_avx2(const float* x, T* y, int64_t n, float s, int32_t zp) {
  constexpr float lo = std::is_same<T, uint8_t>::value ? 0.f : -128.f;
  constexpr float hi = std::is_same<T, uint8_t>::value ? 255.f : 127.f;
  const float z = float(zp);
  auto one = [&](float v) {
    float q = std::nearbyint(v / s) + z;
    if (std::isnan(q)) q = 0.f;
    return T(int32_t(std::min(hi, std::max(lo, q))));
  };
  constexpr int64_t kChunk = 4096;
  const int64_t nchunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (nchunks > 8)
  for (int64_t c = 0; c < nchunks; ++c) {
    const int64_t b = c * kChunk, e = std::min(n, b + kChunk);
    const __m256 vs = _mm256_set1_ps(s), vz = _mm256_set1_ps(z), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    auto eight = [&](const float* p) {
      __m256 q = _mm256_add_ps(
          _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(p), vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz);
      const __m256 nan = _mm256_cmp_ps(q, q, _CMP_UNORD_Q);
      q = _mm256_min_ps(_mm256_max_ps(q, vlo), vhi);
      q = _mm256_andnot_ps(nan, q);  // NaN -> 0
      return _mm256_cvtps_epi32(q);  // integral already, in [lo, hi]
    };
    int64_t i = b;
    for (; i + 16 <= e; i += 16) {
      // in-lane packs: [a.lo b.lo a.hi b.hi] as int16, then bytes; the
      // values are in range, so the saturating packs only narrow
      const __m256i w = _mm256_packs_epi32(eight(x + i), eight(x + i + 8));
      const __m128i w0 = _mm256_castsi256_si128(w), w1 = _mm256_extracti128_si256(w, 1);
      __m128i bytes = std::is_same<T, uint8_t>::value ? _mm_packus_epi16(w0, w1) : _mm_packs_epi16(w0, w1);
      bytes = _mm_shuffle_epi32(bytes, _MM_SHUFFLE(3, 1, 2, 0));  // element order back
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), bytes);
    }
    for (; i < e; ++i) y[i] = one(x[i]);
  }
}

template void quantize_f32_avx2<uint8_t>(const float*, uint8_t*, int64_t, float, int32_t);
template void quantize_f32_avx2<int8_t>(const float*, int8_t*, int64_t, float, int32_t);

}  // namespace c8::x86
