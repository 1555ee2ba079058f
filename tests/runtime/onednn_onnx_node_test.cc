// ONNX's node conformance cases for the ops with oneDNN fast kernels, run
// through the fast Session (no graph optimisation): every case where a
// `dnnl:` kernel ran must match ONNX's expected outputs (same tolerance as
// the reference conformance test). Prints which cases ran on oneDNN.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "ir/onnx_import.h"
#include "runtime/ref_executor.h"
#include "runtime/session.h"

using namespace c8;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> files(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<int, std::string>> v;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    std::string f = e.path().filename().string();
    if (f.rfind(prefix, 0) == 0 && f.size() > 3 && f.substr(f.size() - 3) == ".pb")
      v.push_back({std::atoi(f.c_str() + prefix.size()), e.path().string()});
  }
  std::sort(v.begin(), v.end());
  std::vector<std::string> r;
  for (auto& p : v) r.push_back(p.second);
  return r;
}

TEST(DnnlOnnxNode, FastKernelsMatchOnnxExpected) {
  const char* e = std::getenv("C8_ONNX_NODE_DATA");
  fs::path root = e && *e ? e : "/usr/share/libonnx-testdata/data/node";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) GTEST_SKIP() << "no ONNX node test data";
  const std::set<std::string> ops = {"Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool",
                                     "GlobalMaxPool", "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "Elu",
                                     "HardSigmoid", "HardSwish", "Exp", "Log", "Sqrt", "Abs", "Neg", "Softplus",
                                     "Round", "Mish", "Gelu", "Add", "Sub", "Mul", "Div", "Max", "Min", "Concat",
                                     "Softmax", "LogSoftmax", "LRN", "Resize", "BatchNormalization"};
  std::vector<fs::path> dirs;
  for (auto& d : fs::directory_iterator(root, ec))
    if (d.is_directory() && fs::exists(d.path() / "model.onnx")) dirs.push_back(d.path());
  std::sort(dirs.begin(), dirs.end());
  int on_dnnl = 0, passed = 0;
  std::string ran;
  for (auto& dir : dirs) {
    Graph g;
    try {
      g = load_onnx((dir / "model.onnx").string());
    } catch (const std::exception&) {
      continue;
    }
    if (g.nodes.size() != 1 || !ops.count(g.nodes[0].op) || !unsupported_nodes(g).empty()) continue;
    std::string name = dir.filename().string();
    for (auto& set : fs::directory_iterator(dir, ec)) {
      if (!set.is_directory() || set.path().filename().string().rfind("test_data_set_", 0) != 0) continue;
      std::vector<Tensor> in, want;
      try {
        for (auto& f : files(set.path(), "input_")) in.push_back(load_tensor_pb(f));
        for (auto& f : files(set.path(), "output_")) want.push_back(load_tensor_pb(f));
      } catch (const std::exception&) {
        continue;
      }
      SessionOptions o;
      o.optimize = false;
      std::vector<Tensor> got;
      std::string impl;
      try {
        Session s(g, o);
        got = s.run(in);
        for (auto& k : s.kernels()) impl += k.impl + " ";
      } catch (const std::exception& ex) {
        continue;  // planner / reference problems are not this test's subject
      }
      if (impl.find("dnnl:") == std::string::npos) continue;
      ++on_dnnl;
      bool ok = got.size() >= want.size();
      std::string why;
      for (size_t i = 0; ok && i < want.size(); ++i) {
        if (got[i].shape != want[i].shape || got[i].dtype != want[i].dtype) {
          ok = false;
          why = "shape/dtype";
          break;
        }
        auto a = got[i].to_f32_vector(), b = want[i].to_f32_vector();
        for (size_t j = 0; j < a.size(); ++j) {
          if (std::isnan(b[j]) ? !std::isnan(a[j]) : !(std::fabs(a[j] - b[j]) <= 1e-4 + 1e-3 * std::fabs(b[j]))) {
            ok = false;
            why = "element " + std::to_string(j) + " got " + std::to_string(a[j]) + " want " + std::to_string(b[j]);
            break;
          }
        }
      }
      EXPECT_TRUE(ok) << name << " (" << impl << "): " << why;
      passed += ok;
      ran += " " + name;
    }
  }
  std::printf("[ onnx-node ] %d data sets ran on oneDNN kernels, %d matched:%s\n", on_dnnl, passed, ran.c_str());
  // A floor, so that a change that sends every case to the reference kernels
  // (or finds no data) cannot pass.
  EXPECT_GE(on_dnnl, 100);  // 119 when written
}

}  // namespace
