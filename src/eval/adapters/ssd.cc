#include "eval/adapters/ssd.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "base/error.h"
#include "eval/adapters/nms.h"

namespace c8 {
namespace {

constexpr size_t kNmsPerClass = 400;  // Caffe SSD's nms top_k

struct SsdParts {
  int boxes = -1, scores = -1, labels = -1;
  int64_t anchors = 0, k = 0;  // k: score columns (raw head), 0 for post-NMS
};

// Without the batch dimension (first, by contract; any size: shapes are
// planned for a whole batch).
Shape per_sample(const Shape& s) {
  if (!s.empty()) return Shape(s.begin() + 1, s.end());
  return s;
}

bool named_like_labels(const std::string& n) {
  std::string l = n;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return l.find("label") != std::string::npos || l.find("class") != std::string::npos;
}

SsdParts find_parts(const std::vector<Shape>& shapes, const std::vector<bool>& integer,
                    const std::vector<std::string>& names) {
  SsdParts p;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const Shape s = per_sample(shapes[i]);
    if (s.size() == 2 && s[1] == 4 && p.boxes < 0) {
      p.boxes = int(i);
      p.anchors = s[0];
    }
  }
  if (p.boxes < 0) return p;
  std::vector<int> flat;  // [D] outputs beside the boxes
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (int(i) == p.boxes) continue;
    const Shape s = per_sample(shapes[i]);
    if (s.size() == 2 && s[0] == p.anchors && s[1] >= 1 && p.scores < 0) {
      p.scores = int(i);
      p.k = s[1];
    } else if (s.size() == 1 && s[0] == p.anchors) {
      flat.push_back(int(i));
    }
  }
  if (p.scores >= 0) return p;  // raw head
  if (flat.size() < 2) return SsdParts{};
  // post-NMS: labels are the integer one, else the one named so
  int lab = -1;
  for (int i : flat)
    if (i < int(integer.size()) && integer[size_t(i)]) lab = i;
  if (lab < 0)
    for (int i : flat)
      if (i < int(names.size()) && named_like_labels(names[size_t(i)])) lab = i;
  if (lab < 0) lab = flat[1];  // boxes, scores, labels: the order of torchvision / ONNX zoo exports
  p.labels = lab;
  for (int i : flat)
    if (i != lab) {
      p.scores = i;
      break;
    }
  return p;
}

bool is_integer(DType t) { return t == DType::I64 || t == DType::I32 || t == DType::I8 || t == DType::U8; }

}  // namespace

bool ssd_outputs_fit(const std::vector<Shape>& outs, size_t classes, bool coco_ids) {
  const SsdParts p = find_parts(outs, {}, {});
  if (p.boxes < 0 || p.scores < 0) return false;
  if (p.labels >= 0) return true;
  if (coco_ids) return p.k == kCocoColumns;  // a column per COCO category id, 0 = background
  if (classes == 0) return true;
  return p.k == int64_t(classes) || p.k == int64_t(classes) + 1;
}

std::vector<DetectedBox> decode_ssd(const std::vector<Tensor>& outs, const std::vector<std::string>& names,
                                    const ImageGeometry& g, const SsdDecode& p) {
  const std::vector<int>* ids = p.class_of_id && !p.class_of_id->empty() ? p.class_of_id : nullptr;
  std::vector<Shape> shapes;
  std::vector<bool> integer;
  for (const Tensor& t : outs) {
    shapes.push_back(t.shape);
    integer.push_back(is_integer(t.dtype));
  }
  const SsdParts parts = find_parts(shapes, integer, names);
  if (parts.boxes < 0 || parts.scores < 0)
    throw Error("ssd adapter: expected boxes [1, A, 4] with scores [1, A, classes (+ 1)], or boxes [1, D, 4], scores "
                "[1, D] and labels [1, D]; got " +
                [&] {
                  std::string s;
                  for (const Shape& x : shapes) s += (s.empty() ? "" : ", ") + shape_str(x);
                  return s;
                }());
  const Tensor boxes = outs[size_t(parts.boxes)].cast(DType::F32), scores = outs[size_t(parts.scores)].cast(DType::F32);
  const float* b = boxes.data<float>();
  const float* s = scores.data<float>();
  const int64_t A = parts.anchors;
  bool fractions = true;
  for (int64_t i = 0; i < 4 * A; ++i)
    if (!(b[i] >= -0.5f && b[i] <= 1.5f)) fractions = false;
  const double fx = fractions ? g.input_w : 1, fy = fractions ? g.input_h : 1;
  auto box_of = [&](int64_t a) {
    const float* r = b + 4 * a;
    return g.to_image(r[0] * fx, r[1] * fy, r[2] * fx, r[3] * fy);
  };
  std::vector<DetectedBox> det;
  if (parts.labels >= 0) {  // post-NMS: as they are
    const Tensor labels = outs[size_t(parts.labels)].cast(DType::F32);
    const float* l = labels.data<float>();
    for (int64_t a = 0; a < A; ++a) {
      // |label| beyond any class count: lround's result is unspecified past long's range.
      if (!(s[a] > p.conf) || !std::isfinite(l[a]) || std::fabs(l[a]) > 1e6f) continue;
      DetectedBox d;
      d.box = box_of(a);
      const long id = std::lround(l[a]);
      if (ids) d.cls = id >= 0 && id < long(ids->size()) ? (*ids)[size_t(id)] : -1;
      else d.cls = int(id) - p.label_offset;
      d.score = s[a];
      if (d.cls >= 0) det.push_back(d);
    }
    std::stable_sort(det.begin(), det.end(), [](const DetectedBox& x, const DetectedBox& y) { return x.score > y.score; });
    if (det.size() > p.max_detections) det.resize(p.max_detections);
    return det;
  }
  const int64_t K = parts.k;
  // Columns read as COCO ids only in a head with one per id: a contiguous
  // 80 + background head would shift every class above 11.
  if (ids && K != kCocoColumns)
    throw Error("--label-ids coco: the score output has " + std::to_string(K) + " columns, not one per COCO category id (" +
                std::to_string(kCocoColumns) + ")");
  // background column first unless K is exactly the class count
  const int64_t first = (p.classes > 0 && K == int64_t(p.classes) && !ids) ? 0 : 1;
  for (int64_t a = 0; a < A; ++a)
    for (int64_t c = first; c < K; ++c) {
      const float sc = s[a * K + c];
      if (!(sc > p.conf)) continue;
      DetectedBox d;
      d.box = box_of(a);
      d.cls = ids ? (*ids)[size_t(c)] : int(c - first);  // K == kCocoColumns == ids->size()
      if (d.cls < 0) continue;
      d.score = sc;
      det.push_back(d);
    }
  return nms_per_class(det, p.nms_iou, p.max_detections, kNmsPerClass);
}

}  // namespace c8
