// MaxPool on NHWC 8-bit tensors (qpool.cc, c8:maxpool_nhwc_avx2) must equal
// oneDNN's pooling (C8_QMAXPOOL=0) byte for byte: a QDQ chain 1x1 conv ->
// MaxPool, so the pool reads the conv's NHWC u8/s8 output; 3x3/2 with pads
// (resnet's), 3x3/1 pad 1 (googlenet's branches), 2x2/2, ceil_mode, channel
// counts with a tail below 32, batch 2. The AVX-512 kernel
// (x86/avx512/maxpool.cc, c8:maxpool_avx512) must equal it too, on its
// sliding width-3 paths and its clipped / generic windows.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include <dnnl.hpp>

#include "ir/graph.h"
#include "runtime/kernel.h"
#include "runtime/session.h"
#include "qdq_build.h"

namespace c8 {
namespace {

using c8test::qdq;

struct Case {
  int64_t N, C, H, W, k, stride, pad;
  bool ceil, s8;
};

Graph make_graph(const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  Graph g;
  g.opset = 13;
  const int64_t C0 = 8;
  int x = qdq(g, c8test::float_input(g, "x", {c.N, C0, c.H, c.W}), "in", 2.f / 255.f, DType::U8, 0);
  Tensor w(DType::I8, {c.C, C0, 1, 1});
  std::uniform_int_distribution<int> u(-63, 63);
  for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = int8_t(u(rng));
  int wd = c8test::dequantize(g, g.add_constant("w", w), "wdq", 0.01f, DType::I8, 0);
  int y = g.add_value("conv", DType::F32);
  g.add_node("Conv", {x, wd}, {y}, "conv");
  int h = c.s8 ? qdq(g, y, "mid", 0.012f, DType::I8, 0) : qdq(g, y, "mid", 0.012f, DType::U8, 100);
  int p = g.add_value("pool", DType::F32);
  int pn = g.add_node("MaxPool", {h}, {p}, "pool");
  g.nodes[size_t(pn)].set_ints("kernel_shape", {c.k, c.k});
  g.nodes[size_t(pn)].set_ints("strides", {c.stride, c.stride});
  g.nodes[size_t(pn)].set_ints("pads", {c.pad, c.pad, c.pad, c.pad});
  g.nodes[size_t(pn)].set_i("ceil_mode", c.ceil ? 1 : 0);
  g.outputs = {p};
  return g;
}

int own_pools(const Session& s, const char* prefix = "c8:maxpool_nhwc") {
  int n = 0;
  for (const KernelRecord& k : s.kernels()) n += k.impl.rfind(prefix, 0) == 0;
  return n;
}

Tensor random_input(const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  Tensor x(DType::F32, {c.N, 8, c.H, c.W});
  std::uniform_real_distribution<float> u(-0.2f, 1.f);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = u(rng);
  return x;
}

TEST(QMaxPoolNhwc, EqualsOneDnnPooling) {
  const std::vector<Case> cases = {
      {1, 64, 17, 15, 3, 2, 1, false, false},  // resnet's stem pool, odd sizes
      {2, 40, 9, 11, 3, 1, 1, false, false},   // googlenet's branch pool; C tail 8
      {1, 36, 10, 10, 2, 2, 0, false, true},   // s8, C tail 4
      {1, 32, 13, 13, 3, 2, 0, true, false},   // ceil_mode
  };
  uint32_t seed = 3;
  for (const Case& c : cases) {
    Graph g = make_graph(c, seed++);
    std::mt19937 rng(seed * 7);
    Tensor x(DType::F32, {c.N, 8, c.H, c.W});
    std::uniform_real_distribution<float> u(-0.2f, 1.f);
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = u(rng);
    setenv("C8_QMAXPOOL", "0", 1);
    setenv("C8_MAXPOOL_AVX512", "0", 1);
    Session ref(g);
    Tensor b = ref.run({x})[0];
    unsetenv("C8_QMAXPOOL");
    unsetenv("C8_MAXPOOL_AVX512");
    ASSERT_EQ(own_pools(ref), 0);
    Session fast(g);
    Tensor a = fast.run({x})[0];
    if (!cpu_isa_at_least(dnnl::cpu_isa::avx2)) GTEST_SKIP() << "effective ISA below AVX2: the pool kernel is AVX2 code";
    ASSERT_EQ(own_pools(fast), 1) << "case " << seed - 1;
    ASSERT_EQ(a.shape, b.shape);
    const c8test::OutputDiff d = c8test::diff_outputs(a, b);
    EXPECT_GE(d.levels, 20u) << "case " << seed - 1;
    EXPECT_EQ(d.differ, 0) << "case " << seed - 1 << ": " << d.differ << " of " << a.numel() << " outputs differ";
  }
}

TEST(MaxPoolAvx512, EqualsOneDnnPooling) {
  if (!cpu_isa_at_least(dnnl::cpu_isa::avx512_core) || !__builtin_cpu_supports("avx512bw"))
    GTEST_SKIP() << "no AVX-512 (effective ISA): the kernel is not offered";
  const std::vector<Case> cases = {
      {1, 64, 17, 15, 3, 2, 1, false, false},   // resnet's stem pool: width-3 stride-2 slide, clipped edges
      {2, 480, 9, 11, 3, 1, 1, false, false},   // googlenet's branch pool: stride-1 slide; 480 = 7 x 64 + 32
      {1, 40, 10, 10, 2, 2, 0, false, true},    // s8, width 2 (generic windows), a 40-byte pixel
      {1, 96, 14, 14, 3, 2, 0, true, false},    // ceil_mode: 7 outputs (6 without), the last window clipped
      {1, 128, 9, 9, 5, 1, 2, false, true},     // width 5, s8
      {1, 64, 2, 2, 3, 1, 1, false, false},     // no window lies inside a row
      {1, 32, 12, 14, 3, 3, 0, false, false},   // stride 3 (generic)
  };
  uint32_t seed = 11;
  for (const Case& c : cases) {
    Graph g = make_graph(c, seed);
    const Tensor x = random_input(c, seed * 7);
    ++seed;
    setenv("C8_QMAXPOOL", "0", 1);
    setenv("C8_MAXPOOL_AVX512", "0", 1);
    Session ref(g);
    const Tensor b = ref.run({x})[0];
    unsetenv("C8_MAXPOOL_AVX512");
    setenv("C8_QPOOL", "0", 1);
    Session fast(g);
    const Tensor a = fast.run({x})[0];
    unsetenv("C8_QPOOL");
    unsetenv("C8_QMAXPOOL");
    ASSERT_EQ(own_pools(ref, "c8:maxpool"), 0);
    ASSERT_EQ(own_pools(fast, "c8:maxpool_avx512"), 1) << "case " << seed - 1;
    ASSERT_EQ(a.shape, b.shape);
    const c8test::OutputDiff d = c8test::diff_outputs(a, b);
    EXPECT_GE(d.levels, 20u) << "case " << seed - 1;
    EXPECT_EQ(d.differ, 0) << "case " << seed - 1 << ": " << d.differ << " of " << a.numel() << " outputs differ";
  }
}

}  // namespace
}  // namespace c8
