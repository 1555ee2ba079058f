#include "eval/adapters/yolo.h"

#include "base/error.h"
#include "eval/adapters/nms.h"

namespace c8 {
namespace {

// rows x cols values of one sample, batch dimension 1 or absent.
const float* sample_2d(const Tensor& out, const char* what, int64_t& d0, int64_t& d1) {
  const Shape& s = out.shape;
  const bool ok = out.dtype == DType::F32 && (s.size() == 2 || (s.size() == 3 && s[0] == 1));
  if (!ok) throw Error(std::string(what) + ", got " + (out.dtype == DType::F32 ? "" : "a non-float ") + shape_str(s));
  d0 = s[s.size() - 2];
  d1 = s[s.size() - 1];
  return out.data<float>();
}

// Candidate n of a layout where value k of it sits at f[n * sn + k * sk].
std::vector<DetectedBox> decode_rows(const float* f, int64_t rows, int64_t sn, int64_t sk, int64_t first_class,
                                     int64_t classes, bool objectness, const ImageGeometry& g, const YoloDecode& p) {
  std::vector<DetectedBox> cand;
  for (int64_t n = 0; n < rows; ++n) {
    const float* r = f + n * sn;
    int best = 0;
    float pmax = r[first_class * sk];
    for (int64_t c = 1; c < classes; ++c)
      if (r[(first_class + c) * sk] > pmax) pmax = r[(first_class + c) * sk], best = int(c);
    const double score = objectness ? double(r[4 * sk]) * double(pmax) : double(pmax);
    if (!(score > p.conf)) continue;
    const double cx = r[0], cy = r[sk], w = r[2 * sk], h = r[3 * sk];
    DetectedBox d;
    d.cls = best;
    d.score = float(score);
    d.box = g.to_image(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2);
    cand.push_back(d);
  }
  // the best 400 of a class enter NMS: a large input's 100k rows above the
  // mAP threshold would otherwise make suppression quadratic in them
  return nms_per_class(cand, p.nms_iou, p.max_detections, 400);
}

}  // namespace

std::vector<DetectedBox> decode_yolo(const Tensor& out, const ImageGeometry& g, const YoloDecode& p) {
  int64_t n = 0, k = 0;
  const float* f = sample_2d(out, "yolo adapter: expected a float output [1, boxes, 5 + classes]", n, k);
  if (k < 6) throw Error("yolo adapter: expected a float output [1, boxes, 5 + classes], got " + shape_str(out.shape));
  return decode_rows(f, n, k, 1, 5, k - 5, true, g, p);
}

std::vector<DetectedBox> decode_yolov8(const Tensor& out, const ImageGeometry& g, const YoloDecode& p) {
  int64_t k = 0, n = 0;
  const float* f = sample_2d(out, "yolov8 adapter: expected a float output [1, 4 + classes, boxes]", k, n);
  if (k < 5)
    throw Error("yolov8 adapter: expected a float output [1, 4 + classes, boxes], got " + shape_str(out.shape));
  return decode_rows(f, n, 1, n, 4, k - 4, false, g, p);
}

}  // namespace c8
