// `calibr8 compare FP32 INT8` for every task: the task's accuracy of both
// models and its drop on annotated data; on a folder of images without
// annotations, one line says accuracy needs labels and the report goes on
// with what needs none (output cosine / NMSE / max abs error, top-1
// agreement, pseudo-mAP against the reference's boxes, pixel agreement).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"

using namespace c8test;
namespace fs = std::filesystem;

namespace {

const std::string kDet = det_model(), kSeg = seg_model(), kDetPre = det_pre(), kSegPre = seg_pre();

nlohmann::json compare_json(const std::string& args) {
  CmdResult r = calibr8("compare " + args + " --no-speed --layer-images 1 --json");
  EXPECT_EQ(r.code, 0) << r.err;
  return r.code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

std::string calibrated(const std::string& dir, const std::string& model, const std::string& args) {
  const std::string out = dir + "/int8.onnx";
  CmdResult r = calibr8("calibrate '" + model + "' " + args + " -o '" + out + "'");
  EXPECT_EQ(r.code, 0) << r.err;
  return out;
}

}  // namespace

TEST(CompareTasks, DetectionWithAndWithoutBoxes) {
  if (!fs::exists(kDet)) GTEST_SKIP() << kDet << " not present";
  const std::string dir = temp_dir(), data = shared("data/indoor-det-85");
  const std::string q = calibrated(dir, kDet, "--dataset '" + data + "' --calib-range 0:20" + kDetPre);
  const nlohmann::json j = compare_json("'" + kDet + "' '" + q + "' --dataset '" + data + "' --range 40:60" + kDetPre);
  EXPECT_EQ(j["task"]["task"], "detect");
  EXPECT_EQ(j["accuracy"]["metric"], "map50");
  EXPECT_GT(j["a"]["metrics"]["map50"].get<double>(), 0.05);
  EXPECT_NEAR(j["accuracy"]["drop"].get<double>(),
              j["a"]["metrics"]["map50"].get<double>() - j["b"]["metrics"]["map50"].get<double>(), 1e-12);
  EXPECT_GT(j["agreement"]["pseudo_map50"].get<double>(), 0.5);  // INT8 finds most of FP32's confident boxes
  EXPECT_GT(j["agreement"]["reference_boxes"].get<int>(), 20);
  EXPECT_GT(j["agreement"]["outputs"][0]["cosine"].get<double>(), 0.95);
  EXPECT_FALSE(j.contains("accuracy_note"));

  // The same images without their XML files.
  fs::create_directories(dir + "/plain");
  for (int i = 0; i < 6; ++i) {
    const auto it = std::next(fs::directory_iterator(data + "/images"), i);
    fs::copy_file(it->path(), dir + "/plain/" + it->path().filename().string());
  }
  CmdResult text = calibr8("compare '" + kDet + "' '" + q + "' --dataset '" + dir + "/plain' --no-speed --layer-images 1" + kDetPre);
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("accuracy           not measured: "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("accuracy needs labels"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("output 758         cosine"), std::string::npos) << text.out;
  const nlohmann::json u = compare_json("'" + kDet + "' '" + q + "' --dataset '" + dir + "/plain'" + kDetPre);
  EXPECT_FALSE(u.contains("accuracy"));
  EXPECT_TRUE(u.contains("accuracy_note"));
  EXPECT_EQ(u["agreement"]["images"], 6);
  EXPECT_FALSE(u["agreement"].contains("pseudo_map50"));  // task unknown: numbers only
  const nlohmann::json t = compare_json("'" + kDet + "' '" + q + "' --dataset '" + dir + "/plain' --task detect" + kDetPre);
  EXPECT_EQ(t["task"]["from"], "--task");
  EXPECT_GT(t["agreement"]["pseudo_map50"].get<double>(), 0.5);
  fs::remove_all(dir);
}

TEST(CompareTasks, SegmentationMiouAndPixelAgreement) {
  if (!fs::exists(kSeg)) GTEST_SKIP() << kSeg << " not present";
  const std::string dir = temp_dir(), data = shared("data/voc2012-seg-3");
  const std::string q = calibrated(dir, kSeg, "--dataset '" + data + "' --calib-range 0:1" + kSegPre);
  const nlohmann::json j = compare_json("'" + kSeg + "' '" + q + "' --dataset '" + data + "' --range 1:" + kSegPre);
  EXPECT_EQ(j["task"]["task"], "segment");
  EXPECT_EQ(j["accuracy"]["metric"], "miou");
  EXPECT_GT(j["a"]["metrics"]["miou"].get<double>(), 0.8);
  EXPECT_GT(j["agreement"]["pixel_agreement"].get<double>(), 0.95);
  EXPECT_LE(j["agreement"]["pixel_agreement"].get<double>(), 1.0);
  fs::remove_all(dir);
}

TEST(CompareTasks, ClassifierWithoutLabelsKeepsTopOneAgreement) {
  const std::string dir = temp_dir(), r8 = shared("models/resnet8_cifar10_mlperftiny.onnx");
  const std::string pre = " --size 32x32 --mean 0 --std 1";
  const std::string q = calibrated(dir, r8, "--dataset '" + shared("data/cifar10-test-2000") + "' --calib-range 0:100" + pre);
  fs::create_directories(dir + "/plain");
  fs::copy_file(shared("data/voc2012-seg-3/images/voc_val_1.png"), dir + "/plain/a.png");
  fs::copy_file(shared("data/voc2012-seg-3/images/voc_val_23.png"), dir + "/plain/b.png");
  const nlohmann::json j = compare_json("'" + r8 + "' '" + q + "' --dataset '" + dir + "/plain'" + pre);
  EXPECT_EQ(j["task"]["task"], "classify");
  EXPECT_EQ(j["task"]["from"], "output [N, classes]");
  EXPECT_TRUE(j["agreement"].contains("top1_agreement"));
  EXPECT_EQ(j["agreement"]["images"], 2);
  EXPECT_TRUE(j.contains("accuracy_note"));
  fs::remove_all(dir);
}
