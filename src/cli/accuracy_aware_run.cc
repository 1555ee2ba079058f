#include "cli/accuracy_aware_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <tuple>

#include "base/error.h"
#include "base/format.h"
#include "eval/datasets/dataset.h"
#include "eval/metrics/topk.h"
#include "quant/calibrate.h"
#include "report/compare.h"
#include "runtime/session.h"

namespace c8 {
namespace {

size_t parse_holdout(const std::string& spec, size_t n) {
  if (spec.empty()) return 0;
  const bool pct = spec.back() == '%';
  const std::string num = pct ? spec.substr(0, spec.size() - 1) : spec;
  char* end = nullptr;
  const double v = std::strtod(num.c_str(), &end);
  if (num.empty() || *end != '\0' || !(v >= 0) || !std::isfinite(v) || (pct && v > 100) || (!pct && v != std::floor(v)))
    throw Error("--holdout " + spec + ": expected a number of images (50) or a percentage (20%)");
  const double kd = pct ? std::floor(double(n) * v / 100) : v;
  if (kd >= double(n))
    throw Error("--holdout " + spec + ": leaves none of the " + std::to_string(n) + " validation images to decide on");
  const size_t k = size_t(kd);
  if (k >= n) throw Error("--holdout " + spec + ": leaves none of the " + std::to_string(n) + " validation images to decide on");
  return k;
}

}  // namespace

AccuracyAwareRun run_accuracy_aware(const Graph& fp32, const std::string& model_path, const CalibSource& calib,
                                    const CalibSettings& s, const Preprocess& p, const ImageInput& in,
                                    const AccuracyAwareArgs& a, const AccuracyAwareProgress& progress) {
  if (a.dataset.empty()) throw Error("accuracy-aware decides on --dataset: give the annotated data set to validate on");
  if (a.drop_type == "relative" && a.max_drop > 100)
    throw Error("--max-drop " + std::to_string(a.max_drop) + ": a relative drop is a percentage of the FP32 metric (0..100)");
  auto ds = open_dataset(a.dataset);
  if (ds->has_boxes() || (ds->size() > 0 && !ds->annotation_paths(0).empty()))
    throw Error(a.dataset + ": accuracy-aware decides on classification data sets so far (labels); detection and "
                "segmentation annotations are not supported by it yet");
  if (!ds->annotated() && !a.pseudo_labels)
    throw Error(a.dataset + ": data set has no labels (" + ds->format() +
                "); accuracy-aware needs an annotated data set (labels.txt, class folders, IDX), or --pseudo-labels to "
                "score against the FP32 model's own top-1");

  // The validation images: --validate-range, else every image the
  // calibration did not see.
  std::vector<size_t> img;
  if (!a.validate_range.empty()) {
    size_t f = 0, l = 0;
    try {
      std::tie(f, l) = parse_index_range(a.validate_range, ds->size());
    } catch (const Error& e) {
      throw Error("--validate-range " + a.validate_range + ": " + e.what());
    }
    for (size_t i = f; i < l; ++i) img.push_back(i);
  } else {
    for (size_t i = 0; i < ds->size(); ++i)
      if (!(a.same_as_calibration && i >= a.calib_first && i < a.calib_last)) img.push_back(i);
  }
  if (img.empty())
    throw Error(a.dataset + ": no validation images outside the calibration images (give --validate-range or " +
                "--calib-range)");
  size_t overlap = 0;
  if (a.same_as_calibration)
    for (size_t i : img) overlap += i >= a.calib_first && i < a.calib_last;
  if (overlap > 0)
    std::fprintf(stderr, "warning: accuracy-aware decides on %zu of the calibration images: the bound it meets there "
                         "is optimistic (use --calib-range and --validate-range that do not overlap)\n", overlap);
  const size_t held = parse_holdout(a.holdout, img.size());

  // Inputs decoded once and kept while they fit in 1 GiB (every candidate
  // model sees the same images); beyond that, decoded per run.
  const size_t per_image = size_t(in.channels) * size_t(in.height) * size_t(in.width);
  const bool cache_inputs = per_image * sizeof(float) * img.size() <= (size_t(1) << 30);
  std::vector<std::vector<float>> cached(cache_inputs ? img.size() : 0);
  auto input_of = [&](size_t row, float* dst) {
    if (cache_inputs && !cached[row].empty()) {
      std::memcpy(dst, cached[row].data(), per_image * sizeof(float));
      return;
    }
    const Tensor t = make_batch(*ds, {img[row]}, 0, 1, p, in);
    std::memcpy(dst, t.data<float>(), per_image * sizeof(float));
    if (cache_inputs) cached[row].assign(t.data<float>(), t.data<float>() + per_image);
  };

  std::vector<std::vector<float>> fp32_outputs;  // all rows, filled on the first FP32 run
  const Graph* fp32_ptr = &fp32;
  auto run_rows = [&](const Graph& g, const std::vector<size_t>& rows) {
    SessionOptions so;
    so.threads = a.threads;
    so.name = model_path;
    Session sess(g, so);
    std::vector<std::vector<float>> outs;
    const size_t b = size_t(std::max(1, a.batch));
    for (size_t first = 0; first < rows.size(); first += b) {
      const size_t n = std::min(b, rows.size() - first), nb = a.fixed_batch ? b : n;
      Tensor x(DType::F32, in.nhwc ? Shape{int64_t(nb), in.height, in.width, in.channels}
                                   : Shape{int64_t(nb), in.channels, in.height, in.width});
      for (size_t k = 0; k < nb; ++k) input_of(rows[first + std::min(k, n - 1)], x.data<float>() + k * per_image);
      const Tensor y = sess.run({x}).at(0).cast(DType::F32);
      if (y.rank() < 1 || y.shape[0] != int64_t(nb))
        throw Error(model_path + ": output " + shape_str(y.shape) + " has no batch dimension of " + std::to_string(nb));
      const size_t per = size_t(y.numel()) / nb;
      for (size_t k = 0; k < n; ++k) outs.emplace_back(y.data<float>() + k * per, y.data<float>() + (k + 1) * per);
    }
    return outs;
  };
  std::vector<size_t> all(img.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  Validation v;
  v.images = img.size();
  v.run = [&](const Graph& g, const std::vector<size_t>& rows) {
    if (&g != fp32_ptr) return run_rows(g, rows);
    if (fp32_outputs.empty()) fp32_outputs = run_rows(g, all);  // the reference, once
    std::vector<std::vector<float>> r;
    for (size_t i : rows) r.push_back(fp32_outputs[i]);
    return r;
  };
  std::vector<int> labels(img.size(), -1);
  if (a.pseudo_labels) {
    const std::vector<std::vector<float>> ref = v.run(fp32, all);
    for (size_t i = 0; i < ref.size(); ++i) {
      if (ref[i].empty()) throw Error(model_path + ": its first output is empty; there is no top-1 to take as a label");
      labels[i] = topk_indices(ref[i].data(), int(ref[i].size()), 1)[0];
    }
  } else {
    for (size_t i = 0; i < img.size(); ++i) labels[i] = ds->label(img[i]) + p.label_offset;
  }
  v.metric = [&](const std::vector<std::vector<float>>& outs, const std::vector<size_t>& rows) {
    size_t hit = 0;
    for (size_t k = 0; k < rows.size(); ++k) {
      const int lab = labels[rows[k]];
      if (lab < 0 || size_t(lab) >= outs[k].size())
        throw Error(a.dataset + "/" + ds->name(img[rows[k]]) + ": label " + std::to_string(lab) +
                    " is outside the model's " + std::to_string(outs[k].size()) + " outputs (--label-offset?)");
      hit += topk_indices(outs[k].data(), int(outs[k].size()), 1)[0] == lab;
    }
    return rows.empty() ? 0.0 : double(hit) / double(rows.size());
  };
  const int64_t sample_batch = a.fixed_batch ? a.batch : 1;
  v.sample_input = [&]() {
    Tensor x(DType::F32, in.nhwc ? Shape{sample_batch, in.height, in.width, in.channels}
                                 : Shape{sample_batch, in.channels, in.height, in.width});
    for (int64_t k = 0; k < sample_batch; ++k) input_of(0, x.data<float>() + size_t(k) * per_image);
    return x;
  };

  AccuracyAwareSettings as;
  as.relative = a.drop_type == "relative";
  as.max_drop = a.max_drop / 100;  // points / percent -> metric units / fraction
  as.performance_aware = a.ranking == "performance";
  as.try_mixed = a.try_mixed;
  as.threads = a.threads;
  const Tune tune = parse_tune(a.tune);
  as.tune = tune;
  // Held-out rows spread evenly over the validation images (a data set
  // sorted by class would otherwise hold out only its last classes).
  for (size_t k = 0; k < held; ++k) as.holdout.push_back(size_t((double(k) + 0.5) * double(img.size()) / double(held)));

  AccuracyAwareRun out;
  out.result = accuracy_aware_quantize(fp32, calib, s, v, as, progress);
  const AccuracyAwareResult& R = out.result;

  const Tensor x = v.sample_input();
  // FP32, Default and the answer timed in turns (compare's interleaved bench)
  SessionOptions so;
  so.threads = a.threads;
  so.tune = tune;
  Session s_fp32(fp32, so), s_def(R.default_model, so), s_fin(R.model.graph, so);
  std::vector<LatencyStats> lat;
  bench_interleaved({&s_fp32, &s_def, &s_fin}, {x}, 1.5, 3, lat);
  const double t_fp32 = lat[0].median_ms, t_def = lat[1].median_ms, t_fin = lat[2].median_ms;
  nlohmann::json steps = nlohmann::json::array();
  for (const AccuracyAwareStep& st : R.steps)
    steps.push_back({{"step", st.action},
                     {"layer", st.layer.empty() ? nlohmann::json() : nlohmann::json(st.layer)},
                     {"metric", st.metric}, {"drop", st.drop}, {"kept", st.kept}});
  const size_t int8_layers = R.layers - R.reverted.size();
  out.report = {{"metric", a.pseudo_labels ? "top1 (pseudo-labels: the FP32 model's top-1)" : "top1"},
                {"max_drop", a.max_drop},
                {"drop_type", a.drop_type},
                {"ranking", a.ranking},
                {"preset", R.preset},
                {"decision_images", img.size() - held},
                {"fp32", R.fp32},
                {"default", R.start},
                {"final", R.final_metric},
                {"drop", R.fp32 - R.final_metric},
                {"lowest_accepted", R.bound},
                {"met", R.met},
                {"layers", R.layers},
                {"int8_layers", int8_layers},
                {"int8_share", R.layers ? double(int8_layers) / double(R.layers) : 0.0},
                {"reverted", R.reverted},
                {"steps", steps},
                {"ranking_table", R.ranking},
                {"evaluations", R.evaluations},
                {"ranking_evaluations", R.ranking_evaluations},
                {"calibrations", R.calibrations},
                {"seconds", R.seconds},
                {"latency_ms", {{"fp32", t_fp32}, {"default", t_def}, {"final", t_fin}, {"batch", sample_batch},
                                {"threads", a.threads}}},
                {"speedup_vs_fp32", t_fp32 / t_fin},
                {"speedup_vs_default", t_def / t_fin}};
  if (!R.holdout.is_null()) out.report["holdout"] = R.holdout;

  out.summary = fmt("top-1 FP32 %.2f %%, final %.2f %%, drop %.2f pt", 100 * R.fp32, 100 * R.final_metric,
                    100 * (R.fp32 - R.final_metric)) +
                fmt(", lowest accepted %.2f %%", 100 * R.bound);
  std::string& t = out.text;
  t += "accuracy    " + fmt("top-1 FP32 %.2f %%, Default %.2f %% (drop %.2f pt), final %.2f %%", 100 * R.fp32,
                             100 * R.start, 100 * (R.fp32 - R.start), 100 * R.final_metric) +
       fmt(" (drop %.2f pt; bound: >= %.2f %%) ", 100 * (R.fp32 - R.final_metric), 100 * R.bound) +
       (R.met ? "met" : "NOT met") + " on " + std::to_string(img.size() - held) + " images\n";
  if (a.try_mixed)
    t += std::string("preset      ") + R.preset + (R.preset == "mixed" ? " (the mixed preset's Default did better)\n" : " (the mixed preset's Default did not do better)\n");
  t += "reverted    " + std::to_string(R.reverted.size()) + " of " + std::to_string(R.layers) + " layers to FP32";
  for (size_t i = 0; i < R.reverted.size(); ++i) t += (i ? ", " : ": ") + R.reverted[i];
  t += fmt(" (%.0f %% of layers INT8)\n", R.layers ? 100.0 * double(int8_layers) / double(R.layers) : 0.0);
  t += fmt("speed       %.3f ms = %.2fx FP32 (%.3f ms), %.2fx Default", t_fin, t_fp32 / t_fin, t_fp32, t_def / t_fin) +
       " (batch " + std::to_string(sample_batch) + ", " + std::to_string(a.threads) + " thread(s))\n";
  t += "search      " + std::to_string(R.evaluations) + " evaluations, " + std::to_string(R.ranking_evaluations) +
       " ranking passes, " + std::to_string(R.calibrations) + " calibrations, " + fmt("%.1f s\n", R.seconds);
  if (!R.holdout.is_null()) {
    const bool ok = R.holdout["within_bound"].get<bool>();
    t += fmt("held-out    top-1 FP32 %.2f %%, final %.2f %%, drop %.2f pt", 100 * R.holdout["fp32"].get<double>(),
             100 * R.holdout["int8"].get<double>(), 100 * R.holdout["drop"].get<double>()) +
         " on " + std::to_string(held) + " images" + (ok ? "\n" : " (above the bound)\n");
    if (!ok)
      std::fprintf(stderr, "warning: on the %zu held-out images the drop is %.2f pt, above the bound of %.2f: the "
                           "bound held on the images it was decided on, not beyond them\n",
                   held, 100 * R.holdout["drop"].get<double>(), a.max_drop);
  }
  return out;
}

}  // namespace c8
