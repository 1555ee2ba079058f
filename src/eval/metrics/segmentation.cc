#include "eval/metrics/segmentation.h"

#include <string>

#include "base/error.h"

namespace c8 {

SegmentationConfusion::SegmentationConfusion(int classes, int ignore)
    : classes_(classes), ignore_(ignore), m_(size_t(classes) * size_t(classes), 0) {
  if (classes <= 0) throw Error("segmentation metric: no classes");
}

void SegmentationConfusion::add(const uint8_t* truth, const int* predicted, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const int t = truth[i];
    if (t == ignore_) continue;
    if (t >= classes_)
      throw Error("segmentation metric: mask label " + std::to_string(t) + " is not one of the " +
                  std::to_string(classes_) + " classes (nor the ignore label " + std::to_string(ignore_) + ")");
    const int p = predicted[i];
    if (p < 0 || p >= classes_) throw Error("segmentation metric: predicted class " + std::to_string(p) + " out of range");
    ++m_[size_t(t) * size_t(classes_) + size_t(p)];
    ++counted_;
  }
}

std::vector<std::pair<int, double>> SegmentationConfusion::class_iou() const {
  std::vector<std::pair<int, double>> r;
  for (int c = 0; c < classes_; ++c) {
    uint64_t tp = m_[size_t(c) * size_t(classes_) + size_t(c)], row = 0, col = 0;
    for (int k = 0; k < classes_; ++k) {
      row += m_[size_t(c) * size_t(classes_) + size_t(k)];
      col += m_[size_t(k) * size_t(classes_) + size_t(c)];
    }
    const uint64_t uni = row + col - tp;
    if (uni > 0) r.push_back({c, double(tp) / double(uni)});
  }
  return r;
}

double SegmentationConfusion::miou() const {
  const auto ious = class_iou();
  if (ious.empty()) return 0.0;
  double s = 0;
  for (const auto& [c, v] : ious) s += v;
  return s / double(ious.size());
}

double SegmentationConfusion::pixel_accuracy() const {
  uint64_t tp = 0;
  for (int c = 0; c < classes_; ++c) tp += m_[size_t(c) * size_t(classes_) + size_t(c)];
  return counted_ ? double(tp) / double(counted_) : 0.0;
}

}  // namespace c8
