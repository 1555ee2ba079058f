// Reference kernels for the NN op families (conv, gemm, pool, norm,
// activations, element-wise, softmax, quantize, post-ops): hand-computed
// cases plus ONNX's own node conformance cases restricted to these ops.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "ir/graph.h"
#include "ir/onnx_import.h"
#include "ops/ref/broadcast.h"
#include "ops/ref/post_ops.h"
#include "ops/op_registry.h"
#include "runtime/ref_executor.h"

using namespace c8;

namespace {

// Runs one op's infer + ref on tensors; checks infer agrees with ref.
std::vector<Tensor> run_op(Node n, const std::vector<Tensor>& in, size_t nout = 1) {
  if (n.name.empty()) n.name = "t_" + n.op;
  const OpDef* d = find_op(n.op, n.domain);
  if (!d) throw Error("op not registered: " + n.op);
  n.outputs.clear();
  for (size_t i = 0; i < nout; ++i) n.outputs.push_back(int(i));
  std::vector<TypeShape> ts;
  for (const Tensor& t : in) {
    TypeShape s;
    s.dtype = t.dtype;
    s.shape = t.shape;
    s.value = t.defined() ? &t : nullptr;
    ts.push_back(s);
  }
  auto inferred = d->infer(n, ts);
  std::vector<Tensor> out(nout);
  d->ref(n, in, out);
  EXPECT_EQ(inferred.size(), out.size());
  for (size_t i = 0; i < out.size() && i < inferred.size(); ++i) {
    EXPECT_EQ(inferred[i].dtype, out[i].dtype) << n.op << " output " << i;
    EXPECT_EQ(shape_str(inferred[i].shape), shape_str(out[i].shape)) << n.op << " output " << i;
  }
  return out;
}

Node node(const std::string& op) {
  Node n;
  n.op = op;
  n.name = "t_" + op;
  return n;
}

void expect_near(const Tensor& t, const std::vector<float>& want, float tol = 1e-5f) {
  auto v = t.to_f32_vector();
  ASSERT_EQ(v.size(), want.size());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(v[i], want[i], tol) << "at " << i;
}

std::vector<float> iota(int n, float start = 0) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[size_t(i)] = start + float(i);
  return v;
}

Tensor u8(Shape s, std::vector<uint8_t> v) {
  Tensor t(DType::U8, s);
  std::copy(v.begin(), v.end(), t.data<uint8_t>());
  return t;
}
Tensor i8(Shape s, std::vector<int8_t> v) {
  Tensor t(DType::I8, s);
  std::copy(v.begin(), v.end(), t.data<int8_t>());
  return t;
}

}  // namespace

// ---------------------------------------------------------------- Conv

TEST(RefNN, Conv3x3On4x4NoPad) {
  // x = 0..15 (4x4), w = all ones 3x3 -> sums of 3x3 windows.
  Tensor x = Tensor::from_f32({1, 1, 4, 4}, iota(16));
  Tensor w = Tensor::from_f32({1, 1, 3, 3}, std::vector<float>(9, 1.f));
  auto y = run_op(node("Conv"), {x, w});
  EXPECT_EQ(shape_str(y[0].shape), "[1,1,2,2]");
  // window at (0,0): 0+1+2+4+5+6+8+9+10 = 45; (0,1): 54; (1,0): 81; (1,1): 90
  expect_near(y[0], {45, 54, 81, 90});
}

TEST(RefNN, ConvAsymmetricPadsStride2Bias) {
  Tensor x = Tensor::from_f32({1, 1, 4, 4}, iota(16));
  Tensor w = Tensor::from_f32({1, 1, 3, 3}, std::vector<float>(9, 1.f));
  Tensor b = Tensor::from_f32({1}, {100.f});
  Node n = node("Conv");
  n.set_ints("pads", {1, 0, 0, 1});  // top 1, left 0, bottom 0, right 1
  n.set_ints("strides", {2, 2});
  auto y = run_op(n, {x, w, b});
  // H: (4+1+0-3)/2+1 = 2; W: (4+0+1-3)/2+1 = 2
  EXPECT_EQ(shape_str(y[0].shape), "[1,1,2,2]");
  // out(0,0): rows -1..1 (row -1 pad), cols 0..2: rows 0,1 -> 0+1+2+4+5+6 = 18
  // out(0,1): rows 0,1, cols 2..4 (4 pad): 2+3+6+7 = 18
  // out(1,0): rows 1..3, cols 0..2: 4+5+6+8+9+10+12+13+14 = 81
  // out(1,1): rows 1..3, cols 2,3: 6+7+10+11+14+15 = 63
  expect_near(y[0], {118, 118, 181, 163});
}

