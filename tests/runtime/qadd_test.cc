// The residual Add of a QDQ model, DQ(a) + DQ(b) [-> Relu/Clip] -> Q, is fused
// into calibr8::QAdd and its fast kernel equals the QDQ graph on the reference
// kernels bit for bit (u8/s8 inputs and outputs, zero points, odd sizes, a
// layout difference between the inputs).
#include <gtest/gtest.h>

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

TEST(QAdd, FusedAndBitIdenticalToQdqReference) {
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
    int a = dequantize(g, quantize(g, xa, "aq", 0.02f, c.ta, c.za), "adq", 0.02f, c.ta, c.za);
    int b = dequantize(g, quantize(g, xb, "bq", 0.035f, c.tb, c.zb), "bdq", 0.035f, c.tb, c.zb);
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
    g.outputs = {dequantize(g, quantize(g, z, "yq", 0.03f, c.ty, c.zy), "ydq", 0.03f, c.ty, c.zy)};

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
    int64_t differ = 0;
    for (int64_t i = 0; i < y.numel(); ++i) {
      bool d = y.data<float>()[i] != r.data<float>()[i];
      if (d && differ < 3)
        std::printf("  [%lld] a=%.9g b=%.9g fast %.9g ref %.9g\n", (long long)i, ta.data<float>()[i], tb.data<float>()[i],
                    y.data<float>()[i], r.data<float>()[i]);
      differ += d;
    }
    EXPECT_EQ(differ, 0) << shape_str(c.shape) << " act '" << c.act << "'";
  }
}

}  // namespace
}  // namespace c8
