// The fast runtime (oneDNN, fused, blocked layouts) against the reference
// executor (naive kernels on the unoptimised graph) on the shared real models.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "ir/onnx_import.h"
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
