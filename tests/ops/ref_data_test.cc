// Hand-written edge cases for the data-movement / shape / reduction reference
// kernels that ONNX's conformance suite does not cover.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "ir/graph.h"
#include "base/error.h"
#include "ops/op_registry.h"

using namespace c8;

namespace {

Node make_node(const std::string& op, size_t n_out = 1) {
  Node n;
  n.name = "t_" + op;
  n.op = op;
  for (size_t i = 0; i < n_out; ++i) n.outputs.push_back(int(i));
  return n;
}

std::vector<Tensor> run(const Node& n, const std::vector<Tensor>& in) {
  const OpDef* d = find_op(n.op);
  if (!d) throw Error("op not registered: " + n.op);
  std::vector<Tensor> out(n.outputs.size());
  d->ref(n, in, out);
  return out;
}

std::vector<TypeShape> infer(const Node& n, const std::vector<TypeShape>& in) {
  const OpDef* d = find_op(n.op);
  if (!d) throw Error("op not registered: " + n.op);
  return d->infer(n, in);
}

TypeShape ts(const Tensor& t, bool constant = true) { return TypeShape{t.dtype, t.shape, constant ? &t : nullptr}; }

Tensor iota_f32(Shape s) {
  Tensor t(DType::F32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = float(i);
  return t;
}

Tensor iota_i64(Shape s) {
  Tensor t(DType::I64, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<int64_t>()[i] = i;
  return t;
}

void expect_f32(const Tensor& t, const Shape& s, const std::vector<float>& v) {
  ASSERT_EQ(t.dtype, DType::F32);
  ASSERT_EQ(shape_str(t.shape), shape_str(s));
  auto got = t.to_f32_vector();
  ASSERT_EQ(got.size(), v.size());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(got[i], v[i], 1e-5) << "element " << i;
}

void expect_i64(const Tensor& t, const Shape& s, const std::vector<int64_t>& v) {
  ASSERT_EQ(shape_str(t.shape), shape_str(s));
  EXPECT_EQ(t.to_i64_vector(), v);
}

const int64_t kMin = std::numeric_limits<int64_t>::min();
const int64_t kMax = std::numeric_limits<int64_t>::max();

// ---------------------------------------------------------------- Reshape
TEST(RefData, ReshapeZeroCopiesDimAndMinusOneInfers) {
  Node n = make_node("Reshape");
  Tensor x = iota_f32({2, 3, 4});
  Tensor s = Tensor::from_i64({2}, {0, -1});
  auto out = run(n, {x, s});
  expect_f32(out[0], {2, 12}, x.to_f32_vector());
  // -1 in the middle, 0 at the end
  s = Tensor::from_i64({3}, {3, -1, 0});  // 0 copies dim 2 (=4), -1 = 24 / 12
  EXPECT_EQ(shape_str(infer(n, {ts(x), ts(s)})[0].shape), "[3,2,4]");
}

TEST(RefData, ReshapeMinusOneWithCopiedZero) {
  Node n = make_node("Reshape");
  Tensor x = iota_f32({2, 3, 4});
  Tensor s = Tensor::from_i64({3}, {0, -1, 2});
  auto r = infer(n, {ts(x), ts(s)});
  EXPECT_EQ(shape_str(r[0].shape), "[2,6,2]");
  auto out = run(n, {x, s});
  expect_f32(out[0], {2, 6, 2}, x.to_f32_vector());
  // Impossible reshape names the node.
  Tensor bad = Tensor::from_i64({2}, {5, -1});
  try {
    run(n, {x, bad});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("t_Reshape"), std::string::npos) << e.what();
  }
}

TEST(RefData, ReshapeAllowZeroKeepsZero) {
  Node n = make_node("Reshape");
  n.set_i("allowzero", 1);
  Tensor x(DType::F32, {0, 3});
  Tensor s = Tensor::from_i64({3}, {3, 0, 1});
  auto out = run(n, {x, s});
  EXPECT_EQ(shape_str(out[0].shape), "[3,0,1]");
  // Without allowzero the 0 copies the input dim.
  Node m = make_node("Reshape");
  Tensor y = iota_f32({2, 3});
  auto o2 = run(m, {y, Tensor::from_i64({2}, {0, 3})});
  EXPECT_EQ(shape_str(o2[0].shape), "[2,3]");
}

TEST(RefData, ReshapeWritesIntoPreallocatedOutput) {
  Node n = make_node("Reshape");
  Tensor x = iota_f32({2, 3});
  std::vector<Tensor> out = {Tensor(DType::F32, {3, 2})};
  void* buf = out[0].raw();
  find_op("Reshape")->ref(n, {x, Tensor::from_i64({2}, {3, -1})}, out);
  EXPECT_EQ(out[0].raw(), buf);
  expect_f32(out[0], {3, 2}, {0, 1, 2, 3, 4, 5});
}

// ---------------------------------------------------------------- infer with unknown inputs
TEST(RefData, InferWithNonConstantShapeInputGivesUnknownDims) {
  Tensor x = iota_f32({2, 3, 4});
  Tensor shp = Tensor::from_i64({3}, {1, 2, 3});
  TypeShape dyn = ts(shp, /*constant=*/false);
  {
    auto r = infer(make_node("Reshape"), {ts(x), dyn});
    EXPECT_EQ(r[0].dtype, DType::F32);
    EXPECT_EQ(shape_str(r[0].shape), "[?,?,?]");
  }
  {
    auto r = infer(make_node("Expand"), {ts(x), dyn});
    EXPECT_EQ(shape_str(r[0].shape), "[?,?,?]");
  }
  {
    auto r = infer(make_node("ConstantOfShape"), {dyn});
    EXPECT_EQ(shape_str(r[0].shape), "[?,?,?]");
  }
  {
    Tensor st = Tensor::from_i64({1}, {1}), en = Tensor::from_i64({1}, {3});
    auto r = infer(make_node("Slice"), {ts(x), ts(st, false), ts(en)});
    EXPECT_EQ(shape_str(r[0].shape), "[?,?,?]");
  }
  {
    Tensor sizes = Tensor::from_i64({4}, {1, 1, 4, 4});
    Tensor x4 = iota_f32({1, 1, 2, 2});
    auto r = infer(make_node("Resize"), {ts(x4), TypeShape{}, TypeShape{}, ts(sizes, false)});
    EXPECT_EQ(shape_str(r[0].shape), "[?,?,?,?]");
  }
  {
    Tensor axes = Tensor::from_i64({1}, {1});
    Node n = make_node("ReduceSum");
    auto r = infer(n, {ts(x), ts(axes, false)});
    EXPECT_EQ(shape_str(r[0].shape), "[?,?,?]");
    r = infer(n, {ts(x), ts(axes)});
    EXPECT_EQ(shape_str(r[0].shape), "[2,1,4]");
  }
  {
    // Unknown input dims propagate.
    TypeShape xs{DType::F32, {-1, 3, 4}, nullptr};
    Tensor s = Tensor::from_i64({2}, {0, -1});
    EXPECT_EQ(shape_str(infer(make_node("Reshape"), {xs, ts(s)})[0].shape), "[?,?]");
    s = Tensor::from_i64({2}, {-1, 12});
    EXPECT_EQ(shape_str(infer(make_node("Reshape"), {xs, ts(s)})[0].shape), "[?,12]");
    EXPECT_EQ(shape_str(infer(make_node("Shape"), {xs})[0].shape), "[3]");
    EXPECT_EQ(shape_str(infer(make_node("Flatten"), {xs})[0].shape), "[?,12]");
  }
}

// ---------------------------------------------------------------- Slice
TEST(RefData, SliceNegativeStepsAndClamping) {
  Node n = make_node("Slice");
  Tensor x = iota_f32({10});
  // Full reverse: start -1, end INT64_MIN, step -1.
  auto out = run(n, {x, Tensor::from_i64({1}, {-1}), Tensor::from_i64({1}, {kMin}), Tensor(),
                     Tensor::from_i64({1}, {-1})});
  expect_f32(out[0], {10}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
  // step -3 from 8 down to (excluding) 1
  out = run(n, {x, Tensor::from_i64({1}, {8}), Tensor::from_i64({1}, {1}), Tensor::from_i64({1}, {0}),
                Tensor::from_i64({1}, {-3})});
  expect_f32(out[0], {3}, {8, 5, 2});
  // start beyond the end clamps to d-1 for negative steps
  out = run(n, {x, Tensor::from_i64({1}, {100}), Tensor::from_i64({1}, {6}), Tensor(), Tensor::from_i64({1}, {-2})});
  expect_f32(out[0], {2}, {9, 7});
  // empty result when start is already past end
  out = run(n, {x, Tensor::from_i64({1}, {2}), Tensor::from_i64({1}, {5}), Tensor(), Tensor::from_i64({1}, {-1})});
  EXPECT_EQ(shape_str(out[0].shape), "[0]");
  // positive step with INT64_MAX end
  out = run(n, {x, Tensor::from_i64({1}, {-3}), Tensor::from_i64({1}, {kMax})});
  expect_f32(out[0], {3}, {7, 8, 9});
}

TEST(RefData, Slice2DNegativeAxisNegativeStep) {
  Node n = make_node("Slice");
  Tensor x = iota_i64({3, 4});
  auto out = run(n, {x, Tensor::from_i64({2}, {-1, 2}), Tensor::from_i64({2}, {kMin, -10}),
                     Tensor::from_i64({2}, {-1, 0}), Tensor::from_i64({2}, {-2, -1})});
  // axis -1 (cols): 3,1 ; axis 0 (rows): 2,1,0
  expect_i64(out[0], {3, 2}, {11, 9, 7, 5, 3, 1});
}

// ---------------------------------------------------------------- Resize
TEST(RefData, ResizeHalfPixelLinear2x2To4x4) {
  Node n = make_node("Resize");
  n.set_s("mode", "linear");
  n.set_s("coordinate_transformation_mode", "half_pixel");
  Tensor x = Tensor::from_f32({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor scales = Tensor::from_f32({4}, {1, 1, 2, 2});
  auto out = run(n, {x, Tensor(), scales});
  expect_f32(out[0], {1, 1, 4, 4},
             {1.0f, 1.25f, 1.75f, 2.0f,   //
              1.5f, 1.75f, 2.25f, 2.5f,   //
              2.5f, 2.75f, 3.25f, 3.5f,   //
              3.0f, 3.25f, 3.75f, 4.0f});
  // Same via sizes.
  out = run(n, {x, Tensor(), Tensor(), Tensor::from_i64({4}, {1, 1, 4, 4})});
  expect_f32(out[0], {1, 1, 4, 4},
             {1.0f, 1.25f, 1.75f, 2.0f, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3.0f, 3.25f, 3.75f, 4.0f});
}

TEST(RefData, ResizeAlignCornersAndNearestModes) {
  Tensor x = Tensor::from_f32({1, 1, 1, 2}, {0, 3});
  Node lin = make_node("Resize");
  lin.set_s("mode", "linear");
  lin.set_s("coordinate_transformation_mode", "align_corners");
  auto out = run(lin, {x, Tensor(), Tensor(), Tensor::from_i64({4}, {1, 1, 1, 4})});
  expect_f32(out[0], {1, 1, 1, 4}, {0, 1, 2, 3});

  Node nn = make_node("Resize");
  nn.set_s("mode", "nearest");
  nn.set_s("coordinate_transformation_mode", "asymmetric");
  nn.set_s("nearest_mode", "floor");
  out = run(nn, {x, Tensor(), Tensor::from_f32({4}, {1, 1, 1, 2})});
  expect_f32(out[0], {1, 1, 1, 4}, {0, 0, 3, 3});
  // int8 data goes through the byte-copying nearest path
  Tensor xi(DType::I8, {1, 2});
  xi.data<int8_t>()[0] = -5;
  xi.data<int8_t>()[1] = 7;
  out = run(nn, {xi, Tensor(), Tensor::from_f32({2}, {2, 1.5f})});
  ASSERT_EQ(shape_str(out[0].shape), "[2,3]");
  EXPECT_EQ(out[0].to_i64_vector(), (std::vector<int64_t>{-5, -5, 7, -5, -5, 7}));
}

// ---------------------------------------------------------------- others
TEST(RefData, PadReflectEdgeAndNegative) {
  Tensor x = Tensor::from_f32({1, 3}, {1, 2, 3});
  Node n = make_node("Pad");
  n.set_s("mode", "reflect");
  auto out = run(n, {x, Tensor::from_i64({4}, {0, 2, 0, 2})});
  expect_f32(out[0], {1, 7}, {3, 2, 1, 2, 3, 2, 1});
  n.set_s("mode", "edge");
  out = run(n, {x, Tensor::from_i64({4}, {0, 1, 0, -1})});
  expect_f32(out[0], {1, 3}, {1, 1, 2});
  n.set_s("mode", "constant");
  out = run(n, {x, Tensor::from_i64({4}, {1, 0, 0, 1}), Tensor::scalar_f32(9)});
  expect_f32(out[0], {2, 4}, {9, 9, 9, 9, 1, 2, 3, 9});
}

TEST(RefData, SplitUnevenNumOutputsAndGatherNegative) {
  Node n = make_node("Split", 3);
  n.set_i("num_outputs", 3);
  auto out = run(n, {iota_f32({7})});
  ASSERT_EQ(out.size(), 3u);
  expect_f32(out[0], {3}, {0, 1, 2});
  expect_f32(out[1], {3}, {3, 4, 5});
  expect_f32(out[2], {1}, {6});

  Node g = make_node("Gather");
  g.set_i("axis", 1);
  out = run(g, {iota_f32({2, 3}), Tensor::from_i64({2}, {-1, 0})});
  expect_f32(out[0], {2, 2}, {2, 0, 5, 3});
}

TEST(RefData, ReduceAxesInputNoopAndArgMaxLastIndex) {
  Tensor x = Tensor::from_f32({2, 3}, {1, 5, 5, 2, 2, 0});
  Node r = make_node("ReduceMax");
  r.set_i("keepdims", 0);
  auto out = run(r, {x, Tensor::from_i64({1}, {-1})});
  expect_f32(out[0], {2}, {5, 2});
  Node s = make_node("ReduceSum");
  s.set_i("noop_with_empty_axes", 1);
  out = run(s, {x, Tensor::from_i64({0}, {})});
  expect_f32(out[0], {2, 3}, {1, 5, 5, 2, 2, 0});
  Node a = make_node("ArgMax");
  a.set_i("axis", 1);
  a.set_i("select_last_index", 1);
  out = run(a, {x});
  expect_i64(out[0], {2, 1}, {2, 1});
  a.set_i("select_last_index", 0);
  out = run(a, {x});
  expect_i64(out[0], {2, 1}, {1, 0});
}

TEST(RefData, TopKTiesPreferLowerIndex) {
  Node n = make_node("TopK", 2);
  auto out = run(n, {Tensor::from_f32({5}, {3, 7, 7, 1, 7}), Tensor::from_i64({1}, {2})});
  expect_f32(out[0], {2}, {7, 7});
  expect_i64(out[1], {2}, {1, 2});
}

TEST(RefData, CastBFloat16RoundsToNearestEven) {
  Node n = make_node("Cast");
  n.set_i("to", int64_t(DType::BF16));
  auto out = run(n, {Tensor::from_f32({2}, {1.0f, 1.00390625f})});  // 1 + 2^-8: halfway -> even (1.0)
  ASSERT_EQ(out[0].dtype, DType::BF16);
  EXPECT_EQ(out[0].data<uint16_t>()[0], 0x3f80);
  EXPECT_EQ(out[0].data<uint16_t>()[1], 0x3f80);
  Node b = make_node("Cast");
  b.set_i("to", int64_t(DType::Bool));
  out = run(b, {Tensor::from_f32({3}, {0, -2, 0.5f})});
  expect_i64(out[0], {3}, {0, 1, 1});
}

TEST(RefData, TransposeAndDepthToSpaceRoundTrip) {
  Tensor x = iota_f32({1, 8, 2, 3});
  for (const char* mode : {"DCR", "CRD"}) {
    Node d2s = make_node("DepthToSpace");
    d2s.set_i("blocksize", 2);
    d2s.set_s("mode", mode);
    auto y = run(d2s, {x});
    ASSERT_EQ(shape_str(y[0].shape), "[1,2,4,6]");
    if (std::string(mode) == "DCR") {
      Node s2d = make_node("SpaceToDepth");
      s2d.set_i("blocksize", 2);
      auto z = run(s2d, {y[0]});
      expect_f32(z[0], {1, 8, 2, 3}, x.to_f32_vector());
    }
  }
  Node t = make_node("Transpose");
  t.set_ints("perm", {2, 0, 1});
  auto y = run(t, {iota_f32({2, 3, 2})});
  expect_f32(y[0], {2, 2, 3}, {0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11});
}

}  // namespace
