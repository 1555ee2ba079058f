// The exported QDQ model is standard ONNX: ONNX Runtime 1.30 loads it and
// gives the same top-1 as calibr8's own fused INT8 execution of the same
// file on >= 99 % of the validation images.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/cli_util.h"
#include "eval/datasets/dataset.h"
#include "eval/preprocess.h"
#include "ir/onnx_import.h"
#include "models/ort_peer.h"
#include "runtime/ref_executor.h"
#include "runtime/session.h"

using namespace c8;
using namespace c8test;

namespace {

std::string shared(const std::string& rel) { return std::string(C8_SHARED_DIR) + "/" + rel; }

void check(const std::string& model, const std::string& data, const std::string& pre_flags, const Preprocess& p,
           int size, size_t n_calib, size_t n_eval) {
  std::string dir = temp_dir();
  std::string out = dir + "/int8.onnx";
  CmdResult r = calibr8("calibrate '" + shared(model) + "' --dataset '" + shared(data) + "' --calib-range 0:" +
                        std::to_string(n_calib) + " " + pre_flags + " -o '" + out + "'");
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
  int int8_layers = 0;
  for (const KernelRecord& k : s.kernels()) int8_layers += k.impl.find("u8s8") != std::string::npos;
  std::printf("[qdq-ort] %s: same top-1 as ONNX Runtime on %zu/%zu images; %d layers ran u8s8\n", model.c_str(), same,
              inputs.size(), int8_layers);
  EXPECT_GE(double(same), 0.99 * double(inputs.size()));
  EXPECT_GT(int8_layers, 0) << "calibr8 must run the QDQ model in INT8, not on the reference Q/DQ kernels";
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
