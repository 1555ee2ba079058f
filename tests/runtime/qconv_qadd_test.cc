// fuse_qdq step 4c: Conv -> Q -> DQ -> Add(DQ(skip)) [-> Relu/Clip] -> Q, the
// end of a residual block, becomes one QConv whose epilogue rounds the conv
// result to its 8-bit grid and then adds the skip. Checks: the QAdd is gone;
// the fused node's reference kernel is the QDQ graph bit for bit (same
// semantics); the fast kernel (INT8 post-op chain round, clip, sum, linear --
// or, for 8-bit weights without VNNI, the FP32 kernel) stays within one LSB
// of it and differs only on near-ties. 1x1 and 3x3 convs, u8 and s8 grids and
// skips, zero points, Relu / Clip / none; and a skip made by another conv in
// the graph, whose buffer the planner hands to the fused conv's output (the
// sum then accumulates in place).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "ir/graph.h"
#include "runtime/session.h"
#include "qdq_build.h"

namespace c8 {
namespace {

using c8test::qdq;

struct Case {
  int64_t k;       // kernel size (1 or 3, pad k/2)
  int wbits;       // 7, or 8 (the FP32 kernel on CPUs without VNNI)
  DType mid_t;     // the conv output's grid
  int mid_zp;
  DType skip_t;
  int skip_zp;
  std::string act;
  DType out_t;
  int out_zp;
  bool skip_from_conv = false;
};

TEST(QConvQAdd, FusedRoundsToTheConvGridThenAdds) {
  const std::vector<Case> cases = {
      {1, 7, DType::U8, 9, DType::U8, 3, "Relu", DType::U8, 0},
      {1, 7, DType::I8, 0, DType::I8, -2, "", DType::I8, 4},
      {3, 7, DType::U8, 128, DType::U8, 0, "Clip", DType::U8, 5},
      {1, 8, DType::U8, 9, DType::U8, 3, "Relu", DType::U8, 0},
      {1, 7, DType::U8, 9, DType::U8, 3, "Relu", DType::U8, 0, true},
      {3, 7, DType::U8, 0, DType::U8, 0, "", DType::U8, 12, true},
  };
  const int64_t C = 16, M = 24, H = 9, W = 11;
  uint32_t seed = 1;
  for (const Case& c : cases) {
    std::mt19937 rng(seed++);
    Graph g;
    g.opset = 13;
    int x = qdq(g, c8test::float_input(g, "x", {1, C, H, W}), "in", 0.0131f, DType::U8, 0);
    // Conv(xin, k x k, C -> M) with bias; returns its float output.
    auto conv = [&](int xin, int64_t k, int bits, const std::string& n) {
      Tensor w(DType::I8, {M, C, k, k});
      const int lim = bits == 8 ? 127 : 63;
      std::uniform_int_distribution<int> uw(-lim, lim);
      for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = int8_t(uw(rng));
      Tensor ws(DType::F32, {M}), wz(DType::I8, {M}), b(DType::F32, {M});
      std::uniform_real_distribution<float> ub(-0.2f, 0.2f);
      for (int64_t m = 0; m < M; ++m) {
        ws.data<float>()[m] = 0.0031f + 0.00017f * float(m % 5);
        b.data<float>()[m] = ub(rng);
      }
      int wd = g.add_value(n + "_w", DType::F32);
      int dq = g.add_node("DequantizeLinear",
                          {g.add_constant(n + "_wq", w), g.add_constant(n + "_ws", ws), g.add_constant(n + "_wz", wz)}, {wd},
                          n + "_wDQ");
      g.nodes[size_t(dq)].set_i("axis", 0);
      int y = g.add_value(n + "_y", DType::F32);
      int cv = g.add_node("Conv", {xin, wd, g.add_constant(n + "_b", b)}, {y}, n);
      g.nodes[size_t(cv)].set_ints("kernel_shape", {k, k});
      g.nodes[size_t(cv)].set_ints("pads", {k / 2, k / 2, k / 2, k / 2});
      return y;
    };
    int s = c.skip_from_conv ? qdq(g, conv(x, 1, 7, "skipconv"), "skip", 0.0217f, c.skip_t, c.skip_zp)
                             : qdq(g, c8test::float_input(g, "s", {1, M, H, W}), "skip", 0.0217f, c.skip_t, c.skip_zp);
    int y = conv(x, c.k, c.wbits, "conv");
    int yq = qdq(g, y, "mid", 0.0173f, c.mid_t, c.mid_zp);
    int sum = g.add_value("sum", DType::F32);
    g.add_node("Add", {yq, s}, {sum}, "add");
    int z = sum;
    if (!c.act.empty()) {
      z = g.add_value("z", DType::F32);
      std::vector<int> ins{sum};
      if (c.act == "Clip") {
        ins.push_back(g.add_constant("lo", Tensor::scalar_f32(-0.3f)));
        ins.push_back(g.add_constant("hi", Tensor::scalar_f32(1.1f)));
      }
      g.add_node(c.act, ins, {z}, "act");
    }
    const float sy = 0.0191f;
    g.outputs = {qdq(g, z, "out", sy, c.out_t, c.out_zp)};

    Tensor tx(DType::F32, {1, C, H, W}), ts(DType::F32, {1, M, H, W});
    std::uniform_real_distribution<float> ux(0.f, 3.f), us(-2.f, 2.f);
    for (int64_t i = 0; i < tx.numel(); ++i) tx.data<float>()[i] = ux(rng);
    for (int64_t i = 0; i < ts.numel(); ++i) ts.data<float>()[i] = us(rng);

    Session fast(g);
    auto hist = fast.graph().op_histogram();
    EXPECT_EQ(hist["QAdd"], 0) << "case " << seed - 1 << ": the QAdd should be fused into the conv";
    EXPECT_EQ(hist["QConv"], c.skip_from_conv ? 2 : 1);
    std::vector<Tensor> feeds{tx};
    if (!c.skip_from_conv) feeds.push_back(ts);
    Tensor a = fast.run(feeds)[0];
    for (const KernelRecord& k : fast.kernels())
      EXPECT_EQ(k.impl.find("dnnl:ref"), std::string::npos) << "case " << seed - 1 << ": " << k.impl;
    SessionOptions fr;
    fr.fast = false;  // the fused graph on the reference kernels
    Session fused_ref(g, fr);
    Tensor r1 = fused_ref.run(feeds)[0];
    SessionOptions pr;
    pr.fast = false;
    pr.optimize = false;  // the plain QDQ graph: the ONNX semantics
    Session plain(g, pr);
    Tensor r0 = plain.run(feeds)[0];
    const c8test::OutputDiff same = c8test::diff_outputs(r1, r0);
    EXPECT_EQ(same.differ, 0) << "case " << seed - 1 << ": fused reference differs from the QDQ graph";
    EXPECT_GE(same.levels, 20u);
    int64_t differ = 0, beyond = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
      float d = std::fabs(a.data<float>()[i] - r0.data<float>()[i]);
      differ += d != 0.f;
      beyond += d > sy * 1.001f;
    }
    EXPECT_EQ(beyond, 0) << "case " << seed - 1;
    EXPECT_LE(differ * 100, a.numel()) << "case " << seed - 1 << ": " << differ << " of " << a.numel() << " differ";
  }
}

}  // namespace
}  // namespace c8
