// Bad input gets one clear line naming the file / node / image at fault and
// a non-zero exit; nothing is written next to the user's model.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "ir/onnx_export.h"
#include "ir/onnx_import.h"

using namespace c8test;
namespace fs = std::filesystem;

namespace {
const std::string kResnet8 = shared("models/resnet8_cifar10_mlperftiny.onnx");
const std::string kCifarPre = " --size 32x32 --mean 0 --std 1";

void expect_one_line_error(const CmdResult& r, const std::string& must_contain) {
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(must_contain), std::string::npos) << "stderr: " << r.err;
  EXPECT_EQ(r.err.find("terminate"), std::string::npos) << r.err;
}
}  // namespace

TEST(CliErrors, TruncatedModelNamesTheFile) {
  std::string dir = temp_dir();
  std::string bytes = slurp(kResnet8);
  std::string cut = dir + "/cut.onnx";
  std::ofstream(cut, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() / 3));
  expect_one_line_error(calibr8("info '" + cut + "'"), cut);
  expect_one_line_error(calibr8("info '" + dir + "/missing.onnx'"), "missing.onnx");
  fs::remove_all(dir);
}

TEST(CliErrors, UnsupportedOpsAreAllListed) {
  std::string dir = temp_dir();
  c8::Graph g = c8::load_onnx(kResnet8);
  int renamed = 0;
  for (auto& n : g.nodes)
    if (n.op == "Relu" && renamed < 2) {
      n.op = "FancyRelu";
      n.domain = "com.example";
      ++renamed;
    }
  g.other_opsets["com.example"] = 1;
  c8::save_onnx(g, dir + "/custom.onnx");
  CmdResult r = calibr8("evaluate '" + dir + "/custom.onnx' --dataset '" + shared("data/cifar10-test-2000") + "'" + kCifarPre);
  expect_one_line_error(r, "2 unsupported node(s)");
  EXPECT_NE(r.err.find("FancyRelu"), std::string::npos);
  // info still describes the model and says why it cannot be calibrated.
  CmdResult info = calibr8("info '" + dir + "/custom.onnx' --json");
  EXPECT_EQ(info.code, 0) << info.err;
  auto j = nlohmann::json::parse(info.out);
  EXPECT_EQ(j["calibratable"], false);
  EXPECT_EQ(j["unsupported_nodes"].size(), 2u);
  fs::remove_all(dir);
}

TEST(CliErrors, InputShapeMismatchNamesTheInput) {
  // resnet8 has a fixed 32x32 input; a 28x28 preprocessing cannot feed it.
  expect_one_line_error(calibr8("evaluate '" + kResnet8 + "' --dataset '" + shared("data/cifar10-test-2000") +
                                "' --size 28x28 --limit 4"),
                        "32");
}

TEST(CliErrors, CorruptImageNamesTheImage) {
  std::string dir = temp_dir();
  std::string png = slurp(shared("data/cifar10-test-2000/images/airplane_0000.png"));
  std::ofstream(dir + "/broken.png", std::ios::binary).write(png.data(), 40);
  expect_one_line_error(calibr8("run '" + kResnet8 + "' '" + dir + "/broken.png'" + kCifarPre), "broken.png");
  fs::remove_all(dir);
}

TEST(CliErrors, EmptyDatasetIsAnError) {
  std::string dir = temp_dir();
  fs::create_directories(dir + "/empty");
  expect_one_line_error(calibr8("evaluate '" + kResnet8 + "' --dataset '" + dir + "/empty'" + kCifarPre), "no images");
  fs::remove_all(dir);
}

TEST(CliErrors, NothingIsWrittenNextToTheModel) {
  std::string dir = temp_dir();
  fs::copy_file(kResnet8, dir + "/m.onnx");
  auto before = fs::last_write_time(dir + "/m.onnx");
  CmdResult r = calibr8("evaluate '" + dir + "/m.onnx' --dataset '" + shared("data/cifar10-test-2000") + "' --limit 16" + kCifarPre);
  EXPECT_EQ(r.code, 0) << r.err;
  r = calibr8("bench '" + dir + "/m.onnx' --seconds 0.1");
  EXPECT_EQ(r.code, 0) << r.err;
  size_t files = 0;
  for (auto& e : fs::directory_iterator(dir)) (void)e, ++files;
  EXPECT_EQ(files, 1u);
  EXPECT_EQ(fs::last_write_time(dir + "/m.onnx"), before);
  fs::remove_all(dir);
}

TEST(Cli, EvaluateJsonAndDefaultModel) {
  CmdResult r = calibr8("evaluate '" + kResnet8 + "' --dataset '" + shared("data/cifar10-test-2000") + "' --limit 200 --json" + kCifarPre);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["images"], 200);
  EXPECT_GT(j["top1"].get<double>(), 0.5);
  EXPECT_TRUE(r.err.empty()) << "no progress bar when stderr is not a terminal: " << r.err;
  CmdResult info = calibr8("info default --json");
  ASSERT_EQ(info.code, 0) << info.err;
  auto ij = nlohmann::json::parse(info.out);
  EXPECT_EQ(ij["calibratable"], true);
  EXPECT_EQ(ij["weight_precision"], "FP32");
}

TEST(Cli, BenchJsonReportsLatencyAndMemory) {
  CmdResult r = calibr8("bench '" + kResnet8 + "' --seconds 0.2 --batch 1 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  for (const char* k : {"median_ms", "p90_ms", "throughput_ips", "first_inference_ms", "peak_rss_mb"})
    EXPECT_GT(j[k].get<double>(), 0.0) << k;
  EXPECT_LE(j["median_ms"].get<double>(), j["p90_ms"].get<double>());
}
