// The residual Add of a QDQ model, DQ(a) + DQ(b) [-> Relu/Clip] -> Q, is fused
// into calibr8::QAdd. Its fast kernel folds the scales into two ratios (as ONNX
// Runtime's QLinearAdd does), so it must (1) equal that formula, written out
// here in scalar code, bit for bit, and (2) stay within one LSB of the QDQ graph
// on the reference kernels, differing only on near-ties (u8/s8 inputs and
// outputs, zero points, odd sizes, a layout difference between the inputs).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "ir/graph.h"
#include "runtime/session.h"
#include "qdq_build.h"

namespace c8 {
namespace {

using c8test::dequantize;
using c8test::quantize;

struct Case {
  Shape shape;
  DType ta, tb, ty;
  int za, zb, zy;
  std::string act;
};

TEST(QAdd, FusedEqualsScaleRatioFormulaAndQdqReferenceWithinOneLsb) {
  const std::vector<Case> cases = {
      {{1, 16, 7, 9}, DType::U8, DType::U8, DType::U8, 0, 0, 0, "Relu"},
      {{2, 8, 5, 5}, DType::U8, DType::U8, DType::U8, 3, 120, 17, ""},
      {{1, 24, 6, 3}, DType::I8, DType::U8, DType::I8, 0, 9, -5, "Clip"},
      {{3, 37}, DType::I8, DType::I8, DType::U8, -4, 2, 0, "Relu"},
  };
  uint32_t seed = 3;
  for (const Case& c : cases) {
    Graph g;
    g.opset = 13;
    int xa = g.add_value("a", DType::F32), xb = g.add_value("b", DType::F32);
    for (int v : {xa, xb}) {
      g.values[size_t(v)].shape = c.shape;
      g.values[size_t(v)].has_shape = true;
    }
    g.inputs = {xa, xb};
    // Scales with no small rational ratio: with 0.02/0.035/0.03 one pair in
    // six would be an exact real tie, which no float formula rounds alike.
    const float sa = 0.0213f, sb = 0.0347f, sy = 0.0311f;
    int a = dequantize(g, quantize(g, xa, "aq", sa, c.ta, c.za), "adq", sa, c.ta, c.za);
    int b = dequantize(g, quantize(g, xb, "bq", sb, c.tb, c.zb), "bdq", sb, c.tb, c.zb);
    int s = g.add_value("sum", DType::F32);
    g.add_node("Add", {a, b}, {s}, "add");
    int z = s;
    if (!c.act.empty()) {
      z = g.add_value("act", DType::F32);
      std::vector<int> ins{s};
      if (c.act == "Clip") {
        ins.push_back(g.add_constant("lo", Tensor::scalar_f32(-0.5f)));
        ins.push_back(g.add_constant("hi", Tensor::scalar_f32(1.25f)));
      }
      g.add_node(c.act, ins, {z}, "act");
    }
    g.outputs = {dequantize(g, quantize(g, z, "yq", sy, c.ty, c.zy), "ydq", sy, c.ty, c.zy)};

    std::mt19937 rng(seed++);
    std::uniform_real_distribution<float> u(-3.f, 5.f);
    Tensor ta(DType::F32, c.shape), tb(DType::F32, c.shape);
    for (int64_t i = 0; i < ta.numel(); ++i) {
      ta.data<float>()[i] = u(rng);
      tb.data<float>()[i] = u(rng);
    }
    Session fast(g);
    EXPECT_EQ(fast.graph().op_histogram()["QAdd"], 1) << "Add not fused";
    Tensor y = fast.run({ta, tb})[0];
    bool qadd_kernel = false;
    for (const KernelRecord& k : fast.kernels()) qadd_kernel |= k.impl.rfind("c8:qadd", 0) == 0;
    EXPECT_TRUE(qadd_kernel);
    SessionOptions ro;
    ro.fast = false;
    ro.optimize = false;  // the plain QDQ graph: the ONNX semantics
    Session ref(g, ro);
    Tensor r = ref.run({ta, tb})[0];
    // The kernel's formula from the quantized inputs (the Q nodes of the
    // reference graph give them): v = a*ka + (b*kb + c), clamped, rounded.
    auto qv = [](float x, float s, int zp, DType t) {
      float q = std::nearbyint(x / s) + float(zp);
      return t == DType::I8 ? std::min(127.f, std::max(-128.f, q)) : std::min(255.f, std::max(0.f, q));
    };
    const float ka = sa / sy, kb = sb / sy, cc = float(c.zy) - float(c.za) * ka - float(c.zb) * kb;
    float lo = c.ty == DType::I8 ? -128.f : 0.f, hi = c.ty == DType::I8 ? 127.f : 255.f;
    if (c.act == "Relu") lo = std::max(lo, 0.f / sy + float(c.zy));
    if (c.act == "Clip") {
      lo = std::max(lo, -0.5f / sy + float(c.zy));
      hi = std::min(hi, 1.25f / sy + float(c.zy));
    }
    int64_t differ_formula = 0, differ_ref = 0, beyond_lsb = 0;
    for (int64_t i = 0; i < y.numel(); ++i) {
      float qa = qv(ta.data<float>()[i], sa, c.za, c.ta), qb = qv(tb.data<float>()[i], sb, c.zb, c.tb);
      float want = std::nearbyint(std::min(hi, std::max(lo, std::fma(qa, ka, std::fma(qb, kb, cc)))));
      float got = std::nearbyint(y.data<float>()[i] / sy) + float(c.zy);  // back to the integer level
      if (got != want && differ_formula < 3)
        std::printf("  [%lld] qa=%g qb=%g fast %g formula %g\n", (long long)i, qa, qb, got, want);
      differ_formula += got != want;
      float d = std::fabs(y.data<float>()[i] - r.data<float>()[i]);
      differ_ref += d != 0.f;
      beyond_lsb += d > sy * 1.001f;
    }
    EXPECT_EQ(differ_formula, 0) << shape_str(c.shape) << " act '" << c.act << "'";
    EXPECT_EQ(beyond_lsb, 0) << shape_str(c.shape) << " act '" << c.act << "'";
    // near-ties only: a wrong ratio or zero point would move whole ranges
    EXPECT_LE(differ_ref * 200, y.numel()) << differ_ref << " of " << y.numel() << " differ from the QDQ reference";
  }
}

}  // namespace
}  // namespace c8
