// oneDNN's other INT8 convolution implementations (make_qconv_alt, a tuning
// candidate under the "int8-exact" contract) must give the very bits of the
// one it prefers: a QDQ bottleneck block -- 1x1 + Relu, 3x3 (stride 1 or 2)
// + Relu, 1x1 with the residual fused as a sum post-op -- plus a plain 3x3
// with s8 output, with and without input zero points, channel counts that are
// and are not multiples of 16, run once with oneDNN's first implementation
// and once with its second (C8_QCONV_ALT=1).
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "ir/graph.h"
#include "runtime/session.h"
#include "qdq_build.h"

namespace c8 {
namespace {

using c8test::qdq;

int qconv(Graph& g, std::mt19937& rng, int x, int64_t C, int64_t M, int64_t k, int64_t stride, bool relu, bool s8_out,
          const std::string& n, int residual = -1) {
  Tensor w(DType::I8, {M, C, k, k});
  std::uniform_int_distribution<int> u(-63, 63);  // 7-bit: INT8 on AVX2 too (no u8s8 pair saturation)
  for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = int8_t(u(rng));
  Tensor sc(DType::F32, {M}), zp(DType::I8, {M}), b(DType::F32, {M});
  std::uniform_real_distribution<float> ub(-0.5f, 0.5f);
  for (int64_t m = 0; m < M; ++m) {
    sc.data<float>()[m] = (0.0009f + 0.00007f * float(m % 7)) / float(k);
    b.data<float>()[m] = ub(rng);
  }
  int wq = g.add_constant(n + "_wq", w), ws = g.add_constant(n + "_ws", sc), wz = g.add_constant(n + "_wz", zp);
  int wd = g.add_value(n + "_w", DType::F32);
  g.nodes[size_t(g.add_node("DequantizeLinear", {wq, ws, wz}, {wd}, n + "_wDQ"))].set_i("axis", 0);
  int y = g.add_value(n + "_y", DType::F32);
  int c = g.add_node("Conv", {x, wd, g.add_constant(n + "_b", b)}, {y}, n);
  g.nodes[size_t(c)].set_ints("kernel_shape", {k, k});
  g.nodes[size_t(c)].set_ints("strides", {stride, stride});
  g.nodes[size_t(c)].set_ints("pads", {k / 2, k / 2, k / 2, k / 2});
  int z = y;
  if (residual >= 0) {
    z = g.add_value(n + "_sum", DType::F32);
    g.add_node("Add", {y, residual}, {z}, n + "_add");
  }
  if (relu) {
    int r = g.add_value(n + "_relu", DType::F32);
    g.add_node("Relu", {z}, {r}, n + "_act");
    z = r;
  }
  return s8_out ? qdq(g, z, n + "_out", 0.031f, DType::I8, 0) : qdq(g, z, n + "_out", 0.017f, DType::U8, relu ? 0 : 60);
}

struct Case {
  int64_t N, C, H, W, mid, stride;
  int in_zp;
};

Graph make_graph(const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  Graph g;
  g.opset = 13;
  int x = qdq(g, c8test::float_input(g, "x", {c.N, c.C, c.H, c.W}), "in", 2.f / 255.f, DType::U8, c.in_zp);
  int a = qconv(g, rng, x, c.C, c.mid, 1, 1, true, false, "reduce");
  int b = qconv(g, rng, a, c.mid, c.mid, 3, c.stride, true, false, "spatial");
  int r = c.stride == 1 ? x : qconv(g, rng, x, c.C, c.C, 1, c.stride, false, false, "down");
  int e = qconv(g, rng, b, c.mid, c.C, 1, 1, true, false, "expand", r);
  g.outputs = {qconv(g, rng, e, c.C, 24, 3, 1, false, true, "head")};
  return g;
}

TEST(QConvAlt, OtherOnednnImplementationsGiveTheSameBits) {
  const std::vector<Case> cases = {
      {1, 64, 14, 14, 32, 1, 0},   // resnet bottleneck, scaled down
      {2, 48, 9, 11, 24, 2, 128},  // strided, odd sizes, batch 2, input zero point
      {1, 40, 7, 7, 20, 1, 3},     // channels not a multiple of 16
  };
  uint32_t seed = 3;
  int other = 0;
  setenv("C8_WINOGRAD", "0", 1);  // every QConv through oneDNN: its implementations are what is compared
  setenv("C8_IM2COL", "0", 1);
  for (const Case& c : cases) {
    Graph g = make_graph(c, seed++);
    std::mt19937 rng(seed * 31);
    Tensor x(DType::F32, {c.N, c.C, c.H, c.W});
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = u(rng);
    SessionOptions o;
    o.tune = Tune::Off;
    unsetenv("C8_QCONV_ALT");
    Session first(g, o);
    Tensor a = first.run({x})[0];
    setenv("C8_QCONV_ALT", "1", 1);
    Session second(g, o);
    Tensor b = second.run({x})[0];
    unsetenv("C8_QCONV_ALT");
    const auto ka = first.kernels(), kb = second.kernels();
    ASSERT_EQ(ka.size(), kb.size());
    for (size_t i = 0; i < ka.size(); ++i)
      if (ka[i].op == "QConv" && ka[i].impl != kb[i].impl) ++other;
    ASSERT_EQ(a.shape, b.shape);
    const c8test::OutputDiff d = c8test::diff_outputs(a, b);
    EXPECT_GE(d.levels, 20u) << "case " << seed - 1 << ": outputs barely vary; the test would not see errors";
    EXPECT_EQ(d.differ, 0) << "case " << seed - 1 << ": " << d.differ << " of " << a.numel() << " outputs differ";
  }
  unsetenv("C8_WINOGRAD");
  unsetenv("C8_IM2COL");
  EXPECT_GT(other, 0) << "no convolution ran another implementation: the test compared a kernel with itself";
}

}  // namespace
}  // namespace c8
