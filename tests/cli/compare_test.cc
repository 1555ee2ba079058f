// calibr8 compare end to end: the same FP32 model twice, FP32 vs a QDQ version
// built here, reports (JSON, HTML), error handling, and `info` on a QDQ model.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "../eval/eval_test_util.h"
#include "../report/qdq_test_util.h"
#include "eval/datasets/dataset.h"
#include "eval/evaluator.h"
#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "report/compare.h"
#include "report/report.h"

namespace {

using namespace c8;

const std::string kModel = std::string(C8_SHARED_DIR) + "/models/resnet8_cifar10_mlperftiny.onnx";
const std::string kData = std::string(C8_SHARED_DIR) + "/data/cifar10-test-2000";

Preprocess cifar_pre() {
  Preprocess p;
  p.width = p.height = 32;
  p.mean = {0};
  p.std = {1};
  return p;
}

CompareConfig config(const std::string& a, const std::string& b) {
  CompareConfig c;
  c.path_a = a;
  c.path_b = b;
  c.dataset = kData;
  c.pre = cifar_pre();
  c.input = ImageInput{3, 32, 32, false};
  c.fixed_batch = 1;
  c.limit = 50;
  c.seconds = 0.3;
  c.warmup = 1;
  c.layer_images = 4;
  return c;
}

// The QDQ model, calibrated on 4 images from the end of the set (not the test images).
struct Fixture {
  Graph fp32, qdq;
  c8test::TempDir dir;
  std::string qdq_path;
  Fixture() {
    fp32 = load_onnx(kModel);
    auto ds = open_dataset(kData);
    std::vector<Tensor> calib;
    for (size_t i = 0; i < 4; ++i) {
      std::vector<size_t> idx{ds->size() - 1 - i * 97};
      calib.push_back(make_batch(*ds, idx, 0, 1, cifar_pre(), ImageInput{3, 32, 32, false}));
    }
    qdq = c8test::make_qdq_model(fp32, calib);
    qdq_path = dir.sub("resnet8_qdq.onnx");
    save_onnx(qdq, qdq_path);
    if (const char* keep = std::getenv("C8_KEEP_QDQ")) save_onnx(qdq, keep);  // for manual inspection
  }
};
Fixture& fx() {
  static Fixture f;
  return f;
}

struct RunResult {
  int rc = -1;
  std::string out, err;
};
RunResult run_cli(const std::string& args) {
  c8test::TempDir t;
  std::string cmd = "OMP_NUM_THREADS=1 '" + std::string(C8_BINARY) + "' " + args + " 2>'" + t.sub("err") + "'";
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.err = c8test::read_file(t.sub("err"));
  return r;
}

std::string common_flags() { return "--dataset '" + kData + "' --size 32x32 --mean 0 --std 1 --limit 50"; }

TEST(CompareTest, SameModelTwiceIsIdentical) {
  Graph g = load_onnx(kModel);
  CompareResult r = compare_models(g, g, config(kModel, kModel));
  EXPECT_EQ(r.images, 50u);
  EXPECT_EQ(r.agree, 50u);
  EXPECT_DOUBLE_EQ(r.agreement, 1.0);
  EXPECT_DOUBLE_EQ(r.a.top1, r.b.top1);
  EXPECT_GT(r.a.top1, 0.3);
  EXPECT_GT(r.a.latency.median_ms, 0);
  EXPECT_GT(r.b.latency.median_ms, 0);
  EXPECT_GT(r.speedup, 0);
  EXPECT_GT(r.rounds, 1);
  EXPECT_EQ(r.a.file_bytes, std::filesystem::file_size(kModel));
  ASSERT_GE(r.layers.size(), 10u);  // 9 Conv + Gemm (+ the softmax output)
  for (const LayerRow& l : r.layers) {
    SCOPED_TRACE(l.name);
    EXPECT_TRUE(l.matched) << l.note;
    EXPECT_EQ(l.images, 4);
    EXPECT_DOUBLE_EQ(l.cosine, 1.0);
    EXPECT_DOUBLE_EQ(l.nmse, 0.0);
    EXPECT_EQ(l.precision, "FP32");
    EXPECT_FALSE(l.impl.empty());
  }
  ASSERT_TRUE(r.has_fast_output);
  EXPECT_DOUBLE_EQ(r.fast_output_cosine, 1.0);
  EXPECT_DOUBLE_EQ(r.fast_output_nmse, 0.0);
}

TEST(CompareTest, Fp32VsQdq) {
  Fixture& f = fx();
  CompareResult r = compare_models(f.fp32, f.qdq, config(kModel, f.qdq_path));
  EXPECT_GT(r.agreement, 0.8);
  EXPECT_LT(std::fabs(r.a.top1 - r.b.top1), 0.1);
  int convs = 0;
  for (const LayerRow& l : r.layers) {
    SCOPED_TRACE(l.name);
    EXPECT_TRUE(l.matched) << l.note;
    EXPECT_GT(l.cosine, 0.95);
    EXPECT_LE(l.cosine, 1.0);
    if (l.op == "Conv") {
      ++convs;
      EXPECT_LT(l.cosine, 1.0);
      EXPECT_GT(l.nmse, 0.0);
      EXPECT_LT(l.nmse, 0.1);
      EXPECT_EQ(l.precision, "U8");
      EXPECT_EQ(l.weights, "I8 per-channel");
    } else if (l.op == "Gemm") {
      EXPECT_EQ(l.precision, "FP32");
    }
  }
  EXPECT_EQ(convs, 9);
  ASSERT_TRUE(r.has_fast_output);
  EXPECT_GT(r.fast_output_cosine, 0.95);
  // Report renderers on a real result.
  nlohmann::json j = report_json(r);
  EXPECT_EQ(j["layers"]["rows"].size(), r.layers.size());
  std::string text = report_text(j);
  EXPECT_NE(text.find("agreement"), std::string::npos);
  EXPECT_NE(text.find("U8"), std::string::npos);
  std::string html = report_html(j);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<svg"), std::string::npos);
}

TEST(CompareTest, CliReportsJsonAndHtml) {
  Fixture& f = fx();
  c8test::TempDir t;
  t.write("calib.json", R"({"model": "x.onnx", "settings": {"method": "minmax", "per_channel": true, "images": 4},
                            "timings": {"collect_s": 1.5, "total_s": 2.0}, "layers": [{"name": "conv2d", "scale": 0.1}]})");
  RunResult r = run_cli("compare '" + kModel + "' '" + f.qdq_path + "' " + common_flags() +
                        " --seconds 0.3 --layer-images 2 --json --report '" + t.sub("r.json") + "' --html '" +
                        t.sub("r.html") + "' --calib-report '" + t.sub("calib.json") + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);  // stdout is one JSON object
  EXPECT_EQ(j["b"]["path"], f.qdq_path);
  EXPECT_EQ(j["dataset"]["images"], 50);
  EXPECT_GT(j["accuracy"]["agreement"].get<double>(), 0.8);
  EXPECT_GT(j["speed"]["speedup"].get<double>(), 0);
  EXPECT_EQ(j["calibration"]["settings"]["method"], "minmax");
  bool saw_u8 = false;
  for (auto& row : j["layers"]["rows"]) saw_u8 |= row["precision"] == "U8";
  EXPECT_TRUE(saw_u8);
  nlohmann::json file = nlohmann::json::parse(c8test::read_file(t.sub("r.json")));
  EXPECT_EQ(file["layers"]["rows"].size(), j["layers"]["rows"].size());
  std::string html = c8test::read_file(t.sub("r.html"));
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<table class=\"sortable layers\">"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  EXPECT_NE(html.find("minmax"), std::string::npos);  // calibration settings
  EXPECT_NE(html.find("collect_s"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // no external resources
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  // Text mode: side by side, per-layer table.
  RunResult txt = run_cli("compare '" + kModel + "' '" + kModel + "' " + common_flags() + " --range 10: --seconds 0.2 --layer-images 1");
  ASSERT_EQ(txt.rc, 0) << txt.err;
  EXPECT_NE(txt.out.find("100.00 % (40/40 images"), std::string::npos) << txt.out;
  EXPECT_NE(txt.out.find("speedup"), std::string::npos);
  EXPECT_NE(txt.out.find("conv2d_8"), std::string::npos);
}

TEST(CompareTest, BadSecondModelIsOneErrorLineAndNoReport) {
  c8test::TempDir t;
  std::string bad = t.sub("missing_model.onnx");
  RunResult r = run_cli("compare '" + kModel + "' '" + bad + "' " + common_flags() + " --report '" + t.sub("r.json") +
                        "' --html '" + t.sub("r.html") + "'");
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;  // exactly one line
  EXPECT_NE(r.err.find(bad), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::is_empty(t.path));  // no report, no temp files
  // A corrupt file too.
  t.write("junk.onnx", "this is not a protobuf");
  r = run_cli("compare '" + kModel + "' '" + t.sub("junk.onnx") + "' " + common_flags() + " --report '" +
              t.sub("r.json") + "'");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find(t.sub("junk.onnx")), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_FALSE(std::filesystem::exists(t.sub("r.json")));
}

TEST(CompareTest, InfoShowsLayerPrecision) {
  Fixture& f = fx();
  RunResult r = run_cli("info '" + f.qdq_path + "' --json");
  ASSERT_EQ(r.rc, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["layers"].size(), 10u);  // 9 Conv + 1 Gemm
  int u8 = 0;
  for (auto& l : j["layers"]) {
    if (l["op"] == "Conv") {
      EXPECT_EQ(l["precision"], "U8");
      EXPECT_EQ(l["weights"], "I8");
      EXPECT_EQ(l["weight_quant"], "per-channel");
      EXPECT_EQ(l["weight_axis"], 0);
      ++u8;
    } else {
      EXPECT_EQ(l["precision"], "FP32");
      EXPECT_EQ(l["weights"], "FP32");
    }
  }
  EXPECT_EQ(u8, 9);
  RunResult t = run_cli("info '" + f.qdq_path + "'");
  ASSERT_EQ(t.rc, 0) << t.err;
  EXPECT_NE(t.out.find("I8 per-channel (axis 0)"), std::string::npos) << t.out;
  RunResult fp = run_cli("info '" + kModel + "' --json");
  ASSERT_EQ(fp.rc, 0) << fp.err;
  const nlohmann::json info = nlohmann::json::parse(fp.out);  // (a range-for over a temporary's member dangles)
  for (auto& l : info["layers"]) EXPECT_EQ(l["precision"], "FP32");
}

}  // namespace

// The embedded default model has a size too (it is not a file): the report
// must give it, and the B/A ratio, rather than "-" and a ratio against 1 byte.
TEST(CompareTest, DefaultModelReportsItsSize) {
  std::string cmd = std::string(C8_BINARY) + " compare default default --limit 16 --no-speed --no-layers --json 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  ASSERT_TRUE(p);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p.get())) out.append(buf, n);
  auto j = nlohmann::json::parse(out);
  EXPECT_GT(j["a"]["file_bytes"].get<double>(), 100000.0);
  EXPECT_EQ(j["a"]["file_bytes"], j["b"]["file_bytes"]);
}
