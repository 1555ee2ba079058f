// The fast runtime (oneDNN, fused, blocked layouts) against the reference
// executor (naive kernels on the unoptimised graph) on the shared real models.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <algorithm>
#include <map>
#include <random>

#include "ir/onnx_import.h"
#include "runtime/profile.h"
#include "runtime/ref_executor.h"
#include "runtime/session.h"

using namespace c8;

namespace {

std::string shared(const std::string& rel) { return std::string(C8_SHARED_DIR) + "/" + rel; }

Tensor random_like(const Shape& s, uint32_t seed, float lo, float hi) {
  Tensor t(DType::F32, s);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

struct Case {
  const char* file;
  Shape shape;
  float lo, hi;
};

void check_model(const Case& c, int batch) {
  Graph g = load_onnx(shared(c.file));
  Shape s = c.shape;
  s[0] = batch;
  Tensor x = random_like(s, 7, c.lo, c.hi);
  // The reference executor needs the batch dim to match the model if fixed.
  std::vector<Tensor> ref = RefExecutor(g).run({x});
  Session fast(g);
  std::vector<Tensor> out = fast.run({x});
  ASSERT_EQ(ref.size(), out.size());
  for (size_t k = 0; k < out.size(); ++k) {
    ASSERT_EQ(ref[k].shape, out[k].shape) << c.file;
    double max_ref = 0, max_diff = 0;
    for (int64_t i = 0; i < out[k].numel(); ++i) {
      max_ref = std::max(max_ref, std::fabs(double(ref[k].data<float>()[i])));
      max_diff = std::max(max_diff, std::fabs(double(ref[k].data<float>()[i] - out[k].data<float>()[i])));
    }
    // FP32 with different summation orders: relative to the output's scale.
    EXPECT_LE(max_diff, 1e-4 * std::max(1.0, max_ref)) << c.file << " output " << k;
  }
  // Every conv runs on an optimised oneDNN kernel, never oneDNN's reference one.
  for (const KernelRecord& r : fast.kernels())
    if (r.op == "Conv") { EXPECT_EQ(r.impl.find("ref"), std::string::npos) << r.node << " " << r.impl; }
}

}  // namespace

TEST(Session, MobileNetV1MatchesReference) { check_model({"models/mobilenet_v1_0.25_224.onnx", {1, 3, 224, 224}, -1, 1}, 1); }
TEST(Session, ResNet8MatchesReference) { check_model({"models/resnet8_cifar10_mlperftiny.onnx", {1, 3, 32, 32}, 0, 255}, 1); }
TEST(Session, FastestDetMatchesReference) { check_model({"models/fastestdet_coco_352.onnx", {1, 3, 352, 352}, 0, 1}, 1); }
TEST(Session, DeepLabMatchesReference) { check_model({"models/deeplabv3_mnv2_dm05_voc_257.onnx", {1, 3, 257, 257}, -1, 1}, 1); }

TEST(Session, PlansAreCachedPerShapeAndFusionsHappen) {
  Graph g = load_onnx(shared("models/resnet8_cifar10_mlperftiny.onnx"));
  Session s(g);
  auto h = s.graph().op_histogram();
  EXPECT_EQ(h.count("Relu"), 0u) << "every Relu follows a Conv or a residual Add and must be fused";
  EXPECT_EQ(h.count("Add"), 0u) << "residual Adds must become sum post-ops";
  Tensor x = random_like({1, 3, 32, 32}, 1, 0, 255);
  auto a = s.run({x});
  auto b = s.run({x});
  EXPECT_EQ(std::memcmp(a[0].raw(), b[0].raw(), a[0].nbytes()), 0) << "same input, same output bits";
}

TEST(Session, RejectsWrongInputShapeWithInputName) {
  Graph g = load_onnx(shared("models/resnet8_cifar10_mlperftiny.onnx"));
  Session s(g);
  Tensor x = random_like({1, 3, 30, 32}, 1, 0, 1);
  try {
    s.run({x});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input"), std::string::npos) << e.what();
  }
}

// Observers: a plain copy per observed value (all sharing one scratch buffer,
// so it must be consumed in the callback), or with ObservedLayout::AnyOrder the value in
// its own blocked layout. Per sample, both hold the same values; raw must be
// used on some blocked values (else it saves nothing) and copies nothing.
TEST(Session, RawObservationHoldsEachSamplesValues) {
  // x [2, 8, 12, 12] -> Conv 3x3 (32) -> Relu -> Conv 1x1 (24): oneDNN keeps
  // the activations blocked or channels-last on every x86 ISA.
  Graph g;
  g.opset = 13;
  int x_id = g.add_value("x", DType::F32);
  g.values[size_t(x_id)].shape = {2, 8, 12, 12};
  g.values[size_t(x_id)].has_shape = true;
  g.inputs = {x_id};
  auto conv = [&](int in, int64_t cin, int64_t cout, int64_t k, const std::string& n) {
    Tensor w = random_like({cout, cin, k, k}, uint32_t(cout), -0.2f, 0.2f);
    int y = g.add_value(n + "_y", DType::F32);
    int c = g.add_node("Conv", {in, g.add_constant(n + "_w", w)}, {y}, n);
    g.nodes[size_t(c)].set_ints("kernel_shape", {k, k});
    g.nodes[size_t(c)].set_ints("pads", {k / 2, k / 2, k / 2, k / 2});
    return y;
  };
  int r = g.add_value("r", DType::F32);
  g.add_node("Relu", {conv(x_id, 8, 32, 3, "c1")}, {r}, "relu");
  g.outputs = {conv(r, 32, 24, 1, "c2")};
  ASSERT_EQ(g.verify(), "");
  Tensor x = random_like({2, 8, 12, 12}, 5, -1, 1);
  auto collect = [&](bool raw, std::map<int, std::vector<std::vector<float>>>& out) {
    Session s(g);
    if (raw) s.observed_layout = Session::ObservedLayout::AnyOrder;
    s.observer = [&](int v, const Tensor& t) {
      if (t.dtype != DType::F32 || t.rank() < 2 || t.shape[0] != 2) return;
      const int64_t per = t.numel() / 2;
      auto& samples = out[v];
      for (int64_t n = 0; n < 2; ++n) {
        std::vector<float> vals(t.data<float>() + n * per, t.data<float>() + (n + 1) * per);
        std::sort(vals.begin(), vals.end());
        samples.push_back(std::move(vals));
      }
    };
    s.run({x});
  };
  std::map<int, std::vector<std::vector<float>>> plain, raw;
  collect(false, plain);
  collect(true, raw);
  ASSERT_FALSE(plain.empty());
  ASSERT_EQ(plain.size(), raw.size());
  size_t reordered = 0;
  for (auto& [v, samples] : plain) {
    ASSERT_TRUE(raw.count(v));
    EXPECT_EQ(raw[v], samples) << "value " << v;
  }
  // Positional comparison: raw differs from plain somewhere (blocked values
  // were handed over unpermuted), else AnyOrder did nothing.
  Session a(g), b(g);
  b.observed_layout = Session::ObservedLayout::AnyOrder;
  std::map<int, std::vector<float>> pa, pb;
  a.observer = [&](int v, const Tensor& t) { pa[v].assign(t.data<float>(), t.data<float>() + t.numel()); };
  b.observer = [&](int v, const Tensor& t) { pb[v].assign(t.data<float>(), t.data<float>() + t.numel()); };
  a.run({x});
  b.run({x});
  for (auto& [v, vals] : pa) reordered += pb[v] != vals;
  EXPECT_GT(reordered, 0u);
}

// bench --profile: a kernel's time spent converting its input to the layout
// it wants is measured separately (Profile::nodes[].reorder_ms), inside the
// node's total, and only for kernels that convert.
TEST(Session, ProfileTimesLayoutConversionsInsideKernels) {
  // x [1, 32, 28, 28] plain NCHW -> Conv 3x3 (32): oneDNN wants channels-last
  // or blocked for 32 channels, so the first conv converts its input.
  Graph g;
  g.opset = 13;
  int x_id = g.add_value("x", DType::F32);
  g.values[size_t(x_id)].shape = {1, 32, 28, 28};
  g.values[size_t(x_id)].has_shape = true;
  g.inputs = {x_id};
  int y = g.add_value("y", DType::F32);
  int c = g.add_node("Conv", {x_id, g.add_constant("w", random_like({32, 32, 3, 3}, 3, -0.2f, 0.2f))}, {y}, "c1");
  g.nodes[size_t(c)].set_ints("kernel_shape", {3, 3});
  g.nodes[size_t(c)].set_ints("pads", {1, 1, 1, 1});
  g.outputs = {y};
  SessionOptions o;
  o.profile = true;
  Session s(g, o);
  Tensor x = random_like({1, 32, 28, 28}, 4, -1, 1);
  for (int i = 0; i < 3; ++i) s.run({x});
  const Profile p = s.profile();
  int converting = 0;
  for (const NodeProfile& n : p.nodes) {
    const bool converts = n.impl.find("+reorder") != std::string::npos;
    converting += converts;
    if (converts) {
      EXPECT_GT(n.reorder_ms, 0.0) << n.node << " " << n.impl;
      EXPECT_LT(n.reorder_ms, n.total_ms) << n.node;
    } else {
      EXPECT_EQ(n.reorder_ms, 0.0) << n.node << " " << n.impl;
    }
  }
  EXPECT_GE(converting, 1) << "no kernel converted its input: the test measured nothing";
  EXPECT_NE(format_profile(p).find("layout conversion (timed)"), std::string::npos);
  s.reset_profile();
  for (const NodeProfile& n : s.profile().nodes) EXPECT_EQ(n.reorder_ms, 0.0);
}
