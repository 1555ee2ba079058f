// The YOLO and SSD decoders on hand-made outputs (boxes whose image
// coordinates are worked out here, through stretched and cropped
// preprocessing), their refusals, and the task guess from output shapes.
#include <gtest/gtest.h>

#include "base/error.h"
#include "eval/adapters/detect.h"
#include "eval/adapters/geometry.h"
#include "eval/adapters/ssd.h"
#include "eval/adapters/yolo.h"
#include "eval/datasets/coco_ids.h"
#include "eval/datasets/dataset.h"
#include "eval/task.h"
#include "eval_test_util.h"

namespace c8 {
namespace {

void expect_box(const Box& b, float x0, float y0, float x1, float y1) {
  EXPECT_NEAR(b.x0, x0, 1e-3);
  EXPECT_NEAR(b.y0, y0, 1e-3);
  EXPECT_NEAR(b.x1, x1, 1e-3);
  EXPECT_NEAR(b.y1, y1, 1e-3);
}

TEST(ImageGeometry, StretchAndResizeCrop) {
  // 640x480 stretched to 320x320: x * 2, y * 1.5
  const ImageGeometry s = stretched_geometry(640, 480, 320, 320);
  expect_box(s.to_image(10, 10, 20, 40), 20, 15, 40, 60);
  // 640x480, shorter side to 256 (341x256), centre crop 224: offsets 58, 16
  Preprocess p;
  p.resize = 256;
  p.crop = 224;
  const ImageGeometry c = image_geometry(p, 640, 480, 224, 224);
  EXPECT_EQ(c.crop_x, 58);
  EXPECT_EQ(c.crop_y, 16);
  expect_box(c.to_image(0, 0, 224, 224), 58 * 640.f / 341, 16 * 480.f / 256, 282 * 640.f / 341, 240 * 480.f / 256);
}

TEST(YoloAdapter, DecodesScoresAndSuppressesPerClass) {
  // [1, 4 boxes, 5 + 3 classes]: cx, cy, w, h (input pixels), objectness, classes
  Tensor t(DType::F32, {1, 4, 8});
  const float rows[4][8] = {
      {100, 50, 40, 20, 0.9f, 0.1f, 0.8f, 0.1f},   // class 1, score 0.72
      {102, 51, 40, 20, 0.8f, 0.1f, 0.7f, 0.2f},   // class 1, overlaps the first: suppressed
      {102, 51, 40, 20, 0.8f, 0.1f, 0.2f, 0.7f},   // class 2 at the same place: kept (class-wise NMS)
      {10, 10, 4, 4, 0.0005f, 1.0f, 0.0f, 0.0f},   // below conf 0.001
  };
  std::copy(&rows[0][0], &rows[0][0] + 32, t.data<float>());
  const std::vector<DetectedBox> d = decode_yolo(t, stretched_geometry(640, 480, 320, 320));
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].cls, 1);
  EXPECT_NEAR(d[0].score, 0.72, 1e-6);
  expect_box(d[0].box, 160, 60, 240, 90);
  EXPECT_EQ(d[1].cls, 2);
  EXPECT_NEAR(d[1].score, 0.56, 1e-6);
}

TEST(YoloAdapter, V8LayoutIsTransposedWithoutObjectness) {
  // [1, 4 + 2 classes, 3 boxes]
  Tensor t(DType::F32, {1, 6, 3});
  const float v[6][3] = {{50, 200, 300}, {50, 200, 300}, {20, 10, 10}, {20, 10, 10}, {0.9f, 0.0f, 0.3f},
                         {0.05f, 0.6f, 0.1f}};
  std::copy(&v[0][0], &v[0][0] + 18, t.data<float>());
  const std::vector<DetectedBox> d = decode_yolov8(t, stretched_geometry(320, 320, 320, 320));
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].cls, 0);
  expect_box(d[0].box, 40, 40, 60, 60);
  EXPECT_EQ(d[1].cls, 1);
  expect_box(d[1].box, 195, 195, 205, 205);
  EXPECT_EQ(d[2].cls, 0);
  EXPECT_NEAR(d[2].score, 0.3, 1e-6);
}

TEST(YoloAdapter, RefusesOtherShapes) {
  EXPECT_THROW(decode_yolo(Tensor(DType::F32, {1, 4, 5}), stretched_geometry(1, 1, 1, 1)), Error);
  EXPECT_THROW(decode_yolo(Tensor(DType::F32, {2, 4, 8}), stretched_geometry(1, 1, 1, 1)), Error);
  EXPECT_THROW(decode_yolo(Tensor(DType::I64, {1, 4, 8}), stretched_geometry(1, 1, 1, 1)), Error);
}

