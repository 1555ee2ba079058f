// The Winograd F(2x2,3x3) conv kernel against the reference conv: a 1x1 conv
// first (so the 3x3 conv receives the blocked nChw8c layout, as in a real
// network), odd and even sizes, batch > 1, pads 0/1/asymmetric, bias, fused
// Relu / Clip, and channel counts that are not multiples of the GEMM block.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include <dnnl.hpp>

#include "ir/graph.h"
#include "runtime/kernel.h"
#include "runtime/session.h"

namespace c8 {
namespace {

Tensor rnd(std::mt19937& rng, const Shape& s, float a) {
  Tensor t(DType::F32, s);
  std::uniform_real_distribution<float> u(-a, a);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

struct Case {
  int64_t N, C0, C, M, H, W;
  std::vector<int64_t> pads;
  std::string act;  // "", "Relu", "Clip"
};

void run_case(const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  Graph g;
  g.opset = 13;
  int x = g.add_value("x", DType::F32);
  g.values[size_t(x)].shape = {c.N, c.C0, c.H, c.W};
  g.values[size_t(x)].has_shape = true;
  g.inputs = {x};
  int w1 = g.add_constant("w1", rnd(rng, {c.C, c.C0, 1, 1}, 0.5f));
  int h = g.add_value("h", DType::F32);
  int n1 = g.add_node("Conv", {x, w1}, {h}, "pointwise");
  g.nodes[size_t(n1)].set_ints("kernel_shape", {1, 1});
  int w3 = g.add_constant("w3", rnd(rng, {c.M, c.C, 3, 3}, 0.3f));
  int b3 = g.add_constant("b3", rnd(rng, {c.M}, 0.5f));
  int y = g.add_value("y", DType::F32);
  int n3 = g.add_node("Conv", {h, w3, b3}, {y}, "conv3x3");
  g.nodes[size_t(n3)].set_ints("kernel_shape", {3, 3});
  g.nodes[size_t(n3)].set_ints("pads", c.pads);
  int out = y;
  if (!c.act.empty()) {
    out = g.add_value("z", DType::F32);
    std::vector<int> ins{y};
    if (c.act == "Clip") {
      ins.push_back(g.add_constant("lo", Tensor::scalar_f32(0.f)));
      ins.push_back(g.add_constant("hi", Tensor::scalar_f32(1.5f)));
    }
    g.add_node(c.act, ins, {out}, "act");
  }
  g.outputs = {out};

  Tensor in = rnd(rng, {c.N, c.C0, c.H, c.W}, 1.f);
  Session fast(g);
  SessionOptions ro;
  ro.fast = false;
  Session ref(g, ro);
  Tensor a = fast.run({in})[0], b = ref.run({in})[0];
  bool wino = false;
  for (const KernelRecord& k : fast.kernels()) wino |= k.impl.find("winograd") != std::string::npos;
  // The kernel takes 8-channel blocked inputs, what oneDNN picks on AVX2; an
  // AVX-512 machine (nChw16c) runs oneDNN's own kernel instead.
  if (cpu_isa_at_least(dnnl::cpu_isa::avx512_core))
    GTEST_SKIP() << "AVX-512 effective ISA: oneDNN picks nChw16c, which the 8-channel Winograd kernel does not take "
                    "(run with ONEDNN_MAX_CPU_ISA=AVX2 to test it here; scripts/test.sh does)";
  if (!cpu_isa_at_least(dnnl::cpu_isa::avx2)) GTEST_SKIP() << "effective ISA below AVX2";
  EXPECT_TRUE(wino) << "3x3 conv did not take the Winograd path";
  ASSERT_EQ(a.shape, b.shape);
  double max_ref = 0, max_diff = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    max_ref = std::max(max_ref, double(std::fabs(b.data<float>()[i])));
    max_diff = std::max(max_diff, double(std::fabs(a.data<float>()[i] - b.data<float>()[i])));
  }
  EXPECT_LE(max_diff, 1e-5 * std::max(1.0, max_ref) * std::sqrt(double(c.C)))
      << "N" << c.N << " C" << c.C << " M" << c.M << " " << c.H << "x" << c.W << " act " << c.act;
}

TEST(Winograd, MatchesReferenceConv) {
  const std::vector<Case> cases = {
      {1, 3, 16, 16, 8, 8, {1, 1, 1, 1}, ""},
      {2, 5, 24, 40, 7, 9, {1, 1, 1, 1}, "Relu"},    // odd sizes, OC not a multiple of 16
      {1, 4, 32, 8, 5, 6, {0, 0, 0, 0}, "Clip"},     // no padding
      {1, 4, 16, 24, 6, 5, {0, 1, 1, 0}, "Relu"},    // asymmetric pads
      {3, 8, 64, 72, 14, 14, {1, 1, 1, 1}, "Relu"},  // several chunks of tiles
      {1, 8, 128, 16, 3, 3, {1, 1, 1, 1}, ""},       // one tile
  };
  uint32_t seed = 1;
  for (const Case& c : cases) run_case(c, seed++);
}

}  // namespace
}  // namespace c8
