// The integer Winograd QConv kernel, in its F(4x3), F(4x2) and F(2x2) forms
// (C8_WINOGRAD_TILE), must be bit-identical to oneDNN's direct INT8
// convolution (C8_WINOGRAD=0): a QDQ chain 1x1 conv -> 3x3 conv, so the 3x3
// conv receives NHWC u8 as in a real network; odd sizes and partial tiles,
// batch > 1, pads 0/1/asymmetric, bias, Relu / Clip / none, u8 and s8
// outputs; and layers whose weights are too large for F(4x3)'s or F(4x2)'s
// int32 bound, which must fall back to the next smaller tile. Each with the
// AVX2 GEMM and, on an AVX-512 VNNI CPU, the vpdpwssd one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>

#include <dnnl.hpp>

#include "ir/graph.h"
#include "runtime/kernels/x86/avx2/winograd_tiles.h"
#include "runtime/kernel.h"
#include "runtime/session.h"
#include "qdq_build.h"

namespace c8 {
namespace {

struct QCase {
  int64_t N, C0, C, M, H, W;
  std::vector<int64_t> pads;
  std::string act;  // "", "Relu", "Clip"
  bool s8_out;
  int wbits;  // 7: uniform 7-bit; 0: every weight +-63 (largest 7-bit sums)
  std::string largest = "4x3";  // the tile the kernel may use
};

using c8test::qdq;

int qweight(Graph& g, std::mt19937& rng, const std::string& n, Shape s, int bits) {
  Tensor w(DType::I8, s);
  int lim = bits == 8 ? 127 : 63;
  std::uniform_int_distribution<int> u(-lim, lim);
  for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = int8_t(bits == 0 ? (u(rng) < 0 ? -63 : 63) : u(rng));
  int64_t M = s[0];
  Tensor sc(DType::F32, {M});
  for (int64_t m = 0; m < M; ++m) sc.data<float>()[m] = 0.002f + 0.0001f * float(m % 7);
  Tensor zp(DType::I8, {M});
  int wv = g.add_constant(n + "_wq", w), sv = g.add_constant(n + "_ws", sc), zv = g.add_constant(n + "_wz", zp);
  int d = g.add_value(n + "_w", DType::F32);
  int k = g.add_node("DequantizeLinear", {wv, sv, zv}, {d}, n + "_wDQ");
  g.nodes[size_t(k)].set_i("axis", 0);
  return d;
}

Graph make_graph(const QCase& c, uint32_t seed) {
  std::mt19937 rng(seed);
  Graph g;
  g.opset = 13;
  int xq = qdq(g, c8test::float_input(g, "x", {c.N, c.C0, c.H, c.W}), "in", 1.f / 127.f, DType::U8, 0);
  int h = g.add_value("h", DType::F32);
  int n1 = g.add_node("Conv", {xq, qweight(g, rng, "pw", {c.C, c.C0, 1, 1}, 7)}, {h}, "pointwise");
  g.nodes[size_t(n1)].set_ints("kernel_shape", {1, 1});
  int hr = g.add_value("hr", DType::F32);
  g.add_node("Relu", {h}, {hr}, "relu1");
  int hq = qdq(g, hr, "h", 0.004f, DType::U8, 0);
  Tensor b(DType::F32, {c.M});
  std::uniform_real_distribution<float> ub(-0.3f, 0.3f);
  for (int64_t m = 0; m < c.M; ++m) b.data<float>()[m] = ub(rng);
  int y = g.add_value("y", DType::F32);
  int n3 = g.add_node("Conv", {hq, qweight(g, rng, "c3", {c.M, c.C, 3, 3}, c.wbits), g.add_constant("c3_b", b)}, {y}, "conv3x3");
  g.nodes[size_t(n3)].set_ints("kernel_shape", {3, 3});
  g.nodes[size_t(n3)].set_ints("pads", c.pads);
  int z = y;
  if (!c.act.empty()) {
    z = g.add_value("z", DType::F32);
    std::vector<int> ins{y};
    if (c.act == "Clip") {
      ins.push_back(g.add_constant("lo", Tensor::scalar_f32(0.f)));
      ins.push_back(g.add_constant("hi", Tensor::scalar_f32(0.9f)));
    }
    g.add_node(c.act, ins, {z}, "act");
  }
  // Without an activation the output has a zero point: u8 60, s8 -20.
  int out = c.s8_out ? qdq(g, z, "out", 0.01f, DType::I8, c.act.empty() ? -20 : 0)
                     : qdq(g, z, "out", 0.006f, DType::U8, c.act.empty() ? 60 : 0);
  g.outputs = {out};
  return g;
}

bool ran(const Session& s, const std::string& impl) {
  for (const KernelRecord& k : s.kernels())
    if (k.impl.find(impl) != std::string::npos) return true;
  return false;
}
bool ran_winograd(const Session& s) { return ran(s, "winograd_f"); }

TEST(QConvWinograd, BitIdenticalToDirectInt8) {
  const std::vector<QCase> cases = {
      {1, 8, 16, 16, 8, 8, {1, 1, 1, 1}, "Relu", false, 7},
      {2, 8, 24, 40, 7, 9, {1, 1, 1, 1}, "Relu", false, 7},  // odd sizes, OC not a multiple of 16
      {1, 8, 32, 8, 5, 6, {0, 0, 0, 0}, "Clip", false, 7},
      {1, 8, 16, 24, 6, 5, {0, 1, 1, 0}, "", false, 7},      // asymmetric pads, output zero point
      {1, 8, 32, 16, 9, 7, {1, 1, 1, 1}, "", true, 7},       // s8 output
      {3, 16, 64, 72, 14, 14, {1, 1, 1, 1}, "Relu", false, 7},  // several tile chunks
      // 255 * 9 * 128 * 63 * 144 > 2^31 > 255 * 9 * 128 * 63 * 48: F(4x2)
      {1, 8, 128, 16, 7, 8, {1, 1, 1, 1}, "Relu", false, 0, "4x2"},
      // 255 * 9 * 320 * 63 * 48 > 2^31: F(4x2) could overflow, F(2x2) runs
      {1, 8, 320, 16, 6, 6, {1, 1, 1, 1}, "Relu", false, 0, "2x2"},
      // Maps smaller than a tile: under --tune the kernel competes on every 3x3 layer.
      {4, 8, 16, 64, 1, 1, {1, 1, 1, 1}, "Relu", false, 7},
      {1, 8, 16, 24, 2, 3, {1, 1, 1, 1}, "", false, 7},
      {2, 8, 16, 16, 4, 4, {1, 1, 1, 1}, "Relu", true, 7},
      {4, 8, 16, 64, 3, 3, {0, 0, 0, 0}, "", false, 7},  // 1x1 output
  };
  uint32_t seed = 1;
  for (const QCase& c : cases) {
    Graph g = make_graph(c, seed++);
    std::mt19937 rng(seed * 31);
    Tensor x(DType::F32, {c.N, c.C0, c.H, c.W});
    std::uniform_real_distribution<float> u(-0.2f, 1.f);
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = u(rng);
    Tensor b;  // oneDNN's direct kernel
    {
      setenv("C8_WINOGRAD", "0", 1);
      Session direct(g);
      b = direct.run({x})[0];
      unsetenv("C8_WINOGRAD");
      ASSERT_FALSE(ran_winograd(direct));
    }
    // Both GEMM forms: AVX2 (vpmaddwd) everywhere, and where the CPU has
    // AVX-512 VNNI the vpdpwssd one, which outranks it there.
    std::vector<std::string> gemms = {"avx2"};
    if (cpu_has_avx512_vnni()) gemms.push_back("avx512_vnni");
    else if (seed == 2) std::printf("[ note ] no AVX-512 VNNI here: the vpdpwssd form is not tested on this CPU\n");
    for (const std::string& gemm : gemms)
    for (const std::string tile : {"4x3", "4x2", "2x2"}) {
      setenv("C8_WINOGRAD", "all", 1);  // small layers too (the default skips them for speed)
      setenv("C8_WINOGRAD_TILE", tile.c_str(), 1);
      setenv("C8_WINOGRAD_VNNI", gemm == "avx2" ? "0" : "1", 1);
      Session wino(g);
      Tensor a = wino.run({x})[0];
      unsetenv("C8_WINOGRAD");
      unsetenv("C8_WINOGRAD_TILE");
      unsetenv("C8_WINOGRAD_VNNI");
      // oneDNN keeps INT8 activations NHWC on AVX2 and AVX-512 alike: the
      // kernel must run wherever AVX2 code may.
      if (!cpu_isa_at_least(dnnl::cpu_isa::avx2)) GTEST_SKIP() << "effective ISA below AVX2: Winograd is AVX2 code";
      ASSERT_TRUE(ran_winograd(wino)) << "INT8 Winograd not used";
      // the cap, or the largest tile exact for these weights if smaller
      const std::vector<std::string> order = {"4x3", "4x2", "2x2"};
      size_t cap = size_t(std::find(order.begin(), order.end(), tile) - order.begin());
      size_t lim = size_t(std::find(order.begin(), order.end(), c.largest) - order.begin());
      const std::string want = order[std::max(cap, lim)];
      const std::string impl = want == "2x2" ? "winograd_f2x3_int" : "winograd_f" + want + "_3x3_int";
      ASSERT_TRUE(ran(wino, impl + ":" + gemm)) << "case " << seed - 1 << " tile '" << tile << "': expected " << impl << ":" << gemm;
      ASSERT_EQ(a.shape, b.shape);
      const c8test::OutputDiff d = c8test::diff_outputs(a, b);
      EXPECT_GE(d.levels, 20u) << "case " << seed - 1 << ": outputs barely vary; the test would not see errors";
      EXPECT_EQ(d.differ, 0) << "case " << seed - 1 << " tile '" << tile << "' " << gemm << ": " << d.differ << " of " << a.numel()
                             << " outputs differ";
    }
    {  // two threads: chunks rebalanced over them (WinoTiles::balance), same bytes
      setenv("C8_WINOGRAD", "all", 1);
      SessionOptions o;
      o.threads = 2;
      Session wino2(g, o);
      Tensor a = wino2.run({x})[0];
      unsetenv("C8_WINOGRAD");
      ASSERT_TRUE(ran_winograd(wino2));
      EXPECT_EQ(c8test::diff_outputs(a, b).differ, 0) << "case " << seed - 1 << ", 2 threads";
    }
  }
}

// Few chunks are spread evenly over the threads; many, or one thread, keep the
// cache-sized chunk.
TEST(WinoTiles, BalancesFewChunksOverThreads) {
  dnnlk::WinoTiles w;
  w.tiles = 28;  // resnet50's 14x14 maps in F(4x2) tiles
  w.chunk = 6;   // 5 chunks: 18 tiles for one of two threads
  w.balance(2);
  EXPECT_EQ(w.chunk, 7);  // 4 chunks, 14 tiles each
  w.chunk = 6;
  w.balance(1);
  EXPECT_EQ(w.chunk, 6);
  w.tiles = 266;  // 45 chunks: imbalance of one chunk in 45 is left alone
  w.balance(2);
  EXPECT_EQ(w.chunk, 6);
  w.tiles = 60;
  w.chunk = 12;  // 5 chunks of 12 -> 4 of 15
  w.balance(2);
  EXPECT_EQ(w.chunk, 15);
  w.tiles = 10;
  w.chunk = 6;  // 2 chunks over 3 threads -> 3 chunks of 4 (busiest 4 tiles, not 6)
  w.balance(3);
  EXPECT_EQ(w.chunk, 4);
}

}  // namespace
}  // namespace c8
