// torchvision 0.14 architectures (seeded random weights, opset 13, exported by
// scripts/export_torchvision.py into build/models) on real images: calibr8
// (one batch of all images: dynamic batch) against ONNX Runtime (one image
// at a time) on identical input tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "eval/datasets/dataset.h"
#include "eval/preprocess.h"
#include "ir/onnx_import.h"
#include "models/ort_peer.h"
#include "runtime/session.h"

using namespace c8;
using namespace c8test;

namespace {

constexpr int kImages = 6;

struct TvCase {
  const char* name;
  int size;     // input resolution
  bool seg;     // segmentation output [N,21,H,W]
};

class Torchvision : public ::testing::TestWithParam<TvCase> {};

TEST_P(Torchvision, AgreesWithOnnxRuntime) {
  const TvCase& c = GetParam();
  std::string model = std::string(C8_BUILD_DIR) + "/models/" + c.name + ".onnx";
  ASSERT_TRUE(std::filesystem::exists(model)) << model << " missing: run /usr/bin/python3 scripts/export_torchvision.py "
                                              << C8_BUILD_DIR << "/models (scripts/test.sh does)";
  Preprocess p;  // torchvision ImageNet preprocessing
  p.resize = c.size * 256 / 224;
  p.crop = c.size;
  p.mean = {123.675f, 116.28f, 103.53f};
  p.std = {58.395f, 57.12f, 57.375f};
  auto ds = open_dataset(std::string(C8_SHARED_DIR) + "/data/imagenet-sample-500");
  std::vector<Tensor> singles;
  Tensor batch(DType::F32, {kImages, 3, c.size, c.size});
  size_t per = size_t(3) * size_t(c.size) * size_t(c.size);
  for (int i = 0; i < kImages; ++i) {
    Sample s = ds->get(size_t(i) * 50);
    Tensor x(DType::F32, {1, 3, c.size, c.size});
    preprocess_into(s.image, p, 3, c.size, c.size, x.data<float>());
    std::memcpy(batch.data<float>() + size_t(i) * per, x.data<float>(), per * 4);
    singles.push_back(x);
  }
  Session sess(load_onnx(model));
  Tensor y = sess.run({batch})[0];
  auto ort = ort_run(model, singles);
  ASSERT_EQ(ort.size(), size_t(kImages));
  size_t out_per = size_t(y.numel()) / kImages;
  ASSERT_EQ(ort[0].size(), out_per);
  double max_abs = 0, max_ref = 0;
  int same_top1 = 0;
  size_t px_differ = 0, px_total = 0;
  for (int i = 0; i < kImages; ++i) {
    const float* o = y.data<float>() + size_t(i) * out_per;
    const float* t = ort[size_t(i)].data();
    for (size_t k = 0; k < out_per; ++k) {
      max_abs = std::max(max_abs, std::fabs(double(o[k]) - double(t[k])));
      max_ref = std::max(max_ref, std::fabs(double(t[k])));
    }
    if (c.seg) {
      size_t px = out_per / 21;
      for (size_t q = 0; q < px; ++q) {
        int bo = 0, bt = 0;
        for (int k = 1; k < 21; ++k) {
          if (o[size_t(k) * px + q] > o[size_t(bo) * px + q]) bo = k;
          if (t[size_t(k) * px + q] > t[size_t(bt) * px + q]) bt = k;
        }
        px_differ += bo != bt;
        ++px_total;
      }
    } else {
      same_top1 += argmax(o, out_per) == argmax(t, out_per);
    }
  }
  double rel = max_abs / std::max(1.0, max_ref);
  std::printf("[agreement] %s: top-1 %d/%d, max|diff| %.3g, max|ort| %.3g, relative %.3g, seg pixels differing %zu/%zu\n",
              c.name, same_top1, c.seg ? 0 : kImages, max_abs, max_ref, rel, px_differ, px_total);
  if (c.seg) {
    EXPECT_LE(double(px_differ), 1e-4 * double(px_total));
  } else {
    EXPECT_EQ(same_top1, kImages);
  }
  // Different FP32 summation orders (blocked oneDNN kernels vs MLAS): relative bound.
  EXPECT_LE(rel, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(
    Models, Torchvision,
    ::testing::Values(TvCase{"resnet50", 224, false}, TvCase{"mobilenet_v2", 224, false},
                      TvCase{"mobilenet_v3_large", 224, false}, TvCase{"googlenet", 224, false},
                      TvCase{"inception_v3", 299, false}, TvCase{"densenet121", 224, false},
                      TvCase{"vgg16", 224, false}, TvCase{"squeezenet1_0", 224, false},
                      TvCase{"shufflenet_v2_x1_0", 224, false}, TvCase{"efficientnet_b0", 224, false},
                      TvCase{"deeplabv3_mobilenet_v3_large", 224, true}),
    [](const ::testing::TestParamInfo<TvCase>& i) { return std::string(i.param.name); });

}  // namespace
