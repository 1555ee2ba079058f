// calibrate --validate (the Default method's validation, as DL Workbench's
// calibration ends with both models' accuracy): the task's metric of FP32 and
// INT8 on the images outside --calib-range, equal to what evaluate measures
// on the parent and on the written file; a data set that cannot score the
// model is refused in one line before anything is written.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"

using namespace c8test;
namespace fs = std::filesystem;

TEST(CalibrateValidate, ReportsWhatEvaluateMeasures) {
  struct Case {
    std::string model, data, pre, calib, range, metric;
  };
  const std::vector<Case> cases = {
      {"models/mobilenet_v1_0.25_224.onnx", "data/imagenet-sample-500",
       " --size 224x224 --mean 127.5 --std 127.5 --label-offset 1", "0:200", "200:500", "top1"},
      {"models/fastestdet_coco_352.onnx", "data/indoor-det-85", " --size 352x352 --mean 0 --std 255 --color bgr", "0:40",
       "40:85", "map50"},
  };
  for (const Case& c : cases) {
    const std::string model = shared(c.model), data = shared(c.data);
    if (!fs::exists(model) || !fs::exists(data)) GTEST_SKIP() << model << " or " << data << " not present";
    const std::string dir = temp_dir(), out = dir + "/int8.onnx", rep = dir + "/r.json";
    const CmdResult r = calibr8("calibrate '" + model + "' --dataset '" + data + "' --calib-range " + c.calib +
                                " --validate --json -o '" + out + "' --report '" + rep + "'" + c.pre);
    ASSERT_EQ(r.code, 0) << r.err;
    const nlohmann::json v = nlohmann::json::parse(r.out)["validation"];
    ASSERT_TRUE(v.is_object()) << r.out;
    EXPECT_EQ(v["metric"], c.metric);
    EXPECT_NEAR(v["drop"].get<double>(), v["fp32"].get<double>() - v["int8"].get<double>(), 1e-12);
    EXPECT_EQ(nlohmann::json::parse(slurp(rep))["validation"], v);
    for (const auto& [file, key] : {std::pair{model, "fp32"}, std::pair{out, "int8"}}) {
      const CmdResult e = calibr8("evaluate '" + file + "' --dataset '" + data + "' --range " + c.range + " --json" + c.pre);
      ASSERT_EQ(e.code, 0) << e.err;
      const nlohmann::json ej = nlohmann::json::parse(e.out);
      EXPECT_EQ(ej["images"], v["images"]);
      EXPECT_NEAR(ej[c.metric].get<double>(), v[key].get<double>(), 1e-9) << file;
    }
    fs::remove_all(dir);
  }
}

TEST(CalibrateValidate, RefusesWhatCannotBeScored) {
  const std::string model = shared("models/mobilenet_v1_0.25_224.onnx");
  if (!fs::exists(model)) GTEST_SKIP() << model << " not present";
  const std::string dir = temp_dir(), out = dir + "/int8.onnx";
  const std::string pre = " --size 224x224 --mean 127.5 --std 127.5 --label-offset 1";
  struct Case {
    std::string args, want;
  };
  const std::vector<Case> cases = {
      {"--dataset '" + shared("data/voc2012-seg-3/images") + "' --calib-range 0:2", "--validate needs an annotated"},
      {"--dataset '" + shared("data/indoor-det-85") + "' --calib-range 0:40", "no detect decoder fits"},
      {"--dataset '" + shared("data/imagenet-sample-500") + "' --calib-range 0:200 --validate-range 9:3",
       "--validate-range 9:3"},
      {"--dataset '" + shared("data/imagenet-sample-500") + "' --calib-range 0:200 --task segment --adapter "
       "segmentation_logits", "does not fit --adapter segmentation_logits"},
  };
  for (const Case& c : cases) {
    const CmdResult r = calibr8("calibrate '" + model + "' " + c.args + " --validate -o '" + out + "'" + pre);
    EXPECT_NE(r.code, 0) << c.args;
    ASSERT_NE(r.err.find("error"), std::string::npos) << r.err;
    EXPECT_EQ(count_lines(r.err.substr(r.err.find("error"))), 1) << r.err;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_FALSE(fs::exists(out)) << c.args;
  }
  fs::remove_all(dir);
}

// Activation equalization (quant/equalize.h) on the shared mobilenet_v1_0.25,
// whose first depthwise layers read channels of very different ranges: the
// INT8 output is closer to FP32 on held-out images than without (both
// without the output fidelity guard, which would give layers back to FP32).
TEST(CalibrateEqualize, MobilenetOutputCloserToFp32OnHeldOutImages) {
  const std::string model = shared("models/mobilenet_v1_0.25_224.onnx"), data = shared("data/imagenet-sample-500");
  if (!fs::exists(model) || !fs::exists(data)) GTEST_SKIP() << model << " or " << data << " not present";
  const std::string pre = " --size 224x224 --mean 127.5 --std 127.5 --label-offset 1";
  const std::string dir = temp_dir();
  double cosine[2] = {0, 0};
  for (int off = 0; off < 2; ++off) {
    const std::string out = dir + (off ? "/plain.onnx" : "/eq.onnx");
    const CmdResult r = calibr8("calibrate '" + model + "' --dataset '" + data + "' --calib-range 0:100 --json -o '" +
                                out + "'" + pre + (off ? "" : " --equalize") + " --min-cosine 0");
    ASSERT_EQ(r.code, 0) << r.err;
    const CmdResult c = calibr8("compare '" + model + "' '" + out + "' --dataset '" + data + "' --range 200:300 --json" + pre);
    ASSERT_EQ(c.code, 0) << c.err;
    cosine[off] = nlohmann::json::parse(c.out)["agreement"]["outputs"][0]["cosine"].get<double>();
  }
  EXPECT_GT(cosine[0], cosine[1] + 0.002) << "equalized " << cosine[0] << ", plain " << cosine[1];
  fs::remove_all(dir);
}
