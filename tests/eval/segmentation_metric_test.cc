// Segmentation accuracy: a confusion matrix worked by hand, and the shared
// DeepLabv3 on voc2012-seg-3 scored by calibr8 alone against ../shared/
// ASSETS.md's FP32 reference (PNG images and masks decode bit-exactly
// everywhere): mIoU 0.9129, pixel accuracy 0.9790.
#include <gtest/gtest.h>

#include <filesystem>

#include "base/error.h"
#include "eval/adapters/segmentation_logits.h"
#include "eval/datasets/dataset.h"
#include "eval/datasets/voc_mask.h"
#include "eval/metrics/segmentation.h"
#include "eval/preprocess.h"
#include "ir/onnx_import.h"
#include "runtime/session.h"

namespace c8 {
namespace {

// Truth  0 0 1 1 255 2   (255: void, ignored)
// Pred   0 1 1 1  0  0
// Class 0: TP 1, FN 1 (a 0 called 1), FP 1 (the 2 called 0): IoU 1/3.
// Class 1: TP 2, FP 1: IoU 2/3. Class 2: TP 0, FN 1: IoU 0. Class 3: no
// support, not averaged. mIoU (1/3 + 2/3 + 0) / 3; pixel accuracy 3 / 5.
TEST(SegmentationMetric, ConfusionByHand) {
  SegmentationConfusion m(4);
  const uint8_t truth[] = {0, 0, 1, 1, 255, 2};
  const int pred[] = {0, 1, 1, 1, 0, 0};
  m.add(truth, pred, 6);
  const auto ious = m.class_iou();
  ASSERT_EQ(ious.size(), 3u);
  EXPECT_DOUBLE_EQ(ious[0].second, 1.0 / 3);
  EXPECT_DOUBLE_EQ(ious[1].second, 2.0 / 3);
  EXPECT_DOUBLE_EQ(ious[2].second, 0.0);
  EXPECT_DOUBLE_EQ(m.miou(), 1.0 / 3);
  EXPECT_DOUBLE_EQ(m.pixel_accuracy(), 0.6);
  const uint8_t bad[] = {7};
  EXPECT_THROW(m.add(bad, pred, 1), Error);
}

TEST(SegmentationMetric, LogitsArgmaxAtMaskSize) {
  // 2 classes on a 1x2 map: class 1 wins on the right; upscaled to 4x1 the
  // half-pixel rule keeps the left two pixels on the left value.
  Tensor t(DType::F32, {1, 2, 1, 2});
  float* f = t.data<float>();
  f[0] = 1, f[1] = 0;  // class 0
  f[2] = 0, f[3] = 1;  // class 1
  EXPECT_EQ(segmentation_classes(t, 4, 1), (std::vector<int>{0, 0, 1, 1}));
  EXPECT_THROW(segmentation_classes(Tensor(DType::F32, {2, 2}), 4, 1), Error);
}

TEST(SegmentationMetric, DeepLabReproducesTheSharedFp32Reference) {
  const std::string root = std::string(C8_SHARED_DIR);
  const std::string model = root + "/models/deeplabv3_mnv2_dm05_voc_257.onnx", data = root + "/data/voc2012-seg-3";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << model << " not present";
  auto ds = open_dataset(data);
  ASSERT_EQ(ds->size(), 3u);
  Preprocess p;
  p.width = p.height = 257;
  p.mean = {127.5f};
  p.std = {127.5f};
  Session s(load_onnx(model));
  SegmentationConfusion m(21);
  Tensor x(DType::F32, {1, 3, 257, 257});
  for (size_t i = 0; i < ds->size(); ++i) {
    preprocess_into(ds->get(i).image, p, 3, 257, 257, x.data<float>());
    const ClassMask mask = read_class_mask(ds->annotation_paths(i).at(0));
    const std::vector<int> cls = segmentation_classes(s.run({x})[0], mask.width, mask.height);
    m.add(mask.labels.data(), cls.data(), cls.size());
  }
  std::printf("[accuracy] deeplabv3 voc2012-seg-3 mIoU %.4f pixel accuracy %.4f (reference 0.9129 / 0.9790)\n", m.miou(),
              m.pixel_accuracy());
  EXPECT_EQ(m.class_iou().size(), 4u);
  EXPECT_NEAR(m.miou(), 0.9129, 5e-5);
  EXPECT_NEAR(m.pixel_accuracy(), 0.9790, 5e-5);
}

}  // namespace
}  // namespace c8
