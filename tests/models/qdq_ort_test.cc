// The exported QDQ model is standard ONNX: ONNX Runtime 1.30 loads it and
// gives the same top-1 as calibr8's own fused INT8 execution of the same file
// on nearly all validation images; and calibr8's kernels are exact per layer
// against its reference executor (layer_lsb.h).
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/cli_util.h"
#include "eval/datasets/dataset.h"
#include "eval/preprocess.h"
#include "ir/onnx_import.h"
#include "models/layer_lsb.h"
#include "models/ort_peer.h"
#include "report/precision.h"
#include "runtime/ref_executor.h"
#include "runtime/session.h"

using namespace c8;
using namespace c8test;

namespace {

// Depthwise convs may run FP32 by the per-ISA rule (qconv.cc); every other
// conv/gemm layer must run an INT8 kernel.
int depthwise_layers(const Graph& g) {
  int n = 0;
  for (const Node& nd : g.nodes) {
    if (nd.dead || nd.op != "Conv" || nd.inputs.size() < 2 || nd.attr_i("group", 1) == 1) continue;
    int w = nd.inputs[1];
    int p = g.values[size_t(w)].producer;
    if (p >= 0 && g.nodes[size_t(p)].op == "DequantizeLinear") w = g.nodes[size_t(p)].inputs[0];
    const Shape& ws = g.is_const(w) ? g.const_of(w).shape : g.values[size_t(w)].shape;
    n += ws.size() == 4 && ws[1] == 1;
  }
  return n;
}

std::string shared(const std::string& rel) { return std::string(C8_SHARED_DIR) + "/" + rel; }

void check(const std::string& model, const std::string& data, const std::string& pre_flags, const Preprocess& p,
           int size, size_t n_calib, size_t n_eval) {
  std::string dir = temp_dir();
  std::string out = dir + "/int8.onnx";
  CmdResult r = calibr8("calibrate '" + shared(model) + "' --dataset '" + shared(data) + "' --calib-range 0:" +
                        std::to_string(n_calib) + " " + pre_flags + " -o '" + out + "'" +
                        " --min-cosine 0");  // every layer INT8: the export and the runtime are the subject
  ASSERT_EQ(r.code, 0) << r.err;
  auto ds = open_dataset(shared(data));
  std::vector<Tensor> inputs;
  for (size_t i = n_calib; i < n_calib + n_eval && i < ds->size(); ++i) {
    Tensor x(DType::F32, {1, 3, size, size});
    preprocess_into(ds->get(i).image, p, 3, size, size, x.data<float>());
    inputs.push_back(x);
  }
  Session s(load_onnx(out));
  auto ort = ort_run(out, inputs);
  ASSERT_EQ(ort.size(), inputs.size());
  size_t same = 0, ref_ort = 0, ref_ours = 0;
  Graph qg = load_onnx(out);
  RefExecutor ref(qg);
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor y = s.run({inputs[i]})[0];
    int a = argmax(y.data<float>(), size_t(y.numel())), b = argmax(ort[i].data(), ort[i].size());
    same += a == b;
    if (std::getenv("C8_QDQ_ORACLE")) {
      Tensor z = ref.run({inputs[i]})[0];
      int c = argmax(z.data<float>(), size_t(z.numel()));
      ref_ort += c == b;
      ref_ours += c == a;
    }
  }
  if (std::getenv("C8_QDQ_ORACLE")) std::printf("[qdq-oracle] reference QDQ semantics vs ORT %zu, vs calibr8 INT8 %zu\n", ref_ort, ref_ours);
  int int8_layers = 0, qlayers = 0;
  for (const KernelRecord& k : s.kernels()) {
    if (k.op != "QConv" && k.op != "QGemm") continue;
    ++qlayers;
    int8_layers += !kernel_precision(k.impl, DType::U8).empty();  // FP32 fall-backs (their reason says u8s8) do not count
  }
  std::printf("[qdq-ort] %s: same top-1 as ONNX Runtime on %zu/%zu images; %d of %d conv/gemm layers ran INT8\n",
              model.c_str(), same, inputs.size(), int8_layers, qlayers);
  // Exactness is judged per layer (below). End to end, both runtimes round
  // differently at near-ties (ORT's fixed-point requantization, calibr8's
  // FP32 depthwise on AVX-512) and such 1-LSB differences propagate; where
  // an image's top-2 logits are that close, top-1 flips. Measured: ORT itself
  // agrees with the exact QDQ semantics (reference executor) on only 295-298
  // of mobilenet_v1's 300 images (Zen 3 AVX2, Zen 5 VNNI). The floor of 97 %
  // (9 of 300 images) is twice that, so near-tie flips cannot fail it, while a
  // real defect (a misread scale, a saturating layer) costs far more: the old
  // u8s8 saturation took resnet8 from 77 % to 8 % top-1.
  EXPECT_GE(double(same), 0.97 * double(inputs.size()));
  EXPECT_GT(qlayers, 0);
  EXPECT_GE(int8_layers, qlayers - depthwise_layers(load_onnx(out))) << "conv/gemm layers ran FP32 other than depthwise";
  Graph qdq = load_onnx(out);
  for (size_t i = 0; i < 2; ++i) expect_layers_exact(per_layer_lsb(qdq, {inputs[i]}), model);
  std::filesystem::remove_all(dir);
}

}  // namespace

// With C8_QDQ_ORACLE=1 it also prints how often the reference executor (exact
// QDQ semantics) agrees with each runtime.
TEST(QdqExportVsOrt, ResNet8Cifar10) {
  Preprocess p;
  check("models/resnet8_cifar10_mlperftiny.onnx", "data/cifar10-test-2000", "--size 32x32 --mean 0 --std 1", p, 32, 300,
        1700);
}

TEST(QdqExportVsOrt, MobileNetV1ImageNetSample) {
  Preprocess p;
  p.mean = {127.5f};
  p.std = {127.5f};
  check("models/mobilenet_v1_0.25_224.onnx", "data/imagenet-sample-500",
        "--size 224x224 --mean 127.5 --std 127.5 --label-offset 1", p, 224, 200, 300);
}
