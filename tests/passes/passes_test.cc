// Each pass alone: the rewrite it must make, and that the graph computes the
// same thing before and after (reference executor on seeded random input).
#include <gtest/gtest.h>

#include <random>

#include "passes/passes.h"
#include "runtime/ref_executor.h"

using namespace c8;

namespace {

Tensor rand_tensor(Shape s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  Tensor t(DType::F32, s);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

float max_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape, b.shape);
  float m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a.data<float>()[i] - b.data<float>()[i]));
  return m;
}

bool have(std::initializer_list<const char*> ops) {
  for (const char* op : ops)
    if (!find_op(op)) return false;
  return true;
}

// x[1,3,8,8] -> Conv(4, 3x3, pad 1) -> BN -> Relu -> Add(shortcut conv 1x1) -> Relu -> y
Graph residual_block() {
  Graph g;
  int x = g.add_value("x", DType::F32);
  g.values[size_t(x)].shape = {1, 3, 8, 8};
  g.values[size_t(x)].has_shape = true;
  g.inputs = {x};
  auto val = [&](const char* n) {
    int v = g.add_value(n, DType::F32);
    g.values[size_t(v)].shape = {1, 4, 8, 8};
    g.values[size_t(v)].has_shape = true;
    return v;
  };
  int w1 = g.add_constant("w1", rand_tensor({4, 3, 3, 3}, 1));
  int b1 = g.add_constant("b1", rand_tensor({4}, 2));
  int c1 = val("c1");
  int n1 = g.add_node("Conv", {x, w1, b1}, {c1}, "conv1");
  g.nodes[size_t(n1)].set_ints("pads", {1, 1, 1, 1});
  int gamma = g.add_constant("gamma", rand_tensor({4}, 3, 0.5f, 1.5f));
  int beta = g.add_constant("beta", rand_tensor({4}, 4));
  int mean = g.add_constant("mean", rand_tensor({4}, 5));
  int var = g.add_constant("var", rand_tensor({4}, 6, 0.5f, 2.f));
  int bn = val("bn");
  g.add_node("BatchNormalization", {c1, gamma, beta, mean, var}, {bn}, "bn1");
  int r1 = val("r1");
  g.add_node("Relu", {bn}, {r1}, "relu1");
  int w2 = g.add_constant("w2", rand_tensor({4, 3, 1, 1}, 7));
  int c2 = val("c2");
  g.add_node("Conv", {x, w2}, {c2}, "shortcut");
  int w3 = g.add_constant("w3", rand_tensor({4, 4, 3, 3}, 8));
  int c3 = val("c3");
  int n3 = g.add_node("Conv", {r1, w3}, {c3}, "conv2");
  g.nodes[size_t(n3)].set_ints("pads", {1, 1, 1, 1});
  int s = val("sum");
  g.add_node("Add", {c3, c2}, {s}, "add");
  int y = val("y");
  g.add_node("Relu", {s}, {y}, "relu2");
  g.outputs = {y};
  EXPECT_EQ(g.verify(), "");
  return g;
}

}  // namespace

TEST(Passes, FoldBatchNormThenFuseActivationAndSumKeepsResults) {
  if (!have({"Conv", "BatchNormalization", "Relu", "Add"})) GTEST_SKIP() << "reference kernels not registered";
  Graph g = residual_block();
  Tensor x = rand_tensor({1, 3, 8, 8}, 42);
  Tensor before = RefExecutor(g).run({x})[0];

  EXPECT_EQ(fold_batchnorm(g), 1);
  EXPECT_EQ(g.op_histogram().count("BatchNormalization"), 0u);
  EXPECT_LT(max_diff(before, RefExecutor(g).run({x})[0]), 1e-4f);

  EXPECT_EQ(fuse_activation(g), 1);  // relu1 into conv1
  EXPECT_EQ(fuse_sum(g), 1);         // add into conv2 (runs after the shortcut)
  EXPECT_EQ(fuse_activation(g), 1);  // relu2 after the sum
  EXPECT_EQ(g.verify(), "");
  auto h = g.op_histogram();
  EXPECT_EQ(h.count("Relu"), 0u);
  EXPECT_EQ(h.count("Add"), 0u);
  EXPECT_EQ(h["Conv"], 3);
  const Node* conv2 = nullptr;
  for (const Node& n : g.nodes)
    if (n.name == "conv2") conv2 = &n;
  ASSERT_NE(conv2, nullptr);
  ASSERT_EQ(conv2->post_ops.size(), 2u);
  EXPECT_EQ(conv2->post_ops[0].kind, PostOp::Sum);
  EXPECT_EQ(conv2->post_ops[1].op, "Relu");
  EXPECT_LT(max_diff(before, RefExecutor(g).run({x})[0]), 1e-4f);
}