TEST(SsdAdapter, RawHeadWithBackgroundColumn) {
  // 3 anchors, boxes as fractions of the input; scores [background, c0, c1]
  Tensor boxes(DType::F32, {1, 3, 4}), scores(DType::F32, {1, 3, 3});
  const float b[12] = {0.1f, 0.1f, 0.3f, 0.5f, 0.11f, 0.1f, 0.31f, 0.5f, 0.5f, 0.5f, 1.0f, 1.0f};
  const float s[9] = {0.1f, 0.9f, 0.0f, 0.2f, 0.8f, 0.0f, 0.5f, 0.005f, 0.5f};
  std::copy(b, b + 12, boxes.data<float>());
  std::copy(s, s + 9, scores.data<float>());
  // given in the other order: found by shape
  const std::vector<DetectedBox> d = decode_ssd({scores, boxes}, {}, stretched_geometry(600, 300, 300, 300));
  ASSERT_EQ(d.size(), 2u);  // anchor 1 suppressed by anchor 0 (class 0); class 0 of anchor 2 below 0.01
  EXPECT_EQ(d[0].cls, 0);
  EXPECT_NEAR(d[0].score, 0.9, 1e-6);
  expect_box(d[0].box, 60, 30, 180, 150);
  EXPECT_EQ(d[1].cls, 1);
  expect_box(d[1].box, 300, 150, 600, 300);
}

TEST(SsdAdapter, PostNmsOutputsTakenAsTheyAre) {
  // boxes in input pixels, integer labels, one padding row with score 0
  Tensor boxes(DType::F32, {1, 3, 4}), scores(DType::F32, {1, 3}), labels(DType::I64, {1, 3});
  const float b[12] = {10, 20, 110, 220, 0, 0, 50, 50, 0, 0, 0, 0};
  std::copy(b, b + 12, boxes.data<float>());
  scores.data<float>()[0] = 0.4f;
  scores.data<float>()[1] = 0.9f;
  scores.data<float>()[2] = 0.0f;
  labels.data<int64_t>()[0] = 5;
  labels.data<int64_t>()[1] = 2;
  labels.data<int64_t>()[2] = 0;
  SsdDecode p;
  p.label_offset = 1;  // labels count the background as 0
  const std::vector<DetectedBox> d = decode_ssd({boxes, labels, scores}, {}, stretched_geometry(300, 300, 300, 300), p);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].cls, 1);
  EXPECT_NEAR(d[0].score, 0.9, 1e-6);
  EXPECT_EQ(d[1].cls, 4);
  expect_box(d[1].box, 10, 20, 110, 220);
}

// The 80 class names of a darknet-style classes.txt (coco.names order).
std::vector<std::string> darknet_coco80() {
  return {"person", "bicycle", "car", "motorbike", "aeroplane", "bus", "train", "truck", "boat", "traffic light",
          "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
          "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
          "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
          "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
          "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "sofa",
          "pottedplant", "bed", "diningtable", "toilet", "tvmonitor", "laptop", "mouse", "remote", "keyboard",
          "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
          "teddy bear", "hair drier", "toothbrush"};
}

TEST(CocoIds, CategoryIdsMapByNameAcrossTheGaps) {
  const std::vector<int> m = coco_ids_to_classes(darknet_coco80());
  ASSERT_EQ(m.size(), 91u);
  int mapped = 0;
  for (int c : m) mapped += c >= 0;
  EXPECT_EQ(mapped, 80);  // every class once; ids 0, 12, 26, 29, 30, 45, 66, 68, 69, 71, 83 are unused
  for (int id : {0, 12, 26, 29, 30, 45, 66, 68, 69, 71, 83}) EXPECT_EQ(m[size_t(id)], -1) << id;
  EXPECT_EQ(m[1], 0);    // person
  EXPECT_EQ(m[4], 3);    // motorcycle -> motorbike
  EXPECT_EQ(m[13], 11);  // stop sign: the first id after the first gap
  EXPECT_EQ(m[67], 60);  // dining table -> diningtable
  EXPECT_EQ(m[72], 62);  // tv -> tvmonitor
  EXPECT_EQ(m[90], 79);  // toothbrush
  // A data set with a few classes: the others map to none.
  const std::vector<int> few = coco_ids_to_classes({"dog", "person"});
  EXPECT_EQ(few[18], 0);
  EXPECT_EQ(few[1], 1);
  EXPECT_EQ(few[3], -1);
}

