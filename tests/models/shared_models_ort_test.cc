// The four real models in ../shared on their data sets: calibr8's fast
// runtime against ONNX Runtime on identical input tensors (top-1 of every
// image, max |difference| of outputs), and calibr8's accuracy against the
// FP32 figures in ../shared/ASSETS.md.
#include <gtest/gtest.h>

#include <cmath>

#include "eval/datasets/dataset.h"
#include "eval/metrics/topk.h"
#include "eval/preprocess.h"
#include "ir/onnx_import.h"
#include "models/ort_peer.h"
#include "runtime/session.h"

using namespace c8;
using namespace c8test;

namespace {

std::string shared(const std::string& rel) { return std::string(C8_SHARED_DIR) + "/" + rel; }

struct PeerRun {
  std::vector<Tensor> inputs;
  std::vector<int> labels;
  std::vector<std::vector<float>> ours, ort;
};

PeerRun run_both(const std::string& model, const std::string& data, const Preprocess& p, int c, int h, int w) {
  PeerRun r;
  auto ds = open_dataset(shared(data));
  for (size_t i = 0; i < ds->size(); ++i) {
    Sample s = ds->get(i);
    Tensor x(DType::F32, {1, c, h, w});
    preprocess_into(s.image, p, c, h, w, x.data<float>());
    r.inputs.push_back(x);
    r.labels.push_back(s.label);
  }
  Session sess(load_onnx(shared(model)));
  for (const Tensor& x : r.inputs) {
    Tensor y = sess.run({x})[0];
    r.ours.emplace_back(y.data<float>(), y.data<float>() + y.numel());
  }
  r.ort = ort_run(shared(model), r.inputs);
  return r;
}

struct Agreement {
  size_t same_top1 = 0, n = 0;
  double max_abs = 0, max_ref = 0;
};

Agreement agree(const PeerRun& r) {
  Agreement a;
  for (size_t i = 0; i < r.ours.size(); ++i) {
    const auto& o = r.ours[i];
    const auto& t = r.ort[i];
    EXPECT_EQ(o.size(), t.size());
    a.same_top1 += argmax(o.data(), o.size()) == argmax(t.data(), t.size());
    ++a.n;
    for (size_t k = 0; k < o.size() && k < t.size(); ++k) {
      a.max_abs = std::max(a.max_abs, std::fabs(double(o[k]) - double(t[k])));
      a.max_ref = std::max(a.max_ref, std::fabs(double(t[k])));
    }
  }
  std::printf("[agreement] same top-1 %zu/%zu, max|diff| %.3g (max|ort| %.3g)\n", a.same_top1, a.n, a.max_abs, a.max_ref);
  return a;
}

double top1(const PeerRun& r, int offset) {
  TopK t;
  for (size_t i = 0; i < r.ours.size(); ++i) t.add(r.ours[i].data(), int(r.ours[i].size()), r.labels[i] + offset);
  return t.top1();
}

}  // namespace

TEST(SharedModelsVsOrt, MobileNetV1OnImageNetSample) {
  Preprocess p;
  p.mean = {127.5f};
  p.std = {127.5f};
  p.label_offset = 1;
  PeerRun r = run_both("models/mobilenet_v1_0.25_224.onnx", "data/imagenet-sample-500", p, 3, 224, 224);
  Agreement a = agree(r);
  EXPECT_EQ(a.same_top1, a.n);
  EXPECT_LE(a.max_abs, 1e-4);  // softmax probabilities
  // ASSETS.md: 55.0 % with PIL's JPEG decoder; stb decodes a few levels differently.
  double acc = top1(r, 1);
  std::printf("[accuracy] mobilenet_v1_0.25 top-1 %.2f %%\n", 100 * acc);
  EXPECT_NEAR(acc, 0.550, 0.006);
}

TEST(SharedModelsVsOrt, ResNet8OnCifar10) {
  Preprocess p;
  PeerRun r = run_both("models/resnet8_cifar10_mlperftiny.onnx", "data/cifar10-test-2000", p, 3, 32, 32);
  Agreement a = agree(r);
  EXPECT_EQ(a.same_top1, a.n);
  EXPECT_LE(a.max_abs, 1e-4);
  double acc = top1(r, 0);
  std::printf("[accuracy] resnet8 top-1 %.2f %%\n", 100 * acc);
  EXPECT_NEAR(acc, 0.764, 1e-9);  // PNG decodes bit-exactly: the figure must match exactly
}

TEST(SharedModelsVsOrt, FastestDetOnIndoorDet) {
  Preprocess p;
  p.width = p.height = 352;
  p.color = "bgr";
  p.mean = {0};
  p.std = {255};
  PeerRun r = run_both("models/fastestdet_coco_352.onnx", "data/indoor-det-85", p, 3, 352, 352);
  Agreement a = agree(r);
  // Outputs are sigmoid/softmax probabilities and raw box regressions (|x| < ~10).
  EXPECT_LE(a.max_abs, 1e-3 * std::max(1.0, a.max_ref));
}

TEST(SharedModelsVsOrt, DeepLabOnVocSeg) {
  Preprocess p;
  p.width = p.height = 257;
  p.mean = {127.5f};
  p.std = {127.5f};
  PeerRun r = run_both("models/deeplabv3_mnv2_dm05_voc_257.onnx", "data/voc2012-seg-3", p, 3, 257, 257);
  Agreement a = agree(r);
  EXPECT_LE(a.max_abs, 1e-4 * std::max(1.0, a.max_ref));
  // Per-pixel class (argmax over the 21 logits) must agree everywhere.
  size_t px = 257 * 257, differ = 0;
  for (size_t i = 0; i < r.ours.size(); ++i)
    for (size_t q = 0; q < px; ++q) {
      int bo = 0, bt = 0;
      for (int c = 1; c < 21; ++c) {
        if (r.ours[i][c * px + q] > r.ours[i][bo * px + q]) bo = c;
        if (r.ort[i][c * px + q] > r.ort[i][bt * px + q]) bt = c;
      }
      differ += bo != bt;
    }
  std::printf("[agreement] deeplab pixels with a different class: %zu of %zu\n", differ, px * r.ours.size());
  EXPECT_EQ(differ, 0u);
}
