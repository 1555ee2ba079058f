// The COCO instances reader: class order (category ids, or classes.txt with
// the darknet spellings), boxes to inclusive pixel corners, crowd boxes
// ignored, refusals naming the entry at fault; and a YOLO output scored
// against COCO boxes end to end (TaskScorer).
#include <gtest/gtest.h>

#include "base/error.h"
#include "eval/datasets/dataset.h"
#include "eval/task.h"
#include "eval/task_eval.h"
#include "eval_test_util.h"

namespace c8 {
namespace {

const std::string kPpm = std::string("P6\n4 2\n255\n") + std::string(24, '\x40');

std::string coco(const std::string& images, const std::string& anns) {
  return R"({"images": [)" + images + R"(], "annotations": [)" + anns +
         R"(], "categories": [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}, {"id": 5, "name": "airplane"}]})";
}

const std::string kImages = R"({"id": 7, "file_name": "a.ppm"}, {"id": 9, "file_name": "b.ppm"})";
const std::string kAnns =
    R"({"image_id": 7, "category_id": 18, "bbox": [10, 20, 30, 40]},)"
    R"({"image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5], "iscrowd": 1},)"
    R"({"image_id": 9, "category_id": 5, "bbox": [1.5, 2.5, 10, 10], "iscrowd": 0})";

TEST(CocoJson, ClassesBoxesAndCrowds) {
  c8test::TempDir d;
  d.write("images/a.ppm", kPpm);
  d.write("images/b.ppm", kPpm);
  d.write("annotations/instances_val.json", coco(kImages, kAnns));
  auto ds = open_dataset(d.path);  // the folder: annotations/instances_*.json, images/
  EXPECT_EQ(ds->format(), "coco-json");
  ASSERT_EQ(ds->size(), 2u);
  EXPECT_EQ(ds->name(0), "a.ppm");
  EXPECT_EQ(ds->class_names(), (std::vector<std::string>{"person", "airplane", "dog"}));  // by category id
  ASSERT_TRUE(ds->has_boxes());
  const std::vector<GroundTruthBox> a = ds->boxes(0);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].cls, 2);
  EXPECT_FLOAT_EQ(a[0].box.x0, 10);
  EXPECT_FLOAT_EQ(a[0].box.y0, 20);
  EXPECT_FLOAT_EQ(a[0].box.x1, 40);  // x + w: continuous corners
  EXPECT_FLOAT_EQ(a[0].box.y1, 60);
  EXPECT_FALSE(a[0].difficult);
  EXPECT_TRUE(a[1].difficult);  // crowd
  EXPECT_EQ(ds->boxes(1).at(0).cls, 1);
  EXPECT_TRUE(has_annotations(*ds));
  Task t;
  ASSERT_TRUE(annotation_task(*ds, t));
  EXPECT_EQ(t, Task::Detect);
}

TEST(CocoJson, ClassesTxtWithDarknetSpellings) {
  c8test::TempDir d;
  d.write("a.ppm", kPpm);
  d.write("b.ppm", kPpm);
  d.write("classes.txt", "person\nbicycle\ndog\naeroplane\n");
  d.write("val.json", coco(kImages, kAnns));
  auto ds = open_dataset(d.sub("val.json"));  // the file itself
  EXPECT_EQ(ds->boxes(0).at(0).cls, 2);  // dog
  EXPECT_EQ(ds->boxes(1).at(0).cls, 3);  // airplane = aeroplane
  d.write("classes.txt", "person\ndog\n");
  try {
    open_dataset(d.sub("val.json"));
    FAIL() << "airplane is not in classes.txt";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("annotations[2]: category 'airplane' is not in classes.txt"), std::string::npos)
        << e.what();
  }
}

TEST(CocoJson, RefusalsNameTheEntry) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {coco(R"({"id": 7, "file_name": "missing.ppm"})", ""), "images[0]: image not found"},
      {coco(R"({"id": 7, "file_name": "../a.ppm"})", ""), "images[0]: file_name ../a.ppm leaves"},
      {coco(R"({"id": 7, "file_name": "a.ppm"}, {"id": 7, "file_name": "a.ppm"})", ""), "images[1]: image id 7 given twice"},
      {coco(R"({"id": 7, "file_name": "a.ppm"})", R"({"image_id": 8, "category_id": 1, "bbox": [0, 0, 1, 1]})"),
       "annotations[0]: image_id 8 is not in"},
      {coco(R"({"id": 7, "file_name": "a.ppm"})", R"({"image_id": 7, "category_id": 2, "bbox": [0, 0, 1, 1]})"),
       "annotations[0]: category_id 2 is not in"},
      {coco(R"({"id": 7, "file_name": "a.ppm"})", R"({"image_id": 7, "category_id": 1, "bbox": [0, 0, -1, 1]})"),
       "annotations[0]: \"bbox\" has a negative"},
      {coco(R"({"id": 7, "file_name": "a.ppm"})", R"({"image_id": 7, "category_id": 1, "bbox": [1e300, 0, 1, 1]})"),
       "annotations[0]: \"bbox\" has a negative size or a coordinate"},
      {coco(R"({"id": 7, "file_name": "a.ppm"})", R"({"image_id": 7, "category_id": 1, "bbox": [0, 0, 1]})"),
       "annotations[0]: \"bbox\" is not [x, y, w, h]"},
      {R"({"images": []})", "no \"annotations\" array"},
      {"{not json", "not valid JSON"},
  };
  for (const auto& [json, want] : bad) {
    c8test::TempDir d;
    d.write("a.ppm", kPpm);
    d.write("annotations.json", json);
    try {
      open_dataset(d.path);
      ADD_FAILURE() << "accepted: " << json;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("annotations.json"), std::string::npos) << e.what();
    }
  }
}

TEST(CocoJson, ScoresAYoloOutput) {
  c8test::TempDir d;
  d.write("a.ppm", kPpm);
  d.write("b.ppm", kPpm);
  d.write("annotations.json", coco(kImages, kAnns));
  auto ds = open_dataset(d.path);
  const TaskChoice task = choose_task(*ds, "m", {{1, 2, 8}}, "", "");  // 5 + 3 classes
  EXPECT_EQ(task.adapter, "yolo");
  Preprocess p;  // stretched: the 4x2 image to a 4x2 input, boxes stay in place
  TaskScorer s(*ds, task, p, ImageInput{3, 2, 4, false}, {"out"});
  // image a: the dog box found (centre 24.5, 39.5, size 30x40), plus a wrong person box
  Tensor ya(DType::F32, {1, 2, 8});
  const float ra[16] = {24.5f, 39.5f, 30, 40, 0.9f, 0.0f, 0.0f, 1.0f, 100, 100, 10, 10, 0.5f, 1.0f, 0.0f, 0.0f};
  std::copy(ra, ra + 16, ya.data<float>());
  s.add(0, {ya}, 4, 2);
  // image b: the airplane missed
  Tensor yb(DType::F32, {1, 2, 8});
  s.add(1, {yb}, 4, 2);
  const TaskMetrics m = s.result();
  EXPECT_EQ(m.metric, "map50");
  // dog AP 1, airplane AP 0; person has only a crowd box: not counted
  EXPECT_NEAR(m.value, 0.5, 1e-9);
  EXPECT_EQ(m.metrics["classes"].size(), 2u);
}

}  // namespace
}  // namespace c8
