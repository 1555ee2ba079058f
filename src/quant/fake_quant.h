#pragma once
// QuantizeLinear -> DequantizeLinear on one value, the reference semantics:
// IEEE division, round half to even, + zero point, NaN -> 0, clamp to the
// integer grid, back to float. The 8-lane and the scalar form run the same
// IEEE operations, so every caller (statistics-side fake quantization, the
// bias correction's on-the-fly tap sums) gets the same bits.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

namespace c8 {

struct FakeQuantParams {
  float scale = 1.f, zero_point = 0.f, lo = -128.f, hi = 127.f;  // grid [lo, hi]
};

inline __m256 fake_quant8(__m256 x, const FakeQuantParams& q) {
  const __m256 vs = _mm256_set1_ps(q.scale), vzp = _mm256_set1_ps(q.zero_point);
  __m256 v = _mm256_round_ps(_mm256_div_ps(x, vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  v = _mm256_add_ps(v, vzp);
  v = _mm256_andnot_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), v);
  v = _mm256_min_ps(_mm256_set1_ps(q.hi), _mm256_max_ps(_mm256_set1_ps(q.lo), v));
  return _mm256_mul_ps(_mm256_sub_ps(v, vzp), vs);
}

inline float fake_quant1(float x, const FakeQuantParams& q) {
  float v = std::nearbyint(x / q.scale) + q.zero_point;
  if (std::isnan(v)) v = 0.f;
  v = std::min(q.hi, std::max(q.lo, v));
  return (v - q.zero_point) * q.scale;
}

}  // namespace c8
