// The im2col + u8s8 GEMM QConv kernel for few input channels (the stem of
// image models) must be bit-identical to oneDNN's direct INT8 convolution
// (C8_IM2COL=0): a QDQ chain conv(C = 1..7) -> conv so that the first conv
// reads the model input (NCHW u8, with and without a zero point) and the
// second (when the first has < 8 output channels) its NHWC u8 output; strides, pads (asymmetric),
// dilation, batch > 1, bias, Relu / Clip / none, u8 / s8 outputs, output
// channels that are not a multiple of 16, images small enough that every
// pixel touches the padding and large enough for several pixel chunks.
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

struct Layer {
  int64_t M, k, stride, dil;
  std::vector<int64_t> pads;
  std::string act;  // "", "Relu", "Clip"
  bool s8_out;
};

struct Case {
  int64_t N, C, H, W;
  Layer l1, l2;
  int in_zp;
  int wmax = 63;  // weights in [-wmax, wmax]: 63 = 7-bit (no u8s8 pair can saturate), 127 = 8-bit
};

using c8test::qdq;

int conv(Graph& g, std::mt19937& rng, int x, int64_t C, const Layer& l, const std::string& n, int wmax) {
  Tensor w(DType::I8, {l.M, C, l.k, l.k});
  // 7-bit: what calibration gives a stem without VNNI; 8-bit (with VNNI) has
  // pairs |w0| + |w1| > 128 that vpmaddubsw would saturate
  std::uniform_int_distribution<int> u(-wmax, wmax);
  for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = int8_t(u(rng));
  Tensor sc(DType::F32, {l.M}), zp(DType::I8, {l.M}), b(DType::F32, {l.M});
  std::uniform_real_distribution<float> ub(-0.3f, 0.3f);
  for (int64_t m = 0; m < l.M; ++m) {
    sc.data<float>()[m] = 0.0021f + 0.00013f * float(m % 5);
    b.data<float>()[m] = ub(rng);
  }
  int wq = g.add_constant(n + "_wq", w), ws = g.add_constant(n + "_ws", sc), wz = g.add_constant(n + "_wz", zp);
  int wd = g.add_value(n + "_w", DType::F32);
  int dq = g.add_node("DequantizeLinear", {wq, ws, wz}, {wd}, n + "_wDQ");
  g.nodes[size_t(dq)].set_i("axis", 0);
  int y = g.add_value(n + "_y", DType::F32);
  int c = g.add_node("Conv", {x, wd, g.add_constant(n + "_b", b)}, {y}, n);
  g.nodes[size_t(c)].set_ints("kernel_shape", {l.k, l.k});
  g.nodes[size_t(c)].set_ints("strides", {l.stride, l.stride});
  g.nodes[size_t(c)].set_ints("dilations", {l.dil, l.dil});
  g.nodes[size_t(c)].set_ints("pads", l.pads);
  int z = y;
  if (!l.act.empty()) {
    z = g.add_value(n + "_z", DType::F32);
    std::vector<int> ins{y};
    if (l.act == "Clip") {
      ins.push_back(g.add_constant(n + "_lo", Tensor::scalar_f32(-0.2f)));
      ins.push_back(g.add_constant(n + "_hi", Tensor::scalar_f32(0.7f)));
    }
    g.add_node(l.act, ins, {z}, n + "_act");
  }
  return l.s8_out ? qdq(g, z, n + "_out", 0.011f, DType::I8, 0)
                  : qdq(g, z, n + "_out", 0.0067f, DType::U8, l.act == "Relu" ? 0 : 70);
}

Graph make_graph(const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  Graph g;
  g.opset = 13;
  int xq = qdq(g, c8test::float_input(g, "x", {c.N, c.C, c.H, c.W}), "in", 2.f / 255.f, DType::U8, c.in_zp);
  int h = conv(g, rng, xq, c.C, c.l1, "first", c.wmax);
  g.outputs = {conv(g, rng, h, c.l1.M, c.l2, "second", c.wmax)};
  return g;
}

int im2col_kernels(const Session& s) {
  int n = 0;
  for (const KernelRecord& k : s.kernels()) n += k.impl.find("im2col_gemm") != std::string::npos;
  return n;
}

