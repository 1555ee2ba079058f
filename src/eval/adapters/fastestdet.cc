#include "eval/adapters/fastestdet.h"

#include <cmath>

#include "base/error.h"
#include "eval/adapters/nms.h"

namespace c8 {

std::vector<DetectedBox> decode_fastestdet(const Tensor& out, int image_w, int image_h, const FastestDetDecode& p) {
  const Shape& s = out.shape;
  const bool batched = s.size() == 4 && s[0] == 1;
  if (out.dtype != DType::F32 || !(s.size() == 3 || batched) || s[s.size() - 3] < 6)
    throw Error("fastestdet adapter: expected a float output [1, 5 + classes, H, W], got " + shape_str(s));
  const int64_t C = s[s.size() - 3], GH = s[s.size() - 2], GW = s[s.size() - 1], plane = GH * GW;
  const float* f = out.data<float>();
  std::vector<DetectedBox> cand;
  for (int64_t gy = 0; gy < GH; ++gy)
    for (int64_t gx = 0; gx < GW; ++gx) {
      const int64_t at = gy * GW + gx;
      int best = 0;
      float pmax = f[5 * plane + at];
      for (int64_t c = 1; c < C - 5; ++c)
        if (f[(5 + c) * plane + at] > pmax) pmax = f[(5 + c) * plane + at], best = int(c);
      const double score = std::pow(double(f[at]), 0.6) * std::pow(double(pmax), 0.4);
      if (!(score > p.conf)) continue;
      const double cx = (std::tanh(double(f[plane + at])) + double(gx)) / double(GW);
      const double cy = (std::tanh(double(f[2 * plane + at])) + double(gy)) / double(GH);
      const double w = 1 / (1 + std::exp(-double(f[3 * plane + at])));
      const double h = 1 / (1 + std::exp(-double(f[4 * plane + at])));
      DetectedBox d;
      d.cls = best;
      d.score = float(score);
      d.box = {float((cx - w / 2) * image_w), float((cy - h / 2) * image_h), float((cx + w / 2) * image_w),
               float((cy + h / 2) * image_h)};
      cand.push_back(d);
    }
  return nms_per_class(cand, p.nms_iou, p.max_detections);
}

}  // namespace c8
