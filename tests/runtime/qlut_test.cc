// Float islands between quantizers -- DQ(a) [, DQ(b)] -> element-wise ops ->
// Q -- become one calibr8::QLut table lookup (passes/fuse_qlut.cc). The table
// is the island's reference result for every input code, so the optimised
// session must equal the QDQ graph on the reference kernels bit for bit:
// HardSwish after a residual Add (the default model's pattern), SiLU, a chain
// with scalar constants, u8/s8 inputs and outputs, zero points, odd sizes,
// a layout difference between the two inputs. Islands a table cannot stand
// for stay as they are.
#include <gtest/gtest.h>

#include <random>

#include <dnnl.hpp>

#include "ir/graph.h"
#include "runtime/session.h"
#include "qdq_build.h"

namespace c8 {
namespace {

using c8test::dequantize;
using c8test::quantize;

struct Island {
  Graph g;
  std::vector<Shape> in_shapes;
};

int op(Graph& g, const std::string& type, std::vector<int> in, const std::string& name) {
  int y = g.add_value(name, DType::F32);
  g.add_node(type, std::move(in), {y}, name);
  return y;
}

int input(Graph& g, const std::string& n, const Shape& s, std::vector<Shape>& shapes) {
  shapes.push_back(s);
  return c8test::float_input(g, n, s);
}

// kind: "hardswish_add" DQ(a) + DQ(b) -> HardSigmoid, Mul -> Q;
//       "silu" DQ(a) -> Sigmoid, Mul -> Q;  "requant" DQ(a) -> Q;  "chain" DQ(a) * 0.75 - DQ(b) -> LeakyRelu -> Tanh -> Q.
Island make(const std::string& kind, const Shape& shape, DType ta, int za, DType tb, int zb, DType ty, int zy,
            const Shape& b_shape = {}) {
  Island is;
  Graph& g = is.g;
  g.opset = 13;
  int xa = input(g, "a", shape, is.in_shapes);
  int a = dequantize(g, quantize(g, xa, "aq", 0.0213f, ta, za), "adq", 0.0213f, ta, za);
  int b = -1;
  if (kind != "silu" && kind != "requant") {
    int xb = input(g, "b", b_shape.empty() ? shape : b_shape, is.in_shapes);
    b = dequantize(g, quantize(g, xb, "bq", 0.0347f, tb, zb), "bdq", 0.0347f, tb, zb);
  }
  int z = -1;
  if (kind == "hardswish_add") {
    int s = op(g, "Add", {a, b}, "add");
    int h = op(g, "HardSigmoid", {s}, "hsig");
    g.nodes.back().set_f("alpha", 1.f / 6.f);
    g.nodes.back().set_f("beta", 0.5f);
    z = op(g, "Mul", {s, h}, "hswish");
  } else if (kind == "silu") {
    z = op(g, "Mul", {a, op(g, "Sigmoid", {a}, "sig")}, "silu");
  } else if (kind == "requant") {
    z = a;  // DQ -> Q with other parameters
  } else {
    int m = op(g, "Mul", {a, g.add_constant("k", Tensor::scalar_f32(0.75f))}, "mul");
    int d = op(g, "Sub", {m, b}, "sub");
    int l = op(g, "LeakyRelu", {d}, "lrelu");
    g.nodes.back().set_f("alpha", 0.1f);
    z = op(g, "Tanh", {l}, "tanh");
  }
  const float sy = kind == "chain" ? 0.0079f : 0.0311f;
  g.outputs = {dequantize(g, quantize(g, z, "yq", sy, ty, zy), "ydq", sy, ty, zy)};
  return is;
}

std::vector<Tensor> random_inputs(const Island& is, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-3.f, 5.f);
  std::vector<Tensor> in;
  for (const Shape& s : is.in_shapes) {
    Tensor t(DType::F32, s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
    in.push_back(t);
  }
  return in;
}

int qlut_kernels(const Session& s) {
  int n = 0;
  for (const KernelRecord& k : s.kernels()) n += k.impl.rfind("c8:qlut", 0) == 0;
  return n;
}

TEST(QLut, IslandEqualsQdqReferenceBitForBit) {
  struct Case {
    std::string kind;
    Shape shape;
    DType ta;
    int za;
    DType tb;
    int zb;
    DType ty;
    int zy;
  };
  const std::vector<Case> cases = {
      {"hardswish_add", {1, 16, 7, 9}, DType::U8, 0, DType::U8, 0, DType::U8, 0},
      {"hardswish_add", {2, 8, 5, 5}, DType::U8, 3, DType::I8, -7, DType::I8, 11},
      {"silu", {1, 24, 6, 3}, DType::I8, 5, DType::U8, 0, DType::U8, 40},
      {"silu", {3, 37}, DType::U8, 128, DType::U8, 0, DType::I8, -3},
      {"chain", {1, 8, 9, 11}, DType::I8, 0, DType::U8, 200, DType::I8, 0},
      {"requant", {2, 5, 13}, DType::U8, 77, DType::U8, 0, DType::I8, 4},
  };
  uint32_t seed = 7;
  for (const Case& c : cases) {
    Island is = make(c.kind, c.shape, c.ta, c.za, c.tb, c.zb, c.ty, c.zy);
    const auto in = random_inputs(is, seed++);
    Session fast(is.g);
    Tensor y = fast.run(in)[0];
    EXPECT_EQ(fast.graph().op_histogram()["QLut"], 1) << c.kind << ": island not tabulated";
    EXPECT_EQ(qlut_kernels(fast), 1) << c.kind;
    for (const char* f : {"Add", "Sub", "Mul", "HardSigmoid", "HardSwish", "Sigmoid", "Tanh", "LeakyRelu"})
      EXPECT_EQ(fast.graph().op_histogram()[f], 0) << c.kind << ": " << f << " left in float";
    SessionOptions ro;
    ro.fast = false;
    Session ref(is.g, ro);
    Tensor r = ref.run(in)[0];
    ASSERT_EQ(y.shape, r.shape);
    const c8test::OutputDiff d = c8test::diff_outputs(y, r);
    EXPECT_GE(d.levels, 20u) << c.kind << ": outputs barely vary; the test would not see errors";
    EXPECT_EQ(d.differ, 0) << c.kind << " " << shape_str(c.shape) << ": " << d.differ << " of " << y.numel()
                           << " outputs differ from the QDQ reference";
  }
}

// The second input arriving in another memory layout than the first (NHWC
// from an INT8 conv vs plain NCHW from a Quantize) is reordered first. The
// conv's own output may differ from the reference by one LSB on near-ties,
// so it is a second output, and where it agrees the island's must too.
TEST(QLut, InputsInDifferentLayouts) {
  Graph g;
  g.opset = 13;
  std::vector<Shape> shapes;
  const Shape s{1, 16, 6, 5};
  int xa = input(g, "a", s, shapes), xb = input(g, "b", s, shapes);
  int a = dequantize(g, quantize(g, xa, "aq", 0.02f, DType::U8, 0), "adq", 0.02f, DType::U8, 0);
  Tensor w(DType::I8, {16, 16, 1, 1});
  for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = int8_t((i * 37) % 15 - 7);
  int wd = dequantize(g, g.add_constant("w", w), "wdq", 0.01f, DType::I8, 0);
  int bx = dequantize(g, quantize(g, xb, "bxq", 0.02f, DType::U8, 0), "bxdq", 0.02f, DType::U8, 0);
  int conv = op(g, "Conv", {bx, wd}, "conv");
  int b = dequantize(g, quantize(g, conv, "cq", 0.03f, DType::U8, 128), "cdq", 0.03f, DType::U8, 128);
  int h = op(g, "HardSwish", {op(g, "Add", {a, b}, "add")}, "hswish");
  g.outputs = {dequantize(g, quantize(g, h, "yq", 0.025f, DType::U8, 10), "ydq", 0.025f, DType::U8, 10), b};
  Island is{g, shapes};
  const auto in = random_inputs(is, 99);
  Session fast(g);
  const auto y = fast.run(in);
  ASSERT_EQ(qlut_kernels(fast), 1);
  for (const KernelRecord& k : fast.kernels()) {
    if (k.impl.rfind("c8:qlut", 0) == 0 && dnnl::get_effective_cpu_isa() == dnnl::cpu_isa::avx2) {
      EXPECT_NE(k.impl.find("+reorder"), std::string::npos) << k.impl << ": the layouts did not differ";
    }
  }
  SessionOptions ro;
  ro.fast = false;
  Session ref(g, ro);
  const auto r = ref.run(in);
  int64_t same_conv = 0, differ = 0;
  for (int64_t i = 0; i < y[0].numel(); ++i) {
    if (y[1].data<float>()[i] != r[1].data<float>()[i]) continue;
    ++same_conv;
    differ += y[0].data<float>()[i] != r[0].data<float>()[i];
  }
  EXPECT_GE(same_conv, y[0].numel() * 98 / 100);
  EXPECT_EQ(differ, 0) << differ << " of " << same_conv << " outputs differ where the conv agrees";
}

TEST(QLut, LeavesIslandsATableCannotStandFor) {
  // broadcasting between the two inputs
  Island bc = make("hardswish_add", {1, 8, 5, 5}, DType::U8, 0, DType::U8, 0, DType::U8, 0, {1, 8, 1, 1});
  // an intermediate value read outside the island (a second graph output)
  Island esc = make("hardswish_add", {1, 8, 5, 5}, DType::U8, 0, DType::U8, 0, DType::U8, 0);
  for (const Node& n : esc.g.nodes)
    if (n.name == "add") esc.g.outputs.push_back(n.outputs[0]);
  // three quantized inputs: HardSwish(DQ(a) + DQ(b) + DQ(c))
  Island three;
  {
    Graph& g = three.g;
    g.opset = 13;
    std::vector<int> dq;
    for (const char* n : {"a", "b", "c"}) {
      int x = input(g, n, {1, 8, 5, 5}, three.in_shapes);
      dq.push_back(dequantize(g, quantize(g, x, std::string(n) + "q", 0.05f, DType::U8, 0), std::string(n) + "dq", 0.05f,
                              DType::U8, 0));
    }
    int h = op(g, "HardSwish", {op(g, "Add", {op(g, "Add", {dq[0], dq[1]}, "ab"), dq[2]}, "abc")}, "hswish");
    g.outputs = {dequantize(g, quantize(g, h, "yq", 0.04f, DType::U8, 0), "ydq", 0.04f, DType::U8, 0)};
  }
  for (Island* is : {&bc, &esc, &three}) {
    Session fast(is->g);
    const auto in = random_inputs(*is, 5);
    Tensor y = fast.run(in)[0];
    EXPECT_EQ(fast.graph().op_histogram()["QLut"], 0);
    SessionOptions ro;
    ro.fast = false;
    Session ref(is->g, ro);
    Tensor r = ref.run(in)[0];
    ASSERT_EQ(y.shape, r.shape);
  }
  // Add -> Relu -> Q is QAdd's (cheaper, and fusable into the producing conv)
  Graph g;
  g.opset = 13;
  std::vector<Shape> shapes;
  int xa = input(g, "a", {1, 8, 4, 4}, shapes), xb = input(g, "b", {1, 8, 4, 4}, shapes);
  int a = dequantize(g, quantize(g, xa, "aq", 0.02f, DType::U8, 0), "adq", 0.02f, DType::U8, 0);
  int b = dequantize(g, quantize(g, xb, "bq", 0.03f, DType::U8, 0), "bdq", 0.03f, DType::U8, 0);
  int r = op(g, "Relu", {op(g, "Add", {a, b}, "add")}, "relu");
  g.outputs = {dequantize(g, quantize(g, r, "yq", 0.04f, DType::U8, 0), "ydq", 0.04f, DType::U8, 0)};
  Session s(g);
  EXPECT_EQ(s.graph().op_histogram()["QAdd"], 1);
  EXPECT_EQ(s.graph().op_histogram()["QLut"], 0);
}

}  // namespace
}  // namespace c8
