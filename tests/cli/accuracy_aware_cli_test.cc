// `calibrate --method accuracy-aware` on the shared mobilenet_v1_0.25 from a
// deliberately weak start (per-tensor weights, which lose tens of points):
// the bound of 0.5 points is met on the images it decides on with most
// layers still INT8, the report gives every step, and the written file is
// the model it measured (evaluate on the same images gives the same top-1).
// Data sets it cannot decide on are refused in one line, with nothing written.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"

using namespace c8test;
namespace fs = std::filesystem;

namespace {

const std::string kModel = shared("models/mobilenet_v1_0.25_224.onnx"), kData = shared("data/imagenet-sample-500");
const std::string kPre = " --size 224x224 --mean 127.5 --std 127.5 --label-offset 1";

CmdResult calibrate_aa(const std::string& out, const std::string& report) {
  return calibr8("calibrate '" + kModel + "' --dataset '" + kData + "' --calib-range 0:200 -o '" + out + "' --report '" +
                 report + "' --weight-granularity per-tensor --method accuracy-aware --max-drop 0.5 --json" + kPre);
}

}  // namespace

TEST(AccuracyAwareCli, PerTensorStartMeetsTheBound) {
  if (!fs::exists(kModel)) GTEST_SKIP() << kModel << " not present";
  const std::string dir = temp_dir(), out = dir + "/aa.onnx", rep = dir + "/aa.json";
  const CmdResult r = calibrate_aa(out, rep);
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const nlohmann::json& a = j["accuracy_aware"];
  EXPECT_EQ(a["decision_images"], 300);
  EXPECT_TRUE(a["met"].get<bool>());
  // the weak start had work to do: its drop is far above the bound
  EXPECT_GT(a["fp32"].get<double>() - a["default"].get<double>(), 0.05);
  EXPECT_GE(a["final"].get<double>(), a["fp32"].get<double>() - 0.005);
  EXPECT_NEAR(a["lowest_accepted"].get<double>(), a["fp32"].get<double>() - 0.005, 1e-12);
  // most layers stay INT8 (93 % with VNNI's 8-bit weights, 54 % with the
  // 7-bit weights of the AVX2 target, measured)
  EXPECT_GT(a["int8_share"].get<double>(), 0.5);
  EXPECT_EQ(a["ranking"], "accuracy");
  EXPECT_EQ(a["layers"], 28);
  EXPECT_EQ(a["reverted"].size(), a["layers"].get<size_t>() - a["int8_layers"].get<size_t>());
  EXPECT_EQ(a["ranking_table"].size(), 28u);
  EXPECT_EQ(a["ranking_evaluations"], 28);
  EXPECT_GE(a["evaluations"].get<int>(), 3);  // FP32, Default, at least one revert
  EXPECT_GT(a["speedup_vs_fp32"].get<double>(), 0.0);
  // steps: the start, then each revert tried with the accuracy it gave
  ASSERT_GE(a["steps"].size(), 2u);
  EXPECT_EQ(a["steps"][0]["step"], "default");
  EXPECT_TRUE(a["steps"][0]["layer"].is_null());
  EXPECT_EQ(a["steps"][1]["step"], "revert");
  EXPECT_EQ(a["preset"], "performance");
  double last_kept = -1;
  for (const auto& st : a["steps"])
    if (st["kept"].get<bool>()) last_kept = st["metric"].get<double>();
  EXPECT_DOUBLE_EQ(last_kept, a["final"].get<double>());
  // the report holds the same block
  const nlohmann::json rj = nlohmann::json::parse(slurp(rep));
  EXPECT_EQ(rj["accuracy_aware"]["final"], a["final"]);
  // The file is the model measured: same top-1 on the same images.
  const CmdResult e = calibr8("evaluate '" + out + "' --dataset '" + kData + "' --range 200:500 --json" + kPre);
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NEAR(nlohmann::json::parse(e.out)["top1"].get<double>(), a["final"].get<double>(), 1e-9);
  fs::remove_all(dir);
}

// The mixed preset's Default on mobilenet_v1_0.25 (asymmetric activations)
// meets a 0.5-point bound with at least 80 % of the layers INT8 (issue 16's
// target; measured: it needs no revert at all, 0.42 pt on these images).
TEST(AccuracyAwareCli, MixedPresetMeetsTheBoundMostlyInt8) {
  if (!fs::exists(kModel)) GTEST_SKIP() << kModel << " not present";
  const std::string dir = temp_dir(), out = dir + "/aa.onnx";
  const CmdResult r = calibr8("calibrate '" + kModel + "' --dataset '" + kData + "' --calib-range 0:200 -o '" + out +
                              "' --preset mixed --method accuracy-aware --max-drop 0.5 --json" + kPre);
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json a = nlohmann::json::parse(r.out)["accuracy_aware"];
  EXPECT_EQ(a["preset"], "mixed");
  EXPECT_TRUE(a["met"].get<bool>());
  EXPECT_GE(a["final"].get<double>(), a["fp32"].get<double>() - 0.005);
  EXPECT_GE(a["int8_share"].get<double>(), 0.8);
  EXPECT_EQ(a["layers"], 28);
  fs::remove_all(dir);
}

