// Every kernel tuning may pick keeps its contract on real calibrated models.
//
// Tuning (runtime/tuning.h) times the candidates that promise a node's
// contract and runs the fastest, so which one runs follows timing noise: on a
// loaded machine any of them can. The kernels' own tests check each on its
// shapes; here every node of the calibrated shared models runs each of its
// candidates in turn (SessionOptions::force_kernel, the rest of the model on
// the fixed rules) on real images, and the node's output must be the same
// bits for every "int8-exact" candidate, and within float rounding for "f32"
// ones. This found oneDNN's AVX2 INT8 convolution offered as a candidate on a
// VNNI CPU for 8-bit weights, where it saturates (qconv.cc). It proves
// something only where several exact kernels exist for a node: on a CPU
// without VNNI (or with ONEDNN_MAX_CPU_ISA=AVX2) the 7-bit weights leave
// fewer candidates, all of them pair-summing ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "cli/cli_util.h"
#include "eval/image.h"
#include "eval/preprocess.h"
#include "ir/onnx_import.h"
#include "runtime/kernels/onednn/common.h"
#include "runtime/session.h"

namespace c8 {
namespace {

namespace fs = std::filesystem;

struct ModelCase {
  std::string model, data, pre, calib_range;
  int w, h;
  float mean, std;
  std::string color = "rgb";
};

constexpr int kImages = 3;

// The last images of the data set (past every calibration range used here).
std::vector<Tensor> images(const ModelCase& c) {
  const std::string data = c8test::shared(c.data);
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(data + "/images")) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  Preprocess p;
  p.width = c.w, p.height = c.h, p.mean = {c.mean}, p.std = {c.std}, p.color = c.color;
  std::vector<Tensor> xs;
  for (size_t i = 0; i < size_t(kImages) && i < files.size(); ++i) {
    Tensor x(DType::F32, {1, 3, c.h, c.w});
    preprocess_into(load_image(files[files.size() - 1 - i]), p, 3, c.h, c.w, x.data<float>());
    xs.push_back(x);
  }
  return xs;
}

// The node's outputs (plain copies) on every image, one after another.
std::vector<Tensor> node_outputs(const Graph& g, const std::string& node, const std::string& forced,
                                 const std::vector<Tensor>& xs, std::string& impl) {
  SessionOptions o;
  o.threads = 2;
  o.force_kernel[node] = forced;
  Session s(g, o);
  s.prepare({xs[0].shape});
  std::map<int, size_t> slot;  // value id -> output index of the node
  for (const Node& n : s.planned_graph().nodes)
    if (n.name == node)
      for (size_t i = 0; i < n.outputs.size(); ++i) {
        slot[n.outputs[i]] = i;
        s.observed.insert(s.planned_graph().values[size_t(n.outputs[i])].name);
      }
  for (const KernelRecord& k : s.kernels())
    if (k.node == node) impl = k.impl + " [" + k.factory + "]";
  std::vector<Tensor> all;
  for (const Tensor& x : xs) {
    std::vector<Tensor> got(slot.size());
    s.observer = [&](int v, const Tensor& t) {
      auto it = slot.find(v);
      if (it != slot.end()) got[it->second] = t.clone();
    };
    s.run({x});
    for (Tensor& t : got) all.push_back(t);
  }
  return all;
}

struct Diff {
  int64_t differ = 0, n = 0;
  double max_abs = 0, max_ref = 0;
};

Diff diff(const Tensor& a, const Tensor& b) {
  Diff d;
  EXPECT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(a.numel(), b.numel());
  if (a.dtype != b.dtype || a.numel() != b.numel()) return d;
  d.n = a.numel();
  const size_t es = dtype_size(a.dtype);
  const uint8_t* pa = static_cast<const uint8_t*>(a.raw());
  const uint8_t* pb = static_cast<const uint8_t*>(b.raw());
  for (int64_t i = 0; i < d.n; ++i) {
    if (std::memcmp(pa + size_t(i) * es, pb + size_t(i) * es, es) == 0) continue;
    ++d.differ;
    if (a.dtype == DType::F32) {
      const float u = a.data<float>()[i], v = b.data<float>()[i];
      d.max_abs = std::max(d.max_abs, double(std::fabs(u - v)));
    } else {
      d.max_abs = 1e30;  // integers: any difference breaks the contract
    }
  }
  if (a.dtype == DType::F32)
    for (int64_t i = 0; i < d.n; ++i) d.max_ref = std::max(d.max_ref, double(std::fabs(a.data<float>()[i])));
  return d;
}

void check_every_candidate(const ModelCase& c) {
  const std::string model = c8test::shared(c.model), data = c8test::shared(c.data);
  if (!fs::exists(model) || !fs::exists(data)) GTEST_SKIP() << model << " or " << data << " not present";
  const std::string dir = c8test::temp_dir(), out = dir + "/int8.onnx";
  setenv("XDG_CACHE_HOME", dir.c_str(), 1);  // a fresh tuning cache: every candidate timed
  const c8test::CmdResult r = c8test::calibr8("calibrate '" + model + "' --dataset '" + data + "' --calib-range " +
                                              c.calib_range + " -o '" + out + "'" + c.pre);
  ASSERT_EQ(r.code, 0) << r.err;
  const Graph g = load_onnx(out);
  const std::vector<Tensor> xs = images(c);
  ASSERT_EQ(xs.size(), size_t(kImages));
  // A full tuning lists each node's candidates: those of its contract.
  SessionOptions full_o;
  full_o.threads = 2;
  full_o.tune = Tune::Full;
  Session full(g, full_o);
  full.prepare({xs[0].shape});
  int nodes = 0, tried = 0;
  for (const KernelRecord& rec : full.kernels()) {
    if (rec.tuned_ms.size() < 2) continue;
    ++nodes;
    std::string first_impl;
    std::vector<Tensor> first;
    for (const auto& [name, ms] : rec.tuned_ms) {
      std::string impl;
      const std::vector<Tensor> got = node_outputs(g, rec.node, name, xs, impl);
      ++tried;
      EXPECT_NE(impl.find("[" + name + "]"), std::string::npos) << rec.node << ": " << name << " did not run: " << impl;
      if (first.empty()) {
        first = got, first_impl = impl;
        continue;
      }
      ASSERT_EQ(got.size(), first.size()) << rec.node;
      for (size_t i = 0; i < got.size(); ++i) {
        const Diff d = diff(first[i], got[i]);
        // int8-exact candidates write integers (or the FP32 result of the same
        // integer sums and scales): the same bits. An "f32" pair (direct vs
        // Winograd) differs in rounding only: far under 0.1 % of the range.
        const bool exact = first[i].dtype != DType::F32 || rec.op == "QConv" || rec.op == "QGemm" || rec.op == "MaxPool";
        if (exact)
          EXPECT_EQ(d.differ, 0) << c.model << " " << rec.node << " output " << i % (got.size() / kImages) << ": "
                                 << impl << " vs " << first_impl << ": " << d.differ << " of " << d.n << " differ";
        else
          EXPECT_LE(d.max_abs, 1e-3 * d.max_ref) << c.model << " " << rec.node << ": " << impl << " vs " << first_impl;
      }
    }
  }
  std::printf("%s: %d nodes with several candidates, %d candidates run\n", c.model.c_str(), nodes, tried);
  fs::remove_all(dir);
}

// The names oneDNN 2.6 gives its INT8 convolutions: those named for VNNI /
// AMX sum u8*s8 products in 32 bits, those named for a plain ISA pair them in
// 16 bits (and are offered on VNNI CPUs too); an unnamed ISA is the CPU's.
TEST(TuningCandidates, OneDnnNamesSayWhichSumExactly) {
  for (const char* exact : {"brgconv:avx512_core_vnni", "brgconv_1x1:avx512_core_vnni", "brdgmm_dw:avx512_core_vnni",
                            "jit_int8:avx512_core_vnni", "jit_uni_int8:avx2_vnni", "brgconv:avx512_core_amx_int8"})
    EXPECT_TRUE(dnnlk::impl_sums_u8s8_exactly(exact)) << exact;
  for (const char* pairs : {"jit_uni_int8:avx2", "jit_int8:avx512_core", "jit_int8_1x1:avx512_core", "jit_uni_int8:sse41",
                            "brgconv:avx512_core", "jit_uni_int8_1x1:avx2"})
    EXPECT_FALSE(dnnlk::impl_sums_u8s8_exactly(pairs)) << pairs;
  EXPECT_EQ(dnnlk::impl_sums_u8s8_exactly("x64:gemm_s8u8s32:jit"), cpu_has_vnni());
}

TEST(TuningCandidates, MobilenetV1) {
  check_every_candidate({"models/mobilenet_v1_0.25_224.onnx", "data/imagenet-sample-500",
                         " --size 224x224 --mean 127.5 --std 127.5 --label-offset 1", "0:200", 224, 224, 127.5f, 127.5f});
}

TEST(TuningCandidates, Resnet8) {
  check_every_candidate({"models/resnet8_cifar10_mlperftiny.onnx", "data/cifar10-test-2000",
                         " --size 32x32 --mean 0 --std 1", "0:300", 32, 32, 0.f, 1.f});
}

TEST(TuningCandidates, FastestDet) {
  check_every_candidate({"models/fastestdet_coco_352.onnx", "data/indoor-det-85",
                         " --size 352x352 --mean 0 --std 255 --color bgr", "0:40", 352, 352, 0.f, 255.f, "bgr"});
}

TEST(TuningCandidates, DeeplabV3) {
  check_every_candidate({"models/deeplabv3_mnv2_dm05_voc_257.onnx", "data/voc2012-seg-3",
                         " --size 257x257 --mean 127.5 --std 127.5", "0:1", 257, 257, 127.5f, 127.5f});
}

}  // namespace
}  // namespace c8
