#pragma once
// The arithmetic of calibr8::QAdd (qadd.cc), shared with the FP32 variant of
// a QConv that took over a residual add (qconv.cc, fuse_qdq step 4c):
//   y = sat(rne(a*ka + (b*kb + c))) clamped to the Relu/Clip bounds,
// ka = sa/sy, kb = sb/sy, c = zy - za*ka - zb*kb (ONNX Runtime's QLinearAdd
// folds the scales the same way).
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace c8::dnnlk {

struct QAddMath {
  float ka = 1, kb = 1, c = 0, lo = 0, hi = 255;
  // act_lo/act_hi: Relu/Clip bounds in real units (+-FLT_MAX when none).
  // False when the scales are unusable or the bounds leave no values.
  bool init(float sa, float za, float sb, float zb, float sy, float zy, float act_lo, float act_hi, bool y_s8);
  // The scalar definition; the vector loop computes exactly this per element.
  float eval(float a, float b) const {
    float v = std::fma(a, ka, std::fma(b, kb, c));
    v = std::min(hi, std::max(lo, v));
    return std::nearbyint(v);
  }
};

// y[i] = QAdd(a[i], b[i]) for n elements (AVX2, OpenMP blocks; same bytes at
// any thread count).
void qadd_run(const QAddMath& m, const uint8_t* a, bool a_s8, const uint8_t* b, bool b_s8, uint8_t* y, bool y_s8, int64_t n);

}  // namespace c8::dnnlk
