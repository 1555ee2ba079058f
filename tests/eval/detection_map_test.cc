// Detection AP against numbers known from outside this code: the worked
// example of Padilla et al. (github.com/rafaelpadilla/Object-Detection-Metrics,
// README and results/results.txt: 7 images, 15 "person" boxes, 24
// detections, IoU threshold 0.3, VOC rules): AP 24.57 % interpolating all
// points, 26.84 % at 11 points. The small cases below are worked by hand in
// their comments (precision / recall after each ranked detection).
#include <gtest/gtest.h>

#include <array>

#include "eval/metrics/detection_map.h"

namespace c8 {
namespace {

Box xywh(float l, float t, float w, float h) { return {l, t, l + w, t + h}; }

TEST(DetectionMap, PadillaWorkedExample) {
  // groundtruths/0000N.txt and detections/0000N.txt: left top width height.
  const std::vector<std::vector<std::array<float, 4>>> truth = {
      {{25, 16, 38, 56}, {129, 123, 41, 62}},
      {{123, 11, 43, 55}, {38, 132, 59, 45}},
      {{16, 14, 35, 48}, {123, 30, 49, 44}, {99, 139, 47, 47}},
      {{53, 42, 40, 52}, {154, 43, 31, 34}},
      {{59, 31, 44, 51}, {48, 128, 34, 52}},
      {{36, 89, 52, 76}, {62, 58, 44, 67}},
      {{28, 31, 55, 63}, {58, 67, 50, 58}}};
  const std::vector<std::vector<std::array<float, 5>>> dets = {
      {{.88f, 5, 67, 31, 48}, {.70f, 119, 111, 40, 67}, {.80f, 124, 9, 49, 67}},
      {{.71f, 64, 111, 64, 58}, {.54f, 26, 140, 60, 47}, {.74f, 19, 18, 43, 35}},
      {{.18f, 109, 15, 77, 39}, {.67f, 86, 63, 46, 45}, {.38f, 160, 62, 36, 53}, {.91f, 105, 131, 47, 47},
       {.44f, 18, 148, 40, 44}},
      {{.35f, 83, 28, 28, 26}, {.78f, 28, 68, 42, 67}, {.45f, 87, 89, 25, 39}, {.14f, 10, 155, 60, 26}},
      {{.62f, 50, 38, 28, 46}, {.44f, 95, 11, 53, 28}, {.95f, 29, 131, 72, 29}, {.23f, 29, 163, 72, 29}},
      {{.45f, 43, 48, 74, 38}, {.84f, 17, 155, 29, 35}, {.43f, 95, 110, 25, 42}},
      {{.48f, 16, 20, 101, 88}, {.95f, 33, 116, 37, 49}}};
  DetectionMap m;
  for (size_t i = 0; i < truth.size(); ++i) {
    std::vector<GroundTruthBox> g;
    for (const auto& b : truth[i]) g.push_back({xywh(b[0], b[1], b[2], b[3]), 0, false});
    std::vector<DetectedBox> d;
    for (const auto& b : dets[i]) d.push_back({xywh(b[1], b[2], b[3], b[4]), 0, b[0]});
    m.add_image(g, d);
  }
  const std::vector<ClassAp> aps = m.voc_ap(0.3);
  ASSERT_EQ(aps.size(), 1u);
  EXPECT_EQ(aps[0].ground_truth, 15u);
  EXPECT_EQ(aps[0].detections, 24u);
  EXPECT_NEAR(aps[0].ap, 0.2457, 5e-5);
  EXPECT_NEAR(m.voc_map(0.3, ApInterpolation::ElevenPoints), 0.2684, 5e-5);
}

TEST(DetectionMap, IouConventions) {
  const Box a{0, 0, 9, 9}, b{5, 0, 14, 9};
  // Pixel-inclusive (VOC): 10x10 boxes overlapping 5 columns: 50 / 150.
  EXPECT_DOUBLE_EQ(box_iou(a, b, true), 50.0 / 150.0);
  // Continuous (COCO): 9x9 boxes overlapping 4 units: 36 / 126.
  EXPECT_DOUBLE_EQ(box_iou(a, b, false), 36.0 / 126.0);
  EXPECT_EQ(box_iou(a, Box{20, 20, 30, 30}, false), 0.0);
}

// Ground truth A (difficult) and B; detections ranked: on A, nowhere, on B.
// Ignoring the difficult box and its detection: FP, TP with one positive:
// precision 0, 1/2 at recall 0, 1 -> AP 0.5. (Counted as a normal box it would
// be 0.833; its detection counted as a false positive, 0.333.)
TEST(DetectionMap, VocIgnoresDifficultBoxes) {
  DetectionMap m;
  m.add_image({{{0, 0, 10, 10}, 0, true}, {{50, 50, 60, 60}, 0, false}},
              {{{0, 0, 10, 10}, 0, .9f}, {{100, 100, 110, 110}, 0, .8f}, {{50, 50, 60, 60}, 0, .7f}});
  const std::vector<ClassAp> aps = m.voc_ap(0.5);
  ASSERT_EQ(aps.size(), 1u);
  EXPECT_EQ(aps[0].ground_truth, 1u);
  EXPECT_NEAR(aps[0].ap, 0.5, 1e-12);
}

// Two boxes found at ranks 1 and 3, a false positive at rank 2: recall .5, .5,
// 1 and precision 1, .5, 2/3. VOC all points: .5 * 1 + .5 * 2/3 = 0.8333.
// COCO 101 points: recall thresholds 0..0.50 (51) read precision 1, the 50
// above 0.5 read 2/3: (51 + 100/3) / 101 = 0.83498. A second class with one
// exact hit has AP 1 in both; a class with detections but no ground truth does
// not count.
TEST(DetectionMap, TwoClassesByHand) {
  DetectionMap m;
  m.add_image({{{0, 0, 10, 10}, 0, false}, {{20, 0, 30, 10}, 0, false}, {{0, 40, 10, 50}, 1, false}},
              {{{0, 0, 10, 10}, 0, .9f},
               {{60, 60, 70, 70}, 0, .8f},
               {{20, 0, 30, 10}, 0, .7f},
               {{0, 40, 10, 50}, 1, .6f},
               {{80, 80, 90, 90}, 2, .99f}});
  const std::vector<ClassAp> aps = m.voc_ap(0.5);
  ASSERT_EQ(aps.size(), 2u);
  EXPECT_NEAR(aps[0].ap, 0.5 + 0.5 * 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(aps[1].ap, 1.0, 1e-12);
  EXPECT_NEAR(m.voc_map(0.5), (0.5 + 0.5 * 2.0 / 3.0 + 1.0) / 2, 1e-12);
  EXPECT_NEAR(m.coco_ap(0, 0.5), (51 + 50 * 2.0 / 3.0) / 101, 1e-9);
  EXPECT_NEAR(m.coco_ap(1, 0.95), 1.0, 1e-9);
  EXPECT_EQ(m.coco_ap(2, 0.5), -1.0);
  EXPECT_NEAR(m.coco_map(), ((51 + 50 * 2.0 / 3.0) / 101 + 1.0) / 2, 1e-9);
}

// COCO over its ten thresholds: one box found with IoU 0.72 (a 10x10 box and
// a 10x7.2 detection inside it) is a hit at 0.50 ... 0.70 and a miss at 0.75
// ... 0.95: mAP 0.5.
TEST(DetectionMap, CocoAveragesTheTenThresholds) {
  DetectionMap m;
  m.add_image({{{0, 0, 10, 10}, 0, false}}, {{{0, 0, 10, 7.2f}, 0, .5f}});
  EXPECT_NEAR(m.coco_ap(0, 0.7), 1.0, 1e-9);
  EXPECT_NEAR(m.coco_ap(0, 0.75), 0.0, 1e-9);
  EXPECT_NEAR(m.coco_map(), 0.5, 1e-9);
}

// COCO matches a detection to the best box not yet taken; VOC to the best box,
// a duplicate if taken. Boxes A and B overlap; a first detection on A, a
// second overlapping A by 0.82 and B by 0.74: COCO at 0.5 takes B (both found,
// AP 1), VOC calls it a duplicate of A (AP 0.5 * 1 + 0 = 0.5).
TEST(DetectionMap, CocoAndVocMatchDifferently) {
  DetectionMap m;
  const Box a{0, 0, 100, 100}, b{25, 0, 125, 100};
  const Box second{10, 0, 110, 100};
  ASSERT_GT(box_iou(second, a, true), box_iou(second, b, true));
  ASSERT_GE(box_iou(second, b, false), 0.5);
  m.add_image({{a, 0, false}, {b, 0, false}}, {{a, 0, .9f}, {second, 0, .8f}});
  EXPECT_NEAR(m.coco_ap(0, 0.5), 1.0, 1e-9);
  EXPECT_NEAR(m.voc_map(0.5), 0.5, 1e-12);
}

}  // namespace
}  // namespace c8