TEST(Passes, FoldBatchNormLeavesGraphOutputsAlone) {
  Graph g = residual_block();
  // conv1's output is visible: folding BN into conv1 would change it.
  g.outputs.push_back(g.find_value("c1"));
  EXPECT_EQ(fold_batchnorm(g), 0);
  EXPECT_EQ(g.op_histogram()["BatchNormalization"], 1);
}

// A conv whose output is a graph output cannot take its Relu in: the output
// must stay the pre-activation value. (The test once named so ran only
// fold_batchnorm, on a Relu that reads the BN, so it could not fail.)
TEST(Passes, FuseActivationLeavesGraphOutputsAlone) {
  if (!have({"Conv", "BatchNormalization", "Relu", "Add"})) GTEST_SKIP() << "reference kernels not registered";
  Graph g = residual_block();
  Tensor x = rand_tensor({1, 3, 8, 8}, 42);
  ASSERT_EQ(fold_batchnorm(g), 1);  // conv1 now writes what relu1 reads
  const Node* relu1 = nullptr;
  for (const Node& n : g.nodes)
    if (!n.dead && n.name == "relu1") relu1 = &n;
  ASSERT_NE(relu1, nullptr);
  const int pre = relu1->inputs[0];
  g.outputs.push_back(pre);
  std::vector<Tensor> before = RefExecutor(g).run({x});
  fuse_activation(g);
  EXPECT_EQ(g.verify(), "");
  bool relu1_kept = false;
  for (const Node& n : g.nodes) {
    if (!n.dead && n.name == "relu1") relu1_kept = true;
    if (!n.dead && n.name == "conv1") {
      EXPECT_TRUE(n.post_ops.empty()) << "conv1 took in relu1 though its output is a graph output";
    }
  }
  EXPECT_TRUE(relu1_kept);
  std::vector<Tensor> after = RefExecutor(g).run({x});
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) EXPECT_LT(max_diff(before[i], after[i]), 1e-6f) << "output " << i;
  // The visible pre-activation value really has negatives (so a fused Relu would show).
  float mn = 0;
  for (int64_t i = 0; i < after[1].numel(); ++i) mn = std::min(mn, after[1].data<float>()[i]);
  EXPECT_LT(mn, 0.f);
}

TEST(Passes, RemoveIdentityKeepsOutputName) {
  Graph g;
  int x = g.add_value("x", DType::F32);
  g.inputs = {x};
  int a = g.add_value("a", DType::F32), b = g.add_value("b", DType::F32);
  g.add_node("Relu", {x}, {a}, "relu");
  g.add_node("Identity", {a}, {b}, "id");
  g.outputs = {b};
  EXPECT_EQ(remove_identity(g), 1);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.values[size_t(g.outputs[0])].name, "b");
  EXPECT_EQ(g.verify(), "");
}