TEST(QConvIm2col, BitIdenticalToDirectInt8) {
  const std::vector<Case> cases = {
      // the resnet/googlenet stem shape, scaled down; input zero point 128 (s8 data)
      {1, 3, 40, 38, {64, 7, 2, 1, {3, 3, 3, 3}, "Relu", false}, {8, 3, 1, 1, {1, 1, 1, 1}, "", false}, 128},
      {2, 3, 17, 23, {5, 3, 1, 1, {1, 1, 1, 1}, "Clip", false}, {24, 3, 2, 1, {0, 1, 1, 0}, "Relu", true}, 0},
      {1, 1, 9, 11, {4, 5, 1, 2, {2, 1, 3, 2}, "", false}, {20, 1, 1, 1, {0, 0, 0, 0}, "Clip", false}, 3},
      {1, 7, 5, 4, {7, 5, 1, 1, {2, 2, 2, 2}, "Relu", false}, {33, 3, 1, 1, {1, 1, 1, 1}, "", true}, 200},
      // pixel counts whose last micro-kernel call has 5, 4 and 1 rows (6 per call, 60 per chunk)
      {1, 3, 7, 5, {5, 3, 1, 1, {1, 1, 1, 1}, "", false}, {16, 3, 1, 1, {1, 1, 1, 1}, "", true}, 9},
      {1, 2, 2, 17, {4, 3, 1, 1, {1, 1, 1, 1}, "", false}, {12, 3, 1, 1, {1, 1, 1, 1}, "", true}, 0},
      {1, 1, 1, 61, {4, 3, 1, 1, {1, 1, 1, 1}, "", false}, {16, 3, 1, 1, {1, 1, 1, 1}, "", true}, 11},
      // 8-bit weights: only the VNNI GEMM takes them (below). Output channels
      // 64 (one full 4-block tile), 100 (4 + 3 blocks, a 4-channel tail), 17
      {1, 3, 40, 38, {64, 7, 2, 1, {3, 3, 3, 3}, "Relu", false}, {100, 3, 1, 1, {1, 1, 1, 1}, "", false}, 128, 127},
      {2, 3, 13, 9, {17, 5, 1, 1, {2, 2, 2, 2}, "Clip", true}, {8, 1, 1, 1, {0, 0, 0, 0}, "", false}, 0, 127},
      // 29 columns: the chunk of 60 pixels ends at column 2 of row 2, inside the 3-column left padding border
      {1, 3, 9, 29, {16, 7, 1, 1, {3, 3, 3, 3}, "Relu", false}, {8, 3, 1, 1, {1, 1, 1, 1}, "", false}, 128, 127},
  };
  uint32_t seed = 5;
  for (const Case& c : cases) {
    Graph g = make_graph(c, seed++);
    std::mt19937 rng(seed * 17);
    Tensor x(DType::F32, {c.N, c.C, c.H, c.W});
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = u(rng);
    setenv("C8_IM2COL", "all", 1);  // small receptive fields too (the default leaves them to oneDNN)
    Session fast(g);
    Tensor a = fast.run({x})[0];
    // The kernel reads the model's plain input: it must run on every AVX2+ CPU.
    if (!cpu_isa_at_least(dnnl::cpu_isa::avx2)) GTEST_SKIP() << "effective ISA below AVX2: the im2col kernel is AVX2 code";
    // the second conv reads the first's NHWC output, when it has < 8 channels;
    // 8-bit weights only where vpdpbusd sums the products exactly
    const int expect = (c.wmax > 63 && !cpu_has_avx512_vnni()) ? 0 : c.l1.M < 8 ? 2 : 1;
    EXPECT_EQ(im2col_kernels(fast), expect) << "case " << seed - 1;
    for (const KernelRecord& k : fast.kernels()) {
      if (k.impl.find("im2col_gemm") != std::string::npos) {
        EXPECT_NE(k.impl.find(cpu_has_avx512_vnni() ? "avx512_vnni" : "avx2"), std::string::npos) << k.impl;
      }
    }
    setenv("C8_IM2COL", "0", 1);
    Session direct(g);
    Tensor b = direct.run({x})[0];
    unsetenv("C8_IM2COL");
    ASSERT_EQ(im2col_kernels(direct), 0);
    ASSERT_EQ(a.shape, b.shape);
    const c8test::OutputDiff d = c8test::diff_outputs(a, b);
    EXPECT_GE(d.levels, 20u) << "case " << seed - 1 << ": outputs barely vary; the test would not see errors";
    EXPECT_EQ(d.differ, 0) << "case " << seed - 1 << ": " << d.differ << " of " << a.numel() << " outputs differ";
  }
}

// Without C8_IM2COL=all the kernel takes only long receptive fields: the 7x7x3
// stem (K = 147) yes, a 3x3x3 one (K = 27, faster in oneDNN) no.
TEST(QConvIm2col, DefaultOnlyForLongReceptiveFields) {
  const Layer tail{8, 1, 1, 1, {0, 0, 0, 0}, "", false};
  Graph stem7 = make_graph({1, 3, 40, 38, {64, 7, 2, 1, {3, 3, 3, 3}, "Relu", false}, tail, 128}, 1);
  Graph stem3 = make_graph({1, 3, 40, 38, {32, 3, 2, 1, {1, 1, 1, 1}, "Relu", false}, tail, 128}, 2);
  Tensor x(DType::F32, {1, 3, 40, 38});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = float(i % 17) / 17.f;
  Session s7(stem7), s3(stem3);
  s7.run({x});
  s3.run({x});
  if (!cpu_isa_at_least(dnnl::cpu_isa::avx2)) GTEST_SKIP() << "effective ISA below AVX2: the im2col kernel is AVX2 code";
  EXPECT_EQ(im2col_kernels(s7), 1);
  EXPECT_EQ(im2col_kernels(s3), 0);
}

}  // namespace
}  // namespace c8
