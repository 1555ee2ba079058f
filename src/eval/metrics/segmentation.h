#pragma once
// Semantic segmentation accuracy from a confusion matrix over all pixels of
// all images: IoU_c = TP / (TP + FP + FN), mIoU over the classes with
// TP + FP + FN > 0, pixel accuracy = TP / counted pixels. Ground truth pixels
// equal to `ignore` (VOC's 255 = void border) count nowhere.
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace c8 {

class SegmentationConfusion {
 public:
  explicit SegmentationConfusion(int classes, int ignore = 255);
  // n pixels: ground truth labels and predicted classes. A label >= classes
  // (other than `ignore`) or a prediction outside [0, classes) throws c8::Error.
  void add(const uint8_t* truth, const int* predicted, size_t n);
  std::vector<std::pair<int, double>> class_iou() const;  // classes with support, increasing
  double miou() const;
  double pixel_accuracy() const;
  uint64_t counted() const { return counted_; }

 private:
  int classes_, ignore_;
  std::vector<uint64_t> m_;  // [truth][predicted]
  uint64_t counted_ = 0;
};

}  // namespace c8
