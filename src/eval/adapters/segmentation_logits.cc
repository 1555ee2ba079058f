#include "eval/adapters/segmentation_logits.h"

#include "base/error.h"
#include "eval/preprocess.h"

namespace c8 {

std::vector<int> segmentation_classes(const Tensor& logits, int out_w, int out_h) {
  const Shape& s = logits.shape;
  if (logits.dtype != DType::F32 || !(s.size() == 3 || (s.size() == 4 && s[0] == 1)) || out_w <= 0 || out_h <= 0)
    throw Error("segmentation adapter: expected float logits [1, classes, H, W], got " + shape_str(s));
  const int C = int(s[s.size() - 3]), H = int(s[s.size() - 2]), W = int(s[s.size() - 1]);
  // HWC, as resize_bilinear takes it.
  std::vector<float> hwc(size_t(C) * size_t(H) * size_t(W));
  const float* f = logits.data<float>();
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < H * W; ++i) hwc[size_t(i) * size_t(C) + size_t(c)] = f[size_t(c) * size_t(H * W) + size_t(i)];
  const std::vector<float> r = resize_bilinear(hwc.data(), W, H, C, out_w, out_h);
  std::vector<int> cls(size_t(out_w) * size_t(out_h));
  for (size_t i = 0; i < cls.size(); ++i) {
    const float* p = r.data() + i * size_t(C);
    int best = 0;
    for (int c = 1; c < C; ++c)
      if (p[c] > p[best]) best = c;
    cls[i] = best;
  }
  return cls;
}

}  // namespace c8