TEST(Passes, SiluAndHardSwishPatterns) {
  Graph g;
  int x = g.add_value("x", DType::F32);
  g.inputs = {x};
  int s = g.add_value("s"), y = g.add_value("y"), h = g.add_value("h"), z = g.add_value("z");
  g.add_node("Sigmoid", {x}, {s}, "sig");
  g.add_node("Mul", {x, s}, {y}, "mul");
  int hs = g.add_node("HardSigmoid", {y}, {h}, "hsig");
  g.nodes[size_t(hs)].set_f("alpha", 1.f / 6);
  g.nodes[size_t(hs)].set_f("beta", 0.5f);
  g.add_node("Mul", {h, y}, {z}, "mul2");
  g.outputs = {z};
  Tensor in = rand_tensor({2, 5}, 9, -5, 5);
  bool can_run = have({"Sigmoid", "Mul", "HardSigmoid", "SiLU", "HardSwish"});
  Tensor before;
  if (can_run) before = RefExecutor(g).run({in})[0];
  EXPECT_EQ(fuse_silu_hardswish(g), 2);
  auto hist = g.op_histogram();
  EXPECT_EQ(hist["SiLU"], 1);
  EXPECT_EQ(hist["HardSwish"], 1);
  EXPECT_EQ(hist.count("Mul"), 0u);
  if (can_run) { EXPECT_LT(max_diff(before, RefExecutor(g).run({in})[0]), 1e-5f); }
}

TEST(Passes, FoldConstantsEvaluatesShapeArithmetic) {
  if (!have({"Add", "Mul"})) GTEST_SKIP();
  Graph g;
  int x = g.add_value("x", DType::F32);
  g.inputs = {x};
  int c1 = g.add_constant("c1", Tensor::from_f32({2}, {1, 2}));
  int c2 = g.add_constant("c2", Tensor::from_f32({2}, {3, 4}));
  int s = g.add_value("s"), y = g.add_value("y");
  g.add_node("Add", {c1, c2}, {s}, "fold_me");
  g.add_node("Mul", {x, s}, {y}, "keep_me");
  g.outputs = {y};
  EXPECT_EQ(fold_constants(g), 1);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].name, "keep_me");
  const Tensor& folded = g.const_of(g.nodes[0].inputs[1]);
  EXPECT_EQ(folded.to_f32_vector(), (std::vector<float>{4, 6}));
}

// Shape specialisation with a fold limit (fuse_qdq's shape pass): values come
// out with their shapes, a weight's DequantizeLinear above the limit stays a
// node instead of being expanded to floats through the reference kernel, and
// the small shape sub-graph is still folded.
TEST(Passes, SpecializeFoldsOnlyUpToTheLimit) {
  auto build = [] {
    Graph g;
    int x = g.add_value("x", DType::F32);
    g.values[size_t(x)].shape = {-1, 64};
    g.values[size_t(x)].has_shape = true;
    g.inputs = {x};
    Tensor w(DType::I8, {64, 128});
    for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = int8_t(i % 255 - 127);
    Tensor s(DType::F32, {});
    s.data<float>()[0] = 0.05f;
    int wq = g.add_constant("wq", w);
    int ws = g.add_constant("ws", s);
    int wf = g.add_value("wf");
    g.add_node("DequantizeLinear", {wq, ws}, {wf}, "dq_w");
    int y = g.add_value("y");
    g.add_node("MatMul", {x, wf}, {y}, "mm");
    int shp = g.add_value("shp");
    g.add_node("Shape", {y}, {shp}, "shape");
    int r = g.add_value("r");
    g.add_node("Reshape", {y, shp}, {r}, "reshape");
    g.outputs = {r};
    EXPECT_EQ(g.verify(), "");
    return g;
  };
  auto dq_alive = [](const Graph& g) {
    for (const Node& n : g.nodes)
      if (!n.dead && n.op == "DequantizeLinear") return true;
    return false;
  };
  auto shape_folded = [](const Graph& g) {
    for (const Node& n : g.nodes)
      if (!n.dead && n.op == "Shape") return false;
    return true;
  };
  Graph limited = build();
  specialize(limited, {{2, 64}}, 4096);
  EXPECT_TRUE(dq_alive(limited));
  EXPECT_TRUE(shape_folded(limited));
  const Value& r = limited.values[size_t(limited.outputs[0])];
  EXPECT_EQ(r.shape, (Shape{2, 128}));
  Graph full = build();
  specialize(full, {{2, 64}});
  EXPECT_FALSE(dq_alive(full));
  EXPECT_EQ(full.values[size_t(full.outputs[0])].shape, (Shape{2, 128}));
}