TEST(RefNN, ConvDilationAndSameUpper) {
  Tensor x = Tensor::from_f32({1, 1, 4, 4}, iota(16));
  Tensor w = Tensor::from_f32({1, 1, 2, 2}, {1, 0, 0, 1});
  Node n = node("Conv");
  n.set_ints("dilations", {2, 2});
  auto y = run_op(n, {x, w});
  // extent 3 -> 2x2 output; y(i,j) = x(i,j) + x(i+2,j+2)
  expect_near(y[0], {0 + 10, 1 + 11, 4 + 14, 5 + 15});
  Node s = node("Conv");
  s.set_s("auto_pad", "SAME_UPPER");
  s.set_ints("strides", {2, 2});
  auto y2 = run_op(s, {x, w});
  // out = ceil(4/2) = 2; total pad = (2-1)*2+2-4 = 0 -> y(i,j) = x(2i,2j) + x(2i+1,2j+1)
  EXPECT_EQ(shape_str(y2[0].shape), "[1,1,2,2]");
  expect_near(y2[0], {0 + 5, 2 + 7, 8 + 13, 10 + 15});
  Node l = node("Conv");
  l.set_s("auto_pad", "SAME_LOWER");
  auto y3 = run_op(l, {Tensor::from_f32({1, 1, 2, 2}, {1, 2, 3, 4}), w});
  // total pad 1 -> begin 1 (lower): y(i,j) = x(i-1,j-1) + x(i,j)
  expect_near(y3[0], {1, 2, 3, 4 + 1});
}

TEST(RefNN, ConvDepthwiseAndGroupsAndPostOps) {
  // 2 channels, depthwise (group 2), 1x1 kernels with weights 2 and -3.
  Tensor x = Tensor::from_f32({1, 2, 1, 2}, {1, 2, 3, 4});
  Tensor w = Tensor::from_f32({2, 1, 1, 1}, {2, -3});
  Node n = node("Conv");
  n.set_i("group", 2);
  expect_near(run_op(n, {x, w})[0], {2, 4, -9, -12});
  PostOp relu;
  relu.op = "Relu";
  n.post_ops.push_back(relu);
  expect_near(run_op(n, {x, w})[0], {2, 4, 0, 0});
  // Sum then Clip(0, 3): residual input index 3 (after X, W, B).
  Node m = node("Conv");
  m.set_i("group", 2);
  PostOp sum;
  sum.kind = PostOp::Sum;
  sum.input_index = 3;
  PostOp clip;
  clip.op = "Clip";
  clip.alpha = 0;
  clip.beta = 3;
  m.post_ops = {sum, clip};
  Tensor res = Tensor::from_f32({1, 2, 1, 2}, {0.5f, 0.5f, 10.f, 14.f});
  expect_near(run_op(m, {x, w, Tensor(), res})[0], {2.5f, 3, 1, 2});
}

TEST(RefNN, ConvValidationErrors) {
  Tensor x = Tensor::from_f32({1, 3, 4, 4}, std::vector<float>(48, 1));
  Tensor w = Tensor::from_f32({2, 2, 3, 3}, std::vector<float>(36, 1));
  try {
    run_op(node("Conv"), {x, w});
    FAIL() << "expected error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("t_Conv"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("input channels"), std::string::npos) << e.what();
  }
  Node g = node("Conv");
  g.set_i("group", 2);
  EXPECT_THROW(run_op(g, {x, Tensor::from_f32({2, 1, 3, 3}, std::vector<float>(18, 1))}), Error);
  Node big = node("Conv");
  EXPECT_THROW(run_op(big, {x, Tensor::from_f32({1, 3, 5, 5}, std::vector<float>(75, 1))}), Error);
}

TEST(RefNN, Conv1DAnd3D) {
  Tensor x = Tensor::from_f32({1, 1, 5}, {1, 2, 3, 4, 5});
  Tensor w = Tensor::from_f32({1, 1, 2}, {1, -1});
  expect_near(run_op(node("Conv"), {x, w})[0], {-1, -1, -1, -1});
  Tensor x3 = Tensor::from_f32({1, 1, 2, 2, 2}, iota(8));
  Tensor w3 = Tensor::from_f32({1, 1, 2, 2, 2}, std::vector<float>(8, 1));
  expect_near(run_op(node("Conv"), {x3, w3})[0], {28});
}

