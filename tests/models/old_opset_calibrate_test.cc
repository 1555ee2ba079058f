// Models of opset < 13 calibrate into valid opset-13 QDQ files that ONNX
// Runtime loads and runs: the whole graph goes through ONNX's version
// converter (Split's `split`, ReduceSum's / Unsqueeze's / Squeeze's `axes`
// attributes become inputs). The old code only raised the opset number, and
// ORT refused the file ("Unsqueeze ... has input size 1 not in range [min=2,
// max=2]"). Also: a model that fails the strict checker is never written.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "cli/cli_util.h"
#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "models/ort_peer.h"
#include "base/error.h"
#include "runtime/session.h"

using namespace c8;
using namespace c8test;

namespace {

int value(Graph& g, const std::string& name, Shape s) {
  int v = g.add_value(name, DType::F32);
  g.values[size_t(v)].shape = std::move(s);
  g.values[size_t(v)].has_shape = true;
  return v;
}

// x[1,3,32,32] -> Conv 3->8 -> Relu -> Split(axis 1, split [4,4]) -> Add ->
// ReduceSum(axes [2,3], keepdims 0) -> Unsqueeze(axes [2]) -> Squeeze(axes [2])
// -> Gemm 4->10 -> Softmax: every op whose attribute form changed by 13.
Graph old_model(int64_t opset) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 0.3f);
  auto rnd = [&](Shape s) {
    Tensor t(DType::F32, s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = nd(rng);
    return t;
  };
  Graph g;
  g.opset = opset;
  g.ir_version = opset <= 9 ? 4 : 6;
  int x = value(g, "x", {1, 3, 32, 32});
  g.inputs = {x};
  int c = value(g, "c", {1, 8, 32, 32});
  int cn = g.add_node("Conv", {x, g.add_constant("w", rnd({8, 3, 3, 3})), g.add_constant("b", rnd({8}))}, {c}, "conv");
  g.nodes[size_t(cn)].set_ints("pads", {1, 1, 1, 1});
  g.nodes[size_t(cn)].set_ints("kernel_shape", {3, 3});
  int r = value(g, "r", {1, 8, 32, 32});
  g.add_node("Relu", {c}, {r}, "relu");
  int a = value(g, "a", {1, 4, 32, 32}), b = value(g, "b2", {1, 4, 32, 32});
  int sp = g.add_node("Split", {r}, {a, b}, "split");
  g.nodes[size_t(sp)].set_i("axis", 1);
  g.nodes[size_t(sp)].set_ints("split", {4, 4});
  int s = value(g, "s", {1, 4, 32, 32});
  g.add_node("Add", {a, b}, {s}, "add");
  int rs = value(g, "rs", {1, 4});
  int rn = g.add_node("ReduceSum", {s}, {rs}, "reduce");
  g.nodes[size_t(rn)].set_ints("axes", {2, 3});
  g.nodes[size_t(rn)].set_i("keepdims", 0);
  int u = value(g, "u", {1, 4, 1});
  g.nodes[size_t(g.add_node("Unsqueeze", {rs}, {u}, "unsqueeze"))].set_ints("axes", {2});
  int q = value(g, "q", {1, 4});
  g.nodes[size_t(g.add_node("Squeeze", {u}, {q}, "squeeze"))].set_ints("axes", {2});
  int f = value(g, "f", {1, 10});
  int gn = g.add_node("Gemm", {q, g.add_constant("fw", rnd({10, 4})), g.add_constant("fb", rnd({10}))}, {f}, "fc");
  g.nodes[size_t(gn)].set_i("transB", 1);
  int y = value(g, "y", {1, 10});
  g.nodes[size_t(g.add_node("Softmax", {f}, {y}, "softmax"))].set_i("axis", 1);
  g.outputs = {y};
  return g;
}

void calibrate_and_run_in_ort(int64_t opset) {
  std::string dir = temp_dir();
  std::string in = dir + "/old.onnx", out = dir + "/int8.onnx";
  save_onnx(old_model(opset), in);
  ASSERT_EQ(load_onnx(in).opset, opset);
  const std::string data = std::string(C8_SHARED_DIR) + "/data/cifar10-test-2000";
  CmdResult res = calibr8("calibrate '" + in + "' --dataset '" + data +
                          "' --calib-range 0:16 --size 32x32 --mean 0 --std 255 -o '" + out + "'");
  ASSERT_EQ(res.code, 0) << res.err;
  Graph q = load_onnx(out);
  EXPECT_EQ(q.opset, 13);
  int unsq = 0, dq = 0;
  for (const Node& n : q.nodes) {
    if (n.op == "Unsqueeze") {
      ++unsq;
      EXPECT_EQ(n.inputs.size(), 2u) << "Unsqueeze keeps its opset-" << opset << " attribute form";
      EXPECT_FALSE(n.has("axes"));
    }
    dq += n.op == "DequantizeLinear";
  }
  EXPECT_EQ(unsq, 1);
  EXPECT_GT(dq, 0) << "nothing was quantized";

  std::mt19937 rng(1);
  std::uniform_real_distribution<float> ux(0.f, 1.f);
  std::vector<Tensor> inputs;
  for (int i = 0; i < 3; ++i) {
    Tensor t(DType::F32, {1, 3, 32, 32});
    for (int64_t k = 0; k < t.numel(); ++k) t.data<float>()[k] = ux(rng);
    inputs.push_back(t);
  }
  std::vector<std::vector<float>> ort;
  ASSERT_NO_THROW(ort = ort_run(out, inputs)) << "ONNX Runtime refuses the opset-" << opset << " calibration result";
  Session s(q);
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor y = s.run({inputs[i]})[0];
    ASSERT_EQ(size_t(y.numel()), ort[i].size());
    // Softmax of logits on the same 8-bit grids: equal up to the last
    // layer's rounding near-ties (one output LSB moves a probability < 0.05).
    for (size_t k = 0; k < ort[i].size(); ++k) EXPECT_NEAR(y.data<float>()[k], ort[i][k], 0.05) << "opset " << opset;
  }
  std::filesystem::remove_all(dir);
}

TEST(OldOpsetCalibrate, Opset9LoadsInOnnxRuntime) { calibrate_and_run_in_ort(9); }
TEST(OldOpsetCalibrate, Opset11LoadsInOnnxRuntime) { calibrate_and_run_in_ort(11); }

// Raising the opset number alone (the old behaviour) gives an invalid file:
// the writer refuses it, names the fault, and leaves no file behind.
TEST(OldOpsetCalibrate, InvalidModelIsNeverWritten) {
  Graph g = old_model(11);
  g.opset = 13;
  std::string dir = temp_dir();
  std::string path = dir + "/bad.onnx";
  try {
    save_onnx(g, path);
    ADD_FAILURE() << "an opset-13 model with an attribute-form Unsqueeze was written";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not valid ONNX"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir)) << "a file was left behind";
  std::filesystem::remove_all(dir);
}

}  // namespace