// max-drop 0 (issue 16): the result scores at least the FP32 model on the
// images it decides on, or the run ends with the clear line, exit 1, and
// the best model and its report still written. On resnet8 (CIFAR-10) and
// the embedded Fashion-MNIST model.
TEST(AccuracyAwareCli, ZeroDropIsMetOrSaysSo) {
  struct Case {
    std::string model, args;
  };
  const std::vector<Case> cases = {
      {"'" + shared("models/resnet8_cifar10_mlperftiny.onnx") + "'",
       " --dataset '" + shared("data/cifar10-test-2000") + "' --calib-range 0:300 --size 32x32 --mean 0 --std 1"},
      {"default", " --subset 300 --seed 0"},
  };
  for (const Case& c : cases) {
    if (c.model != "default" && !fs::exists(shared("models/resnet8_cifar10_mlperftiny.onnx"))) continue;
    const std::string dir = temp_dir(), out = dir + "/aa.onnx", rep = dir + "/aa.json";
    const CmdResult r = calibr8("calibrate " + c.model + c.args + " -o '" + out + "' --report '" + rep +
                                "' --method accuracy-aware --max-drop 0 --threads 2 --json");
    ASSERT_TRUE(r.code == 0 || r.code == 1) << c.model << ": " << r.err;
    const nlohmann::json a = nlohmann::json::parse(r.out)["accuracy_aware"];
    EXPECT_TRUE(fs::exists(out)) << c.model;
    EXPECT_TRUE(fs::exists(rep)) << c.model;
    if (r.code == 0) {
      EXPECT_TRUE(a["met"].get<bool>()) << c.model;
      EXPECT_GE(a["final"].get<double>(), a["fp32"].get<double>()) << c.model;
      EXPECT_GT(a["int8_share"].get<double>(), 0.0) << c.model;
    } else {
      EXPECT_FALSE(a["met"].get<bool>()) << c.model;
      EXPECT_NE(r.err.find("the drop stays above the bound"), std::string::npos) << r.err;
    }
    fs::remove_all(dir);
  }
}

TEST(AccuracyAwareCli, RefusesWhatItCannotDecideOn) {
  if (!fs::exists(kModel)) GTEST_SKIP() << kModel << " not present";
  const std::string dir = temp_dir(), out = dir + "/aa.onnx";
  struct Case {
    std::string args, want;
  };
  const std::vector<Case> cases = {
      {"--dataset '" + shared("data/voc2012-seg-3/images") + "'", "accuracy-aware needs an annotated data set"},
      {"--dataset '" + shared("data/indoor-det-85") + "'", "no detect decoder fits its output"},
      {"--dataset '" + kData + "' --calib-range 0:200 --holdout 300", "--holdout 300: leaves none"},
      {"--dataset '" + kData + "' --calib-range 0:200 --holdout 12x", "--holdout 12x: expected"},
      {"--dataset '" + kData + "' --calib-range 0:200 --validate-range 0:0", "--validate-range 0:0: range '0:0' selects no images"},
  };
  for (const Case& c : cases) {
    const CmdResult r =
        calibr8("calibrate '" + kModel + "' " + c.args + " --method accuracy-aware -o '" + out + "'" + kPre);
    EXPECT_NE(r.code, 0) << c.args;
    EXPECT_EQ(count_lines(r.err.substr(r.err.find("error"))), 1) << r.err;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_FALSE(fs::exists(out)) << c.args;
  }
  fs::remove_all(dir);
}

// Detection and segmentation decide on their task's metric (mAP@0.5, mIoU),
// scored like evaluate scores them: the FP32 figure equals evaluate's on the
// same images, and so does the written model's. A loose bound stops at the
// Default model (two evaluations: FP32 and Default).
TEST(AccuracyAwareCli, DetectionAndSegmentationDecideOnTheirMetric) {
  struct Case {
    std::string model, data, pre, calib, range, metric, task;
  };
  const std::vector<Case> cases = {
      {"models/fastestdet_coco_352.onnx", "data/indoor-det-85", " --size 352x352 --mean 0 --std 255 --color bgr", "0:40",
       "40:85", "map50", "detect"},
      {"models/deeplabv3_mnv2_dm05_voc_257.onnx", "data/voc2012-seg-3", " --size 257x257 --mean 127.5 --std 127.5", "0:1",
       "1:3", "miou", "segment"},
  };
  for (const Case& c : cases) {
    const std::string model = shared(c.model), data = shared(c.data);
    if (!fs::exists(model) || !fs::exists(data)) GTEST_SKIP() << model << " or " << data << " not present";
    const std::string dir = temp_dir(), out = dir + "/aa.onnx";
    const CmdResult r = calibr8("calibrate '" + model + "' --dataset '" + data + "' --calib-range " + c.calib + " -o '" +
                                out + "' --method accuracy-aware --max-drop 50 --json" + c.pre);
    ASSERT_EQ(r.code, 0) << r.err;
    const nlohmann::json a = nlohmann::json::parse(r.out)["accuracy_aware"];
    EXPECT_EQ(a["metric"], c.metric);
    EXPECT_EQ(a["task"], c.task);
    EXPECT_TRUE(a["met"].get<bool>());
    EXPECT_EQ(a["evaluations"], 2);
    for (const auto& [file, key] : {std::pair{model, "fp32"}, std::pair{out, "final"}}) {
      const CmdResult e = calibr8("evaluate '" + file + "' --dataset '" + data + "' --range " + c.range + " --json" + c.pre);
      ASSERT_EQ(e.code, 0) << e.err;
      const nlohmann::json ej = nlohmann::json::parse(e.out);
      EXPECT_EQ(ej["metric"], c.metric);
      EXPECT_NEAR(ej[c.metric].get<double>(), a[key].get<double>(), 1e-9) << file;
      EXPECT_GT(ej[c.metric].get<double>(), 0.1) << file << ": too low to tell a wrong decoder from a right one";
    }
    fs::remove_all(dir);
  }
}
