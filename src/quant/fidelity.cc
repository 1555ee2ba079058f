#include "quant/fidelity.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "base/error.h"
#include "base/format.h"
#include "eval/task_eval.h"
#include "quant/accuracy_aware.h"
#include "runtime/session.h"

namespace c8 {
namespace {

// The FP32 outputs the guard keeps for its check images: at most this many
// bytes (a segmentation model's 257x257x21 logits are 5.5 MB an image).
constexpr size_t kReferenceBytes = size_t(128) << 20;
constexpr size_t kMinImages = 8;

size_t bytes_of(const ImageOutputs& o) {
  size_t b = 0;
  for (const Tensor& t : o) b += size_t(t.numel()) * sizeof(float);
  return b;
}

}  // namespace

FidelityResult calibrate_with_fidelity(const Graph& fp32, const CalibSource& calib, const CalibSettings& s,
                                       const FidelitySettings& f, const PassProgress& progress) {
  FidelityResult out;
  if (!(f.min_cosine >= 0 && f.min_cosine <= 1)) throw Error("--min-cosine must be between 0 and 1");
  if (f.min_cosine == 0 || f.images == 0) {
    out.model = calibrate_graph(fp32, calib, s, progress);
    out.report = {{"min_cosine", 0}, {"checked", false}};
    return out;
  }
  const auto t0 = std::chrono::steady_clock::now();
  if (calib.batches == 0 || !calib.get) throw Error("calibration needs at least one image");

  // ---- the check images, with their FP32 outputs ----
  // Bias correction fits its shifts to the first calibration images, and on
  // them the INT8 output comes out much closer to FP32 than on unseen images
  // (mobilenet_v1_0.25, Default on imagenet-sample-500 [0, 200): cosine 0.984
  // on the bias images [0, 128), 0.977 on [136, 200), 0.975 on the unseen
  // [200, 500)). So the check takes the last calibration batches, past the
  // bias images, when there are enough of them; else the first ones.
  const size_t bias_n = !s.bias_correction ? 0 : s.bias_images == 0 ? calib.images : std::min(s.bias_images, calib.images);
  const bool past_bias = calib.images >= bias_n + kMinImages;
  struct Row {
    size_t batch = 0;
    int64_t k = 0;
  };
  std::vector<Tensor> inputs;          // the check batches, in calibration order
  std::vector<Row> rows;               // image -> (batch, position)
  std::vector<ImageOutputs> reference; // FP32 outputs per image
  {
    SessionOptions so;
    so.threads = f.threads;
    so.tune = Tune::Exact;  // a calibrated file must not depend on timing (runtime/tuning.h)
    Session sess(fp32, so);
    // Batch order: from the last one back while past the bias images, or
    // from the first one on.
    std::vector<size_t> order;
    for (size_t b = 0; b < calib.batches; ++b) order.push_back(past_bias ? calib.batches - 1 - b : b);
    struct Got {
      Tensor x;
      std::vector<ImageOutputs> outs;
    };
    std::vector<Got> got;
    size_t bytes = 0, limit = f.images, taken = 0, after = 0;  // after: images in the batches behind this one
    for (size_t b : order) {
      if (taken >= limit) break;
      size_t nv = 0;
      Tensor x = calib.get(b, nv);
      if (past_bias && calib.images - after - nv < bias_n) break;  // this batch holds bias images
      after += nv;
      const std::vector<Tensor> y = sess.run({x});
      const int64_t nb = x.rank() >= 1 ? x.shape[0] : 1;
      Got g;
      for (int64_t k = 0; k < int64_t(nv) && taken < limit; ++k, ++taken) {
        ImageOutputs o;
        for (size_t i = 0; i < y.size(); ++i) o.push_back(per_image(y[i], i, k, nb));
        bytes += bytes_of(o);
        g.outs.push_back(std::move(o));
        // Fewer images for large outputs, so the references stay in memory.
        if (bytes > kReferenceBytes) limit = std::max(kMinImages, taken + 1);
      }
      g.x = std::move(x);
      got.push_back(std::move(g));
      if (progress) progress("fidelity check", taken, limit);
    }
    if (past_bias) std::reverse(got.begin(), got.end());  // rows in calibration order: each batch runs once
    for (Got& g : got) {
      for (size_t k = 0; k < g.outs.size(); ++k) {
        rows.push_back({inputs.size(), int64_t(k)});
        reference.push_back(std::move(g.outs[k]));
      }
      inputs.push_back(std::move(g.x));
    }
  }

  // ---- accuracy-aware search with the output cosine as its metric ----
  Validation v;
  v.images = rows.size();
  v.run = [&](const Graph& g, const std::vector<size_t>& want) {
    std::vector<ImageOutputs> r;
    if (&g == &fp32) {
      for (size_t i : want) r.push_back(reference[i]);
      return r;
    }
    // No timing: INT8 nodes run a kernel of their exact contract (the bits
    // any tuning gives), FP32 nodes the fixed rules' kernel, so the layers
    // given back are the same on every run and machine state.
    SessionOptions so;
    so.threads = f.threads;
    so.tune = Tune::Exact;
    Session sess(g, so);
    size_t have = size_t(-1);
    std::vector<Tensor> y;
    for (size_t i : want) {
      const Row& w = rows[i];
      if (w.batch != have) {  // rows come sorted: each batch runs once
        y = sess.run({inputs[w.batch]});
        have = w.batch;
      }
      ImageOutputs o;
      for (size_t j = 0; j < y.size(); ++j) o.push_back(per_image(y[j], j, w.k, inputs[w.batch].shape[0]));
      r.push_back(std::move(o));
    }
    return r;
  };
  v.metric = [&](const std::vector<ImageOutputs>& outs, const std::vector<size_t>& want) {
    double sum = 0;
    for (size_t k = 0; k < want.size(); ++k) {
      double cosine = 0, nmse = 0;
      output_similarity(reference[want[k]], outs[k], cosine, nmse);
      sum += cosine;
    }
    return want.empty() ? 1.0 : sum / double(want.size());
  };
  v.metric_name = "output cosine";

  // Past the bias images the ranges were still fitted to the check images:
  // the search aims a quarter of the way from the bound to 1 (mobilenet_v1_0.25:
  // 0.977 there against 0.975 unseen). On the bias images themselves no
  // margin fits every model (mobilenet_v1_0.25: 0.984 there; fastestdet,
  // calibrated on 40 images: 0.991 there, 0.992 unseen), so the search aims
  // at the bound and the report says where it looked.
  const double aim = f.min_cosine + (past_bias ? (1 - f.min_cosine) * 0.25 : 0.0);
  AccuracyAwareSettings as;
  as.max_drop = 1 - aim;
  as.performance_aware = false;  // by accuracy alone: the same file on every run
  as.sensitivity = false;
  // Bounded work: the 24 cheapest layers ranked, on the 16 images furthest
  // from FP32 (fastestdet, 75 layers, 40 check images: 75 s with every layer
  // ranked on every image).
  as.ranking_images = 16;
  as.max_candidates = 24;
  as.threads = f.threads;
  as.max_revert_share = f.max_share;
  as.revert_reason = "with every layer INT8 the output cosine vs FP32 stayed below " + fmt("%g", f.min_cosine) +
                     " (--min-cosine); the fidelity guard gave this layer back";
  AccuracyAwareResult R = accuracy_aware_quantize(fp32, calib, s, v, as, progress);

  double all = 0, given = 0;
  for (const std::string& l : R.model.layer_names) all += layer_macs(fp32, l);
  for (const std::string& l : R.reverted) given += layer_macs(fp32, l);
  all += given;
  out.model = std::move(R.model);
  // The statistics and bias correction ran once, for Default; every
  // candidate after it reused them.
  out.model.seconds_stats = R.seconds_stats;
  out.model.seconds_bias = R.seconds_bias;
  // The report's settings are the caller's: the layers the guard gave back
  // are in its own section (and in the file's calibr8.fp32_reasons).
  if (out.model.report.contains("settings")) out.model.report["settings"]["ignore"] = s.ignore;
  if (out.model.report.contains("seconds")) {
    out.model.report["seconds"]["statistics"] = R.seconds_stats;
    out.model.report["seconds"]["bias_correction"] = R.seconds_bias;
    out.model.report["seconds"]["fidelity_guard"] = R.seconds;
  }
  // The whole calibration, check and search included (bench/calib_cost.sh reads it).
  out.model.seconds_total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (out.model.report.contains("seconds")) out.model.report["seconds"]["total"] = out.model.seconds_total;
  out.report = {{"checked", true},
                {"min_cosine", f.min_cosine},
                {"aimed_cosine", aim},
                {"images", rows.size()},
                {"images_from", past_bias ? "the last calibration images, past those bias correction fitted"
                                          : "the first calibration images"},
                {"default_cosine", R.start},
                {"final_cosine", R.final_metric},
                {"met", R.met},
                {"reverted", R.reverted},
                {"reverted_share", all > 0 ? given / all : 0.0},
                {"max_share", f.max_share},
                {"evaluations", R.evaluations + R.ranking_evaluations},
                {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
  return out;
}

}  // namespace c8
