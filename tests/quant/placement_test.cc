// Quantizer placement (pattern search) on small hand-built graphs.
#include <gtest/gtest.h>

#include "quant/placement.h"
#include "quant_test_util.h"

namespace c8 {
namespace {

using c8test::GraphBuilder;

bool quantized(const Graph& g, const QuantPlacement& p, const std::string& value) {
  return p.act_index(g.find_value(value)) >= 0;
}
int group_of(const Graph& g, const QuantPlacement& p, const std::string& value) {
  int a = p.act_index(g.find_value(value));
  return a < 0 ? -1 : p.acts[size_t(a)].group;
}

TEST(QuantPlacement, Int8FlowsThroughMaxPool) {
  GraphBuilder b;
  int x = b.input("x", {1, 3, 8, 8});
  int c1 = b.conv("conv1", x, 3, 4, 3);
  int r = b.op("Relu", "relu1", {c1});
  int mp = b.op("MaxPool", "pool", {r});
  b.g.nodes.back().set_ints("kernel_shape", {2, 2});
  b.g.nodes.back().set_ints("strides", {2, 2});
  int c2 = b.conv("conv2", mp, 4, 2, 1);
  b.g.outputs = {c2};
  ASSERT_EQ(b.g.verify(), "");
  QuantPlacement p = place_quantizers(b.g);
  EXPECT_TRUE(quantized(b.g, p, "x"));
  EXPECT_TRUE(quantized(b.g, p, "pool.out"));   // input of conv2
  EXPECT_TRUE(quantized(b.g, p, "relu1.out"));  // propagated through MaxPool
  EXPECT_FALSE(quantized(b.g, p, "conv1.out")); // no quantizer between Conv and its Relu
  EXPECT_FALSE(quantized(b.g, p, "conv2.out")); // graph output stays FP32
  EXPECT_EQ(group_of(b.g, p, "pool.out"), group_of(b.g, p, "relu1.out"));  // one scale across the pool
  EXPECT_NE(group_of(b.g, p, "x"), group_of(b.g, p, "pool.out"));
  EXPECT_TRUE(p.acts[size_t(p.act_index(b.g.find_value("relu1.out")))].nonneg_hint);
  ASSERT_EQ(p.weights.size(), 2u);
  EXPECT_EQ(p.weights[0].axis, 0);
  EXPECT_EQ(p.layers.size(), 2u);
  // MaxPool counts as INT8, not as an FP32 node.
  for (int n : p.fp32_nodes) EXPECT_NE(b.g.nodes[size_t(n)].op, "MaxPool");
}

TEST(QuantPlacement, ConcatInputsShareOneScale) {
  GraphBuilder b;
  int x = b.input("x", {1, 3, 8, 8});
  int c1 = b.conv("conv1", x, 3, 4, 3);
  int c2 = b.conv("conv2", x, 3, 4, 1);
  int r2 = b.op("Relu", "relu2", {c2});
  int cat = b.op("Concat", "cat", {c1, r2});
  b.g.nodes.back().set_i("axis", 1);
  int c3 = b.conv("conv3", cat, 8, 2, 1);
  b.g.outputs = {c3};
  QuantPlacement p = place_quantizers(b.g);
  int gcat = group_of(b.g, p, "cat.out");
  ASSERT_GE(gcat, 0);
  EXPECT_EQ(group_of(b.g, p, "conv1.out"), gcat);
  EXPECT_EQ(group_of(b.g, p, "relu2.out"), gcat);
  EXPECT_EQ(p.groups[size_t(gcat)].size(), 3u);
}

TEST(QuantPlacement, ResidualAddQuantizesBothInputs) {
  GraphBuilder b;
  int x = b.input("x", {1, 4, 8, 8});
  int c1 = b.conv("conv1", x, 4, 4, 3, {1, 4, 8, 8});
  int r1 = b.op("Relu", "relu1", {c1}, {1, 4, 8, 8});
  int c2 = b.conv("conv2", r1, 4, 4, 3, {1, 4, 8, 8});
  int add = b.op("Add", "add", {r1, c2}, {1, 4, 8, 8});
  int r2 = b.op("Relu", "relu2", {add}, {1, 4, 8, 8});
  int gap = b.op("GlobalAveragePool", "gap", {r2});
  int fl = b.op("Flatten", "flat", {gap});
  int w = b.g.add_constant("fc.w", c8test::randn_like({3, 4}, 99));
  int y = b.val("fc.out");
  b.g.add_node("Gemm", {fl, w}, {y}, "fc");
  b.g.nodes.back().set_i("transB", 1);
  int sm = b.op("Softmax", "softmax", {y});
  b.g.outputs = {sm};
  QuantPlacement p = place_quantizers(b.g);
  EXPECT_TRUE(quantized(b.g, p, "relu1.out"));
  EXPECT_TRUE(quantized(b.g, p, "conv2.out"));
  // Gemm input propagates through Flatten and GlobalAveragePool.
  EXPECT_TRUE(quantized(b.g, p, "flat.out"));
  EXPECT_TRUE(quantized(b.g, p, "gap.out"));
  EXPECT_TRUE(quantized(b.g, p, "relu2.out"));
  EXPECT_EQ(group_of(b.g, p, "flat.out"), group_of(b.g, p, "relu2.out"));
  // Softmax stays FP32: neither its input nor output is quantized.
  EXPECT_FALSE(quantized(b.g, p, "fc.out"));
  EXPECT_FALSE(quantized(b.g, p, "softmax.out"));
  bool softmax_fp32 = false;
  for (int n : p.fp32_nodes) softmax_fp32 |= b.g.nodes[size_t(n)].op == "Softmax";
  EXPECT_TRUE(softmax_fp32);
  // Gemm with transB: weight [N, K] -> axis 0.
  int fc = b.node_id("fc");
  bool found = false;
  for (auto& wq : p.weights)
    if (wq.node == fc) {
      found = true;
      EXPECT_EQ(wq.axis, 0);
    }
  EXPECT_TRUE(found);
}

TEST(QuantPlacement, IgnoreByNameAndByOpType) {
  GraphBuilder b;
  int x = b.input("x", {1, 3, 8, 8});
  int c1 = b.conv("conv1", x, 3, 4, 3);
  int r = b.op("Relu", "relu1", {c1});
  int c2 = b.conv("conv2", r, 4, 2, 1);
  int mp = b.op("MaxPool", "pool", {c2});
  b.g.nodes.back().set_ints("kernel_shape", {1, 1});
  int c3 = b.conv("conv3", mp, 2, 2, 1);
  b.g.outputs = {c3};
  {
    PlacementOptions o;
    o.ignore = {"conv2"};
    QuantPlacement p = place_quantizers(b.g, o);
    EXPECT_FALSE(quantized(b.g, p, "relu1.out"));  // conv2 is FP32: its input needs no quantizer
    EXPECT_TRUE(quantized(b.g, p, "x"));
    EXPECT_EQ(p.layers.size(), 2u);
    for (auto& w : p.weights) EXPECT_NE(b.g.nodes[size_t(w.node)].name, "conv2");
  }
  {
    PlacementOptions o;
    o.ignore = {"MaxPool"};
    QuantPlacement p = place_quantizers(b.g, o);
    EXPECT_TRUE(quantized(b.g, p, "pool.out"));   // conv3 still wants INT8
    EXPECT_FALSE(quantized(b.g, p, "conv2.out")); // ignored pool does not propagate
  }
  {
    PlacementOptions o;
    o.ignore = {"Conv"};
    QuantPlacement p = place_quantizers(b.g, o);
    EXPECT_TRUE(p.acts.empty());
    EXPECT_TRUE(p.weights.empty());
  }
}

TEST(QuantPlacement, IgnoredConsumerReadsFp32) {
  GraphBuilder b;
  int x = b.input("x", {1, 3, 8, 8});
  int c1 = b.conv("conv1", x, 3, 4, 3);
  int c2 = b.conv("conv2", x, 3, 4, 3);
  b.g.outputs = {c1, c2};
  PlacementOptions o;
  o.ignore = {"conv2"};
  QuantPlacement p = place_quantizers(b.g, o);
  int a = p.act_index(x);
  ASSERT_GE(a, 0);
  ASSERT_EQ(p.acts[size_t(a)].consumers.size(), 1u);
  EXPECT_EQ(b.g.nodes[size_t(p.acts[size_t(a)].consumers[0])].name, "conv1");
}

}  // namespace
}  // namespace c8