TEST(SsdAdapter, CocoCategoryIdsBecomeTheDataSetsClasses) {
  // torchvision-style post-NMS output: labels are COCO ids (13 = stop sign,
  // 90 = toothbrush, 12 = unused); an offset of 1 would give 12 and 89.
  Tensor boxes(DType::F32, {1, 3, 4}), scores(DType::F32, {1, 3}), labels(DType::I64, {1, 3});
  const float b[12] = {10, 20, 110, 220, 0, 0, 50, 50, 5, 5, 60, 60};
  std::copy(b, b + 12, boxes.data<float>());
  const float sc[3] = {0.9f, 0.8f, 0.7f};
  std::copy(sc, sc + 3, scores.data<float>());
  const int64_t lab[3] = {13, 90, 12};
  std::copy(lab, lab + 3, labels.data<int64_t>());
  const std::vector<int> ids = coco_ids_to_classes(darknet_coco80());
  SsdDecode p;
  p.class_of_id = &ids;
  std::vector<DetectedBox> d = decode_ssd({boxes, labels, scores}, {}, stretched_geometry(300, 300, 300, 300), p);
  ASSERT_EQ(d.size(), 2u);  // the unused id is dropped
  EXPECT_EQ(d[0].cls, 11);
  EXPECT_EQ(d[1].cls, 79);

  // TF-style raw head: 91 score columns, column = COCO id (0 = background).
  Tensor raw_boxes(DType::F32, {1, 2, 4}), raw_scores(DType::F32, {1, 2, 91});
  const float rb[8] = {0.1f, 0.1f, 0.3f, 0.5f, 0.5f, 0.5f, 1.0f, 1.0f};
  std::copy(rb, rb + 8, raw_boxes.data<float>());
  std::fill(raw_scores.data<float>(), raw_scores.data<float>() + 182, 0.0f);
  raw_scores.data<float>()[72] = 0.9f;       // anchor 0: tv
  raw_scores.data<float>()[91 + 4] = 0.8f;   // anchor 1: motorcycle
  d = decode_ssd({raw_scores, raw_boxes}, {}, stretched_geometry(300, 300, 300, 300), p);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].cls, 62);
  EXPECT_EQ(d[1].cls, 3);
  // A contiguous 80 + background head is not read as COCO ids (every class above 11 would shift).
  Tensor head81(DType::F32, {1, 2, 81});
  std::fill(head81.data<float>(), head81.data<float>() + 162, 0.0f);
  EXPECT_THROW(decode_ssd({head81, raw_boxes}, {}, stretched_geometry(300, 300, 300, 300), p), Error);
}

TEST(SsdAdapter, RefusesOutputsWithoutBoxes) {
  EXPECT_THROW(decode_ssd({Tensor(DType::F32, {1, 10, 5})}, {}, stretched_geometry(1, 1, 1, 1)), Error);
  EXPECT_THROW(decode_detections("nonesuch", {Tensor(DType::F32, {1, 4})}, stretched_geometry(1, 1, 1, 1), {}), Error);
}

TEST(TaskGuess, DetectionDecoderFromOutputShapes) {
  c8test::TempDir d;
  d.write("a.ppm", std::string("P6\n1 1\n255\n") + std::string(3, '\x10'));
  d.write("a.xml", "<annotation></annotation>");
  d.write("list.txt", "a.ppm a.xml\n");
  std::string names;
  for (int c = 0; c < 80; ++c) names += "c" + std::to_string(c) + "\n";
  d.write("classes.txt", names);
  auto ds = open_dataset(d.path);
  EXPECT_EQ(choose_task(*ds, "m", {{1, 25200, 85}}, "", "").adapter, "yolo");
  EXPECT_EQ(choose_task(*ds, "m", {{1, 84, 8400}}, "", "").adapter, "yolov8");
  EXPECT_EQ(choose_task(*ds, "m", {{1, 85, 22, 22}}, "", "").adapter, "fastestdet");
  EXPECT_EQ(choose_task(*ds, "m", {{1, 3000, 4}, {1, 3000, 81}}, "", "").adapter, "ssd");
  // --label-ids coco: a 91-column head (a column per COCO id) fits the SSD
  // decoder, an 81-column one does not; other decoders refuse it.
  EXPECT_THROW(choose_task(*ds, "m", {{1, 3000, 4}, {1, 3000, 91}}, "", ""), Error);
  EXPECT_EQ(choose_task(*ds, "m", {{1, 3000, 4}, {1, 3000, 91}}, "", "", "coco").adapter, "ssd");
  EXPECT_EQ(choose_task(*ds, "m", {{1, 100, 4}, {1, 100}, {1, 100}}, "", "", "coco").adapter, "ssd");
  EXPECT_THROW(choose_task(*ds, "m", {{1, 3000, 4}, {1, 3000, 81}}, "", "", "coco"), Error);
  EXPECT_THROW(choose_task(*ds, "m", {{1, 25200, 85}}, "", "", "coco"), Error);
  EXPECT_THROW(choose_task(*ds, "m", {{1, 25200, 85}}, "", "yolo", "coco"), Error);
  // --label-ids coco fits detection only: a classify task refuses it, and
  // without the flag the same classify choice stands.
  EXPECT_THROW(choose_task(*ds, "m", {{1, 1000}}, "classify", "", "coco"), Error);
  EXPECT_EQ(choose_task(*ds, "m", {{1, 1000}}, "classify", "").adapter, "topk");
  EXPECT_EQ(choose_task(*ds, "m", {{1, 100, 4}, {1, 100}, {1, 100}}, "", "").adapter, "ssd");
  EXPECT_THROW(choose_task(*ds, "m", {{1, 3000, 4}, {1, 3000, 50}}, "", ""), Error);  // 50 is not 80 (+ 1)
  EXPECT_THROW(choose_task(*ds, "m", {{1, 25200, 85}}, "", "ssd"), Error);
}

}  // namespace
}  // namespace c8