TEST(RefNN, ConvTransposeStride2) {
  // 1x1 input channel, 2x2 input, 2x2 kernel of ones, stride 2 -> tiles.
  Tensor x = Tensor::from_f32({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor w = Tensor::from_f32({1, 1, 2, 2}, {1, 1, 1, 1});
  Node n = node("ConvTranspose");
  n.set_ints("strides", {2, 2});
  auto y = run_op(n, {x, w});
  EXPECT_EQ(shape_str(y[0].shape), "[1,1,4,4]");
  expect_near(y[0], {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  // stride 1, 2x2 kernel: overlapping sums; output 3x3
  auto y1 = run_op(node("ConvTranspose"), {x, w});
  expect_near(y1[0], {1, 3, 2, 4, 10, 6, 3, 7, 4});
  // output_padding adds a zero row/col at the end
  n.set_ints("output_padding", {1, 1});
  EXPECT_EQ(shape_str(run_op(n, {x, w})[0].shape), "[1,1,5,5]");
}

// ---------------------------------------------------------------- Gemm / MatMul

TEST(RefNN, GemmTransBAndBroadcastC) {
  Tensor a = Tensor::from_f32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Tensor::from_f32({2, 3}, {1, 0, 1, 0, 1, 0});  // B^T is 3x2
  Tensor c = Tensor::from_f32({2}, {10, 20});
  Node n = node("Gemm");
  n.set_i("transB", 1);
  n.set_f("alpha", 2.f);
  n.set_f("beta", 0.5f);
  auto y = run_op(n, {a, b, c});
  // A*B^T = [[4,2],[10,5]] -> 2x + 0.5c
  expect_near(y[0], {13, 14, 25, 20});
  Tensor c2 = Tensor::from_f32({2, 1}, {1, -1});
  Node m = node("Gemm");
  m.set_i("transA", 1);
  PostOp r;
  r.op = "Relu";
  m.post_ops = {r};
  // A^T (3x2) * [[1],[1]] (2x1) = [5,7,9]; C [2,1] is not broadcastable to [3,1]
  EXPECT_THROW(run_op(m, {a, Tensor::from_f32({2, 1}, {1, 1}), c2}), Error);
  auto y2 = run_op(m, {a, Tensor::from_f32({2, 1}, {1, -1}), Tensor::from_f32({1}, {1})});
  expect_near(y2[0], {0, 0, 0});  // [1-4, 2-5, 3-6] + 1 -> negative -> relu 0
}

TEST(RefNN, MatMulBroadcastAnd1D) {
  Tensor a = Tensor::from_f32({2, 1, 2, 3}, iota(12));
  Tensor b = Tensor::from_f32({3, 3, 1}, {1, 1, 1, 0, 0, 1, 1, 0, 0});
  auto y = run_op(node("MatMul"), {a, b});
  EXPECT_EQ(shape_str(y[0].shape), "[2,3,2,1]");
  expect_near(y[0], {3, 12, 2, 5, 0, 3, 21, 30, 8, 11, 6, 9});
  Tensor v = Tensor::from_f32({3}, {1, 2, 3});
  auto y2 = run_op(node("MatMul"), {v, Tensor::from_f32({3, 2}, {1, 0, 0, 1, 1, 1})});
  EXPECT_EQ(shape_str(y2[0].shape), "[2]");
  expect_near(y2[0], {4, 5});
  auto y3 = run_op(node("MatMul"), {Tensor::from_f32({2, 3}, iota(6)), v});
  EXPECT_EQ(shape_str(y3[0].shape), "[2]");
  expect_near(y3[0], {8, 26});
  EXPECT_THROW(run_op(node("MatMul"), {v, Tensor::from_f32({2, 2}, iota(4))}), Error);
}

// ---------------------------------------------------------------- Pool

TEST(RefNN, MaxPoolCeilModeAndIndices) {
  Tensor x = Tensor::from_f32({1, 1, 4, 4}, iota(16));
  Node n = node("MaxPool");
  n.set_ints("kernel_shape", {3, 3});
  n.set_ints("strides", {2, 2});
  auto floor_y = run_op(n, {x});
  EXPECT_EQ(shape_str(floor_y[0].shape), "[1,1,1,1]");
  expect_near(floor_y[0], {10});
  n.set_i("ceil_mode", 1);
  auto y = run_op(n, {x}, 2);
  EXPECT_EQ(shape_str(y[0].shape), "[1,1,2,2]");
  expect_near(y[0], {10, 11, 14, 15});
  EXPECT_EQ(y[1].to_i64_vector(), (std::vector<int64_t>{10, 11, 14, 15}));
  // ceil_mode window starting in the end padding is dropped: 5 wide, k2 s2 pad 1 end.
  Node m = node("MaxPool");
  m.set_ints("kernel_shape", {1, 2});
  m.set_ints("strides", {1, 2});
  m.set_ints("pads", {0, 0, 0, 1});
  m.set_i("ceil_mode", 1);
  auto y2 = run_op(m, {Tensor::from_f32({1, 1, 1, 5}, {1, 5, 2, 4, 3})});
  // span = 5+1-2 = 4 -> ceil(4/2)+1 = 3; (3-1)*2 = 4 < 5 so kept: windows [0,1],[2,3],[4,5(pad)]
  expect_near(y2[0], {5, 4, 3});
}

TEST(RefNN, AveragePoolCountIncludePad) {
  Tensor x = Tensor::from_f32({1, 1, 2, 2}, {1, 2, 3, 4});
  Node n = node("AveragePool");
  n.set_ints("kernel_shape", {2, 2});
  n.set_ints("pads", {1, 1, 1, 1});
  auto y = run_op(n, {x});
  EXPECT_EQ(shape_str(y[0].shape), "[1,1,3,3]");
  expect_near(y[0], {1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4});
  n.set_i("count_include_pad", 1);
  expect_near(run_op(n, {x})[0], {0.25f, 0.75f, 0.5f, 1, 2.5f, 1.5f, 0.75f, 1.75f, 1});
  expect_near(run_op(node("GlobalAveragePool"), {x})[0], {2.5f});
  expect_near(run_op(node("GlobalMaxPool"), {x})[0], {4});
}

// ---------------------------------------------------------------- Norm

TEST(RefNN, BatchNormAndLayerNorm) {
  Tensor x = Tensor::from_f32({1, 2, 1, 2}, {1, 2, 3, 4});
  auto y = run_op(node("BatchNormalization"),
                  {x, Tensor::from_f32({2}, {1, 2}), Tensor::from_f32({2}, {0, 1}), Tensor::from_f32({2}, {1, 3}),
                   Tensor::from_f32({2}, {4, 1})});
  Node e = node("BatchNormalization");
  // eps 1e-5 default: (x-1)/sqrt(4) and 2*(x-3)/1 + 1
  expect_near(y[0], {0, 0.5f, 1, 3}, 1e-4f);
  Node ln = node("LayerNormalization");
  auto z = run_op(ln, {Tensor::from_f32({2, 2}, {1, 3, 2, 2}), Tensor::from_f32({2}, {1, 1})}, 3);
  expect_near(z[0], {-1, 1, 0, 0}, 1e-4f);
  expect_near(z[1], {2, 2});
  EXPECT_EQ(shape_str(z[1].shape), "[2,1]");
}

TEST(RefNN, InstanceNormAndLRN) {
  Tensor x = Tensor::from_f32({1, 1, 1, 2}, {1, 3});
  auto y = run_op(node("InstanceNormalization"), {x, Tensor::from_f32({1}, {2}), Tensor::from_f32({1}, {1})});
  expect_near(y[0], {-1, 3}, 1e-4f);
  Node l = node("LRN");
  l.set_i("size", 3);
  l.set_f("alpha", 3.f);
  l.set_f("beta", 1.f);
  Tensor x2 = Tensor::from_f32({1, 2, 1, 1}, {1, 2});
  // sq sum over both channels = 5 -> x / (1 + 1*5)
  expect_near(run_op(l, {x2})[0], {1.f / 6, 2.f / 6});
}

// ---------------------------------------------------------------- activations / elementwise

TEST(RefNN, UnaryActivationsMatchPostOps) {
  Tensor x = Tensor::from_f32({5}, {-2, -0.5f, 0, 0.5f, 3});
  struct C { const char* op; float a, b; };
  for (C c : {C{"Relu", 0, 0}, C{"LeakyRelu", 0.1f, 0}, C{"Elu", 0.7f, 0}, C{"Sigmoid", 0, 0},
              C{"HardSigmoid", 0.2f, 0.5f}, C{"HardSwish", 0, 0}, C{"Tanh", 0, 0}, C{"Softplus", 0, 0}}) {
    Node n = node(c.op);
    if (c.a != 0) n.set_f("alpha", c.a);
    if (c.b != 0) n.set_f("beta", c.b);
    auto y = run_op(n, {x});
    std::vector<float> want;
    for (float v : x.to_f32_vector()) want.push_back(eltwise_scalar(c.op, v, c.a, c.b));
    expect_near(y[0], want);
  }
  EXPECT_NEAR(eltwise_scalar("HardSwish", 3.f, 0, 0), 3.f, 1e-6f);
  EXPECT_NEAR(eltwise_scalar("HardSwish", -1.f, 0, 0), -1.f / 3, 1e-6f);
  EXPECT_NEAR(eltwise_scalar("SiLU", 1.f, 0, 0), 1.f / (1 + std::exp(-1.f)), 1e-6f);
  EXPECT_THROW(eltwise_scalar("Bogus", 1.f, 0, 0), Error);
  expect_near(run_op(node("Round"), {Tensor::from_f32({4}, {0.5f, 1.5f, 2.5f, -0.5f})})[0], {0, 2, 2, 0});
}

TEST(RefNN, ClipOpsetFormsAndInts) {
  Tensor x = Tensor::from_f32({4}, {-3, -1, 1, 8});
  Node old = node("Clip");
  old.set_f("min", -1.5f);
  old.set_f("max", 6.f);
  expect_near(run_op(old, {x})[0], {-1.5f, -1, 1, 6});
  expect_near(run_op(node("Clip"), {x, Tensor(), Tensor::scalar_f32(0.f)})[0], {-3, -1, 0, 0});
  Tensor xi = i8({3}, {-128, 5, 127});
  Tensor lo = i8({}, {-2});
  auto yi = run_op(node("Clip"), {xi, lo});
  EXPECT_EQ(yi[0].to_i64_vector(), (std::vector<int64_t>{-2, 5, 127}));
  Tensor p = Tensor::from_f32({2, 2}, {-1, -2, 3, -4});
  expect_near(run_op(node("PRelu"), {p, Tensor::from_f32({2}, {0.5f, 0.25f})})[0], {-0.5f, -0.5f, 3, -1});
}

TEST(RefNN, BinaryBroadcastAndDtypes) {
  Tensor a = Tensor::from_f32({2, 1}, {1, 2});
  Tensor b = Tensor::from_f32({3}, {10, 20, 30});
  auto y = run_op(node("Add"), {a, b});
  EXPECT_EQ(shape_str(y[0].shape), "[2,3]");
  expect_near(y[0], {11, 21, 31, 12, 22, 32});
  Tensor ia = Tensor::from_i64({4}, {7, -7, 7, -7});
  Tensor ib = Tensor::from_i64({4}, {2, 2, -2, -2});
  EXPECT_EQ(run_op(node("Div"), {ia, ib})[0].to_i64_vector(), (std::vector<int64_t>{3, -3, -3, 3}));
  EXPECT_EQ(run_op(node("Mod"), {ia, ib})[0].to_i64_vector(), (std::vector<int64_t>{1, 1, -1, -1}));
  Node fm = node("Mod");
  fm.set_i("fmod", 1);
  EXPECT_EQ(run_op(fm, {ia, ib})[0].to_i64_vector(), (std::vector<int64_t>{1, -1, 1, -1}));
  auto lt = run_op(node("Less"), {ia, Tensor::from_i64({}, {0})});
  EXPECT_EQ(lt[0].dtype, DType::Bool);
  EXPECT_EQ(lt[0].to_i64_vector(), (std::vector<int64_t>{0, 1, 0, 1}));
  auto s = run_op(node("Sum"), {a, b, Tensor::scalar_f32(1)});
  expect_near(s[0], {12, 22, 32, 13, 23, 33});
  auto m = run_op(node("Mean"), {Tensor::from_f32({2}, {1, 2}), Tensor::from_f32({2}, {3, 6})});
  expect_near(m[0], {2, 4});
  EXPECT_EQ(run_op(node("Add"), {u8({2}, {250, 3}), u8({2}, {10, 4})})[0].to_i64_vector(),
            (std::vector<int64_t>{4, 7}));  // wraps
  EXPECT_EQ(shape_str(run_op(node("Add"), {a, Tensor::from_f32({4}, iota(4))})[0].shape), "[2,4]");
  EXPECT_THROW(run_op(node("Add"), {Tensor::from_f32({2, 2}, iota(4)), b}), Error);
  EXPECT_THROW(run_op(node("Add"), {a, ia}), Error);
  Tensor c = Tensor(DType::Bool, {2});
  c.data<uint8_t>()[0] = 1;
  auto w = run_op(node("Where"), {c, Tensor::from_i64({2}, {1, 2}), Tensor::from_i64({2, 1}, {8, 9})});
  EXPECT_EQ(w[0].to_i64_vector(), (std::vector<int64_t>{1, 8, 1, 9}));
  auto pw = run_op(node("Pow"), {Tensor::from_f32({2}, {2, 3}), Tensor::from_i64({1}, {3})});
  expect_near(pw[0], {8, 27});
}

// ---------------------------------------------------------------- softmax

TEST(RefNN, SoftmaxOpsetSemantics) {
  Tensor x = Tensor::from_f32({2, 2}, {0, 0, 0, std::log(3.f)});
  expect_near(run_op(node("Softmax"), {x})[0], {0.5f, 0.5f, 0.25f, 0.75f});
  Node old = node("Softmax");
  old.set_i("_opset", 11);
  old.set_i("axis", 0);  // flatten to [1,4]
  expect_near(run_op(old, {x})[0], {1.f / 6, 1.f / 6, 1.f / 6, 0.5f});
  Node ax0 = node("Softmax");
  ax0.set_i("axis", 0);
  expect_near(run_op(ax0, {x})[0], {0.5f, 0.25f, 0.5f, 0.75f});
  expect_near(run_op(node("LogSoftmax"), {x})[0], {std::log(0.5f), std::log(0.5f), std::log(0.25f), std::log(0.75f)});
  expect_near(run_op(node("Hardmax"), {Tensor::from_f32({1, 3}, {1, 3, 3})})[0], {0, 1, 0});
}

// ---------------------------------------------------------------- quantize

TEST(RefNN, QuantizeRoundHalfEvenAndSaturate) {
  Tensor x = Tensor::from_f32({7}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 1000.f, -1000.f});
  auto y = run_op(node("QuantizeLinear"), {x, Tensor::scalar_f32(1.f), u8({}, {10})});
  EXPECT_EQ(y[0].dtype, DType::U8);
  EXPECT_EQ(y[0].to_i64_vector(), (std::vector<int64_t>{10, 12, 12, 10, 8, 255, 0}));
  auto z = run_op(node("QuantizeLinear"), {x, Tensor::scalar_f32(1.f), i8({}, {0})});
  EXPECT_EQ(z[0].to_i64_vector(), (std::vector<int64_t>{0, 2, 2, 0, -2, 127, -128}));
  // per-axis: axis 1 of [1,2,2]
  Tensor xa = Tensor::from_f32({1, 2, 2}, {1, 2, 3, 4});
  Node pa = node("QuantizeLinear");
  auto q = run_op(pa, {xa, Tensor::from_f32({2}, {1, 0.5f}), i8({2}, {0, 1})});
  EXPECT_EQ(q[0].to_i64_vector(), (std::vector<int64_t>{1, 2, 7, 9}));
  Node dq = node("DequantizeLinear");
  auto d = run_op(dq, {q[0], Tensor::from_f32({2}, {1, 0.5f}), i8({2}, {0, 1})});
  expect_near(d[0], {1, 2, 3, 4});
  EXPECT_THROW(run_op(node("QuantizeLinear"), {xa, Tensor::from_f32({3}, {1, 1, 1})}), Error);
  auto dy = run_op(node("DynamicQuantizeLinear"), {Tensor::from_f32({3}, {0, 2.55f, -2.55f})}, 3);
  EXPECT_NEAR(dy[1].get_f64(0), 0.02, 1e-6);
  EXPECT_EQ(dy[2].get_i64(0), 128);
  EXPECT_EQ(dy[0].to_i64_vector(), (std::vector<int64_t>{128, 255, 0}));
}

TEST(RefNN, BroadcastHelpers) {
  Shape o;
  EXPECT_TRUE(broadcast_shapes({2, 1, 3}, {4, 1}, o));
  EXPECT_EQ(shape_str(o), "[2,4,3]");
  EXPECT_TRUE(broadcast_shapes({-1, 3}, {1, 3}, o));
  EXPECT_EQ(shape_str(o), "[?,3]");
  EXPECT_FALSE(broadcast_shapes({2}, {3}, o));
  EXPECT_EQ(broadcast_index({2, 1}, {2, 3}), (std::vector<int64_t>{0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(broadcast_index({3}, {2, 3}), (std::vector<int64_t>{0, 1, 2, 0, 1, 2}));
}

// ---------------------------------------------------------------- ONNX conformance

namespace {

const std::set<std::string>& my_ops() {
  static const std::set<std::string> s = {
      "Conv", "ConvTranspose", "Gemm", "MatMul", "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool",
      "GlobalMaxPool", "GlobalLpPool", "BatchNormalization", "InstanceNormalization", "LRN",
      "LayerNormalization", "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid",
      "HardSwish", "Tanh", "Softplus", "Softsign", "Clip", "Exp", "Log", "Sqrt", "Abs", "Neg", "Reciprocal",
      "Floor", "Ceil", "Round", "Sign", "Erf", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh",
      "Asinh", "Acosh", "Atanh", "ThresholdedRelu", "Shrink", "Mish", "Not", "Add", "Sub", "Mul", "Div",
      "Pow", "Max", "Min", "Sum", "Mean", "Mod", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual",
      "And", "Or", "Xor", "Where", "BitShift", "Softmax", "LogSoftmax", "Hardmax", "QuantizeLinear",
      "DequantizeLinear", "DynamicQuantizeLinear"};
  return s;
}

std::string compare(const Tensor& got, const Tensor& want) {
  if (got.dtype != want.dtype)
    return std::string("dtype ") + dtype_name(got.dtype) + " vs expected " + dtype_name(want.dtype);
  if (got.shape != want.shape) return "shape " + shape_str(got.shape) + " vs expected " + shape_str(want.shape);
  bool fl = is_float_dtype(want.dtype);
  for (int64_t i = 0; i < want.numel(); ++i) {
    if (fl) {
      double g = got.get_f64(i), w = want.get_f64(i);
      if (std::isnan(w) && std::isnan(g)) continue;
      if (std::isinf(w) && g == w) continue;
      if (!(std::fabs(g - w) <= 1e-4 + 1e-3 * std::fabs(w)))
        return "element " + std::to_string(i) + ": " + std::to_string(g) + " vs expected " + std::to_string(w);
    } else if (got.get_i64(i) != want.get_i64(i)) {
      return "element " + std::to_string(i) + ": " + std::to_string(got.get_i64(i)) + " vs expected " +
             std::to_string(want.get_i64(i));
    }
  }
  return "";
}

// Runs one node-test directory; returns "" on pass, else the failure.
std::string run_case(const std::filesystem::path& dir, std::string& op_out) {
  Graph g = load_onnx((dir / "model.onnx").string());
  for (Node& n : g.nodes) {
    op_out = n.op;
    if ((n.op == "Softmax" || n.op == "LogSoftmax" || n.op == "Hardmax") && !n.has("_opset"))
      n.set_i("_opset", g.opset);  // the importer's job; see ref softmax.cc
  }
  RefExecutor ex(g);
  for (int k = 0;; ++k) {
    auto ds = dir / ("test_data_set_" + std::to_string(k));
    if (!std::filesystem::exists(ds)) {
      if (k == 0) return "no test data";
      break;
    }
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < g.inputs.size(); ++i)
      inputs.push_back(load_tensor_pb((ds / ("input_" + std::to_string(i) + ".pb")).string()));
    auto outs = ex.run(inputs);
    if (g.nodes.size() == 1) {  // shape inference must agree with the computed outputs
      const Node& n = g.nodes[0];
      std::vector<TypeShape> ts;
      for (int v : n.inputs) {
        TypeShape t;
        const Tensor* val = nullptr;
        for (size_t i = 0; i < g.inputs.size(); ++i)
          if (g.inputs[i] == v) val = &inputs[i];
        if (v >= 0 && g.values[size_t(v)].constant) val = &*g.values[size_t(v)].constant;
        if (val) {
          t.dtype = val->dtype;
          t.shape = val->shape;
          t.value = g.values[size_t(v)].constant ? val : nullptr;
        }
        ts.push_back(t);
      }
      auto inf = find_op(n.op, n.domain)->infer(n, ts);
      for (size_t i = 0; i < n.outputs.size() && i < inf.size(); ++i) {
        if (n.outputs[i] < 0) continue;
        int gi = -1;
        for (size_t k = 0; k < g.outputs.size(); ++k)
          if (g.outputs[k] == n.outputs[i]) gi = int(k);
        if (gi < 0) continue;
        const Tensor& o = outs[size_t(gi)];
        if (inf[i].dtype != o.dtype || inf[i].shape != o.shape)
          return "infer output " + std::to_string(i) + " gave " + dtype_name(inf[i].dtype) + shape_str(inf[i].shape) +
                 ", kernel produced " + dtype_name(o.dtype) + shape_str(o.shape);
      }
    }
    for (size_t i = 0; i < outs.size(); ++i) {
      auto p = ds / ("output_" + std::to_string(i) + ".pb");
      if (!std::filesystem::exists(p)) continue;
      std::string c = compare(outs[i], load_tensor_pb(p.string()));
      if (!c.empty()) return "output " + std::to_string(i) + ": " + c;
    }
  }
  return "";
}

}  // namespace

TEST(RefNN, OnnxNodeConformance) {
  std::filesystem::path root = "/usr/share/libonnx-testdata/data/node";
  if (!std::filesystem::exists(root)) GTEST_SKIP() << "ONNX test data not installed";
  // Cases known to differ from ONNX 1.12's expectations, with the reason.
  const std::map<std::string, std::string> known = {};
  std::map<std::string, std::pair<int, int>> per_op;  // op -> (pass, total)
  std::vector<std::string> failures;
  std::vector<std::filesystem::path> dirs;
  for (auto& e : std::filesystem::directory_iterator(root)) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  int pass = 0, total = 0, load_errors = 0;
  for (auto& dir : dirs) {
    std::string name = dir.filename().string();
    if (!std::filesystem::exists(dir / "model.onnx")) continue;
    std::string op, err;
    try {
      Graph g = load_onnx((dir / "model.onnx").string());
      bool mine = !g.nodes.empty();
      for (const Node& n : g.nodes) mine = mine && n.domain.empty() && my_ops().count(n.op);
      if (!mine) continue;
      err = run_case(dir, op);
    } catch (const std::exception& e) {
      err = e.what();
    }
    if (op.empty()) {
      if (!err.empty()) ++load_errors;
      continue;
    }
    ++total;
    auto& po = per_op[op];
    ++po.second;
    if (err.empty()) {
      ++pass;
      ++po.first;
    } else if (!known.count(name)) {
      failures.push_back(name + ": " + err);
    }
  }
  std::string summary;
  for (auto& [op, pt] : per_op)
    summary += op + " " + std::to_string(pt.first) + "/" + std::to_string(pt.second) + "  ";
  std::printf("[ref-nn conformance] %d/%d passed (%d models not loadable, skipped)\n%s\n", pass, total,
              load_errors, summary.c_str());
  for (auto& f : failures) std::printf("  FAIL %s\n", f.c_str());
  EXPECT_TRUE(failures.empty()) << failures.size() << " unexpected failures";
  EXPECT_GT(total, 300);
}

// Smoke test: the shared real models run end to end on the reference kernels
// with finite outputs (models whose ops are not all registered yet are listed
// and skipped).
TEST(RefNN, SharedModelsRunOnReferenceKernels) {
  std::string dir = std::string(C8_SHARED_DIR) + "/models";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no shared models";
  int ran = 0;
  for (const char* name : {"resnet8_cifar10_mlperftiny.onnx", "mobilenet_v1_0.25_224.onnx",
                           "deeplabv3_mnv2_dm05_voc_257.onnx", "fastestdet_coco_352.onnx"}) {
    std::string path = dir + "/" + name;
    if (!std::filesystem::exists(path)) continue;
    Graph g = load_onnx(path);
    auto missing = unsupported_nodes(g);
    if (!missing.empty()) {
      std::printf("  %s: skipped, no reference kernel for %s\n", name, missing[0].c_str());
      continue;
    }
    std::vector<Tensor> inputs;
    for (int v : g.inputs) {
      Shape sh = g.values[size_t(v)].shape;
      for (auto& d : sh)
        if (d < 0) d = 1;
      Tensor t(g.values[size_t(v)].dtype, sh);
      if (t.dtype == DType::F32)
        for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = float(i % 7) / 7.f;
      inputs.push_back(t);
    }
    RefExecutor ex(g);
    std::map<std::string, double> op_ms;
    auto t0 = std::chrono::steady_clock::now();
    auto last = t0;
    ex.observer = [&](int v, const Tensor&) {
      auto now = std::chrono::steady_clock::now();
      int p = g.values[size_t(v)].producer;
      if (p >= 0) op_ms[g.nodes[size_t(p)].op] += std::chrono::duration<double, std::milli>(now - last).count();
      last = now;
    };
    auto outs = ex.run(inputs);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::string top;
    for (auto& [op, t] : op_ms) top += " " + op + "=" + std::to_string(int(t));
    std::printf("  %s: %.0f ms (%s )\n", name, ms, top.c_str());
    ASSERT_FALSE(outs.empty()) << name;
    for (const Tensor& o : outs) {
      ASSERT_GT(o.numel(), 0) << name;
      for (int64_t i = 0; i < o.numel(); ++i) ASSERT_TRUE(std::isfinite(o.get_f64(i))) << name << " element " << i;
    }
    ++ran;
  }
  std::printf("  %d shared models ran on the reference kernels\n", ran);
}
