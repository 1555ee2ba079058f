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
#include "eval/agreement.h"
#include "eval/metrics/topk.h"
#include "eval/task.h"
#include "eval/task_eval.h"
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

std::vector<size_t> validation_images(const Dataset& ds, const std::string& dataset, const std::string& validate_range,
                                      bool same_as_calibration, size_t calib_first, size_t calib_last) {
  std::vector<size_t> img;
  if (!validate_range.empty()) {
    size_t f = 0, l = 0;
    try {
      std::tie(f, l) = parse_index_range(validate_range, ds.size());
    } catch (const Error& e) {
      throw Error("--validate-range " + validate_range + ": " + e.what());
    }
    for (size_t i = f; i < l; ++i) img.push_back(i);
  } else {
    for (size_t i = 0; i < ds.size(); ++i)
      if (!(same_as_calibration && i >= calib_first && i < calib_last)) img.push_back(i);
  }
  if (img.empty())
    throw Error(dataset + ": no validation images outside the calibration images (give --validate-range or " +
                "--calib-range)");
  return img;
}

AccuracyAwareRun run_accuracy_aware(const Graph& fp32, const std::string& model_path, const CalibSource& calib,
                                    const CalibSettings& s, const Preprocess& p, const ImageInput& in,
                                    const AccuracyAwareArgs& a, const AccuracyAwareProgress& progress) {
  if (a.dataset.empty()) throw Error("accuracy-aware decides on --dataset: give the annotated data set to validate on");
  if (a.drop_type == "relative" && a.max_drop > 100)
    throw Error("--max-drop " + std::to_string(a.max_drop) + ": a relative drop is a percentage of the FP32 metric (0..100)");
  const Tune tune = parse_tune(a.tune);
  auto ds = open_dataset(a.dataset);
  // The task and its decoder, as compare chooses them: from the annotations
  // and the model's outputs, or --task / --adapter; an output [N, classes]
  // is a classifier even without labels (for --pseudo-labels).
  std::vector<std::string> names;
  std::vector<Shape> shapes;
  {
    SessionOptions so;
    so.threads = a.threads;
    so.name = model_path;
    Session probe(fp32, so);
    shapes = output_shapes(probe, in, a.fixed_batch ? std::max(1, a.batch) : 1);
    names = output_names(probe);
  }
  std::string missing;
  const bool labelled = has_annotations(*ds, {}, &missing);
  const bool flags = !a.task.empty() || !a.adapter.empty() || !p.label_ids.empty();  // --label-ids names detection
  if (!labelled && !a.pseudo_labels)
    throw Error(a.dataset + ": " + missing + "; accuracy-aware needs an annotated data set (labels.txt, class folders, "
                "IDX, VOC XML boxes, COCO JSON, PNG masks), or --pseudo-labels to score against the FP32 model's own output");
  TaskChoice task;
  if (labelled || flags) {
    task = choose_task(*ds, model_path, shapes, a.task, a.adapter, p.label_ids);
  } else if (!shapes.empty() && shapes[0].size() == 2) {
    task = {Task::Classify, "topk", "output [N, classes]"};
  } else {
    throw Error(a.dataset + ": data set has no annotations and the model's output " +
                (shapes.empty() ? std::string("(none)") : shape_str(shapes[0])) +
                " is not [N, classes]: give --task detect|segment (and --adapter) for --pseudo-labels");
  }
  Task ann_task;
  if (labelled && !a.pseudo_labels && annotation_task(*ds, ann_task) && ann_task != task.task)
    throw Error(a.dataset + ": its annotations score " + task_name(ann_task) + ", not " + task_name(task.task) +
                " (--task)");
  const bool classify = task.task == Task::Classify;

  const std::vector<size_t> img =
      validation_images(*ds, a.dataset, a.validate_range, a.same_as_calibration, a.calib_first, a.calib_last);
  size_t overlap = 0;
  if (a.same_as_calibration)
    for (size_t i : img) overlap += i >= a.calib_first && i < a.calib_last;
  if (overlap > 0)
    std::fprintf(stderr, "warning: accuracy-aware decides on %zu of the calibration images: the bound it meets there "
                         "is optimistic (use --calib-range and --validate-range that do not overlap)\n", overlap);
  const size_t held = parse_holdout(a.holdout, img.size());

  // Inputs decoded once and kept while they fit in 1 GiB (every candidate
  // model sees the same images); beyond that, decoded per run. The decoded
  // sizes map detections back to image pixels.
  const size_t image_floats = size_t(in.channels) * size_t(in.height) * size_t(in.width);
  const bool cache_inputs = image_floats * sizeof(float) * img.size() <= (size_t(1) << 30);
  std::vector<std::vector<float>> cached(cache_inputs ? img.size() : 0);
  std::vector<std::pair<int, int>> sizes(img.size(), {0, 0});
  auto input_of = [&](size_t row, float* dst) {
    if (cache_inputs && !cached[row].empty()) {
      std::memcpy(dst, cached[row].data(), image_floats * sizeof(float));
      return;
    }
    std::vector<std::pair<int, int>> wh;
    const Tensor t = make_batch(*ds, {img[row]}, 0, 1, p, in, nullptr, &wh);
    std::memcpy(dst, t.data<float>(), image_floats * sizeof(float));
    if (!wh.empty()) sizes[row] = wh[0];
    if (cache_inputs) cached[row].assign(t.data<float>(), t.data<float>() + image_floats);
  };

  std::vector<ImageOutputs> fp32_outputs;  // all rows, filled on the first FP32 run
  const Graph* fp32_ptr = &fp32;
  auto run_rows = [&](const Graph& g, const std::vector<size_t>& rows) {
    // Candidates run as evaluate and compare will run the written file: with
    // the same --tune (kernel choice changes no bits among exact INT8 kernels,
    // but --tune off runs depthwise INT8 as FP32 on AVX-512, with its own
    // rounding), so the metric decided on is the metric the user measures.
    // full times kernels once (the first session), then reads the cache like
    // cached: re-timing every candidate could flip an FP32 layer between
    // direct and Winograd convolution mid-search, and with it the last bits.
    SessionOptions so;
    so.threads = a.threads;
    so.name = model_path;
    so.tune = tune == Tune::Full && !fp32_outputs.empty() ? Tune::Cached : tune;
    Session sess(g, so);
    std::vector<ImageOutputs> outs;
    const size_t b = size_t(std::max(1, a.batch));
    for (size_t first = 0; first < rows.size(); first += b) {
      const size_t n = std::min(b, rows.size() - first), nb = a.fixed_batch ? b : n;
      Tensor x(DType::F32, in.nhwc ? Shape{int64_t(nb), in.height, in.width, in.channels}
                                   : Shape{int64_t(nb), in.channels, in.height, in.width});
      for (size_t k = 0; k < nb; ++k) input_of(rows[first + std::min(k, n - 1)], x.data<float>() + k * image_floats);
      const std::vector<Tensor> y = sess.run({x});
      if (y.empty() || y[0].rank() < 1 || y[0].shape[0] != int64_t(nb))
        throw Error(model_path + ": output " + (y.empty() ? std::string("(none)") : shape_str(y[0].shape)) +
                    " has no batch dimension of " + std::to_string(nb));
      for (size_t k = 0; k < n; ++k) {
        ImageOutputs o;
        for (size_t i = 0; i < y.size(); ++i) o.push_back(per_image(y[i], i, int64_t(k), int64_t(nb)));
        outs.push_back(std::move(o));
      }
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
    std::vector<ImageOutputs> r;
    for (size_t i : rows) r.push_back(fp32_outputs[i]);
    return r;
  };
  std::string metric_key = "top1";
  if (classify) {
    std::vector<int> labels(img.size(), -1);
    if (a.pseudo_labels) {
      const std::vector<ImageOutputs> ref = v.run(fp32, all);
      for (size_t i = 0; i < ref.size(); ++i) {
        if (ref[i][0].numel() == 0)
          throw Error(model_path + ": its first output is empty; there is no top-1 to take as a label");
        labels[i] = topk_indices(ref[i][0].data<float>(), int(ref[i][0].numel()), 1)[0];
      }
    } else {
      for (size_t i = 0; i < img.size(); ++i) labels[i] = ds->label(img[i]) + p.label_offset;
    }
    v.metric = [&, labels](const std::vector<ImageOutputs>& outs, const std::vector<size_t>& rows) {
      size_t hit = 0;
      for (size_t k = 0; k < rows.size(); ++k) {
        const int lab = labels[rows[k]];
        const Tensor& y = outs[k][0];
        if (lab < 0 || lab >= y.numel())
          throw Error(a.dataset + "/" + ds->name(img[rows[k]]) + ": label " + std::to_string(lab) +
                      " is outside the model's " + std::to_string(y.numel()) + " outputs (--label-offset?)");
        hit += topk_indices(y.data<float>(), int(y.numel()), 1)[0] == lab;
      }
      return rows.empty() ? 0.0 : double(hit) / double(rows.size());
    };
  } else if (!a.pseudo_labels) {
    // mAP@0.5 or mIoU of the rows, scored afresh for every candidate.
    metric_key = task.task == Task::Detect ? "map50" : "miou";
    v.metric = [&](const std::vector<ImageOutputs>& outs, const std::vector<size_t>& rows) {
      TaskScorer scorer(*ds, task, p, in, names);
      for (size_t k = 0; k < rows.size(); ++k)
        scorer.add(img[rows[k]], outs[k], sizes[rows[k]].first, sizes[rows[k]].second);
      return scorer.result().value;
    };
  } else {
    // Without annotations: agreement with the FP32 model's own output --
    // its confident detections taken as ground truth (pseudo-mAP@0.5), or
    // its pixel classes (compare's numbers, eval/agreement.h).
    metric_key = task.task == Task::Detect ? "pseudo_map50" : "pixel_agreement";
    v.metric = [&, metric_key](const std::vector<ImageOutputs>& outs, const std::vector<size_t>& rows) {
      const std::vector<ImageOutputs> ref = v.run(fp32, rows);
      AgreementScorer ag(names, &task, p, in, ds->class_names().size());
      for (size_t k = 0; k < rows.size(); ++k) ag.add(ref[k], outs[k], sizes[rows[k]].first, sizes[rows[k]].second);
      const nlohmann::json r = ag.result();
      // Nothing to agree on (no confident FP32 box, no pixel): every model
      // would score the same and any bound be "met".
      if (!rows.empty() && ((r.contains("reference_boxes") && r["reference_boxes"] == 0) ||
                            !(r.contains(metric_key) && r[metric_key].is_number())))
        throw Error(a.dataset + ": the FP32 model " +
                    (task.task == Task::Detect ? "finds no box scoring >= " + fmt("%.2f", kPseudoTruthScore)
                                               : std::string("classifies no pixel")) +
                    " on the decision images, so its pseudo-labels score nothing (check --size / --mean / --std / "
                    "--color)");
      return r[metric_key].get<double>();
    };
  }
  const int64_t sample_batch = a.fixed_batch ? a.batch : 1;
  v.sample_input = [&]() {
    Tensor x(DType::F32, in.nhwc ? Shape{sample_batch, in.height, in.width, in.channels}
                                 : Shape{sample_batch, in.channels, in.height, in.width});
    for (int64_t k = 0; k < sample_batch; ++k) input_of(0, x.data<float>() + size_t(k) * image_floats);
    return x;
  };

  AccuracyAwareSettings as;
  as.relative = a.drop_type == "relative";
  as.max_drop = a.max_drop / 100;  // points / percent -> metric units / fraction
  as.performance_aware = a.ranking == "performance";
  as.try_mixed = a.try_mixed;
  as.sensitivity = a.sensitivity;
  as.threads = a.threads;
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
  const std::string label = classify ? (a.pseudo_labels ? "top-1 agreement" : "top-1")
                            : a.pseudo_labels ? (task.task == Task::Detect ? "pseudo-mAP@0.5" : "pixel agreement")
                                              : metric_label(metric_key);
  const std::string& L = label;
  out.report = {{"metric", classify && a.pseudo_labels ? "top1 (pseudo-labels: the FP32 model's top-1)" : metric_key},
                {"metric_label", label},
                {"task", task_name(task.task)},
                {"adapter", task.adapter},
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
                {"sensitivity", R.sensitivity},
                {"sensitivity_passes", R.sensitivity_passes},
                {"evaluations", R.evaluations},
                {"ranking_evaluations", R.ranking_evaluations},
                {"calibrations", R.calibrations},
                {"statistics_passes", R.statistics_passes},
                {"bias_passes", R.bias_passes},
                {"seconds", R.seconds},
                {"latency_ms", {{"fp32", t_fp32}, {"default", t_def}, {"final", t_fin}, {"batch", sample_batch},
                                {"threads", a.threads}}},
                {"speedup_vs_fp32", t_fp32 / t_fin},
                {"speedup_vs_default", t_def / t_fin}};
  if (!R.holdout.is_null()) out.report["holdout"] = R.holdout;

  out.summary = L + fmt(" FP32 %.2f %%, final %.2f %%, drop %.2f pt", 100 * R.fp32, 100 * R.final_metric,
                    100 * (R.fp32 - R.final_metric)) +
                fmt(", lowest accepted %.2f %%", 100 * R.bound);
  std::string& t = out.text;
  t += "accuracy    " + L + fmt(" FP32 %.2f %%, Default %.2f %% (drop %.2f pt), final %.2f %%", 100 * R.fp32,
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
       " ranking passes, " + std::to_string(R.sensitivity_passes) + " sensitivity passes, " +
       std::to_string(R.calibrations) + " calibrations (" +
       std::to_string(R.statistics_passes) + " statistics and " + std::to_string(R.bias_passes) +
       " bias passes, the rest reused), " + fmt("%.1f s\n", R.seconds);
  if (R.sensitivity.is_array() && !R.sensitivity.empty()) {
    // the layers whose quantization alone moves the output most
    std::vector<const nlohmann::json*> rows;
    for (const auto& e : R.sensitivity) rows.push_back(&e);
    std::stable_sort(rows.begin(), rows.end(),
                     [](const nlohmann::json* x, const nlohmann::json* y) { return (*x)["nmse"] > (*y)["nmse"]; });
    t += "sensitive   each layer quantized alone, output NMSE vs FP32 (cosine, input saturation):";
    for (size_t i = 0; i < std::min<size_t>(5, rows.size()); ++i) {
      const nlohmann::json& e = *rows[i];
      t += (i ? "; " : " ") + e["layer"].get<std::string>() +
           fmt(" %.2e (%.4f, ", e["nmse"].get<double>(), e["cosine"].get<double>()) +
           (e["overflow_rate"].is_number() ? fmt("%.3f %%)", 100 * e["overflow_rate"].get<double>()) : std::string("-)"));
    }
    t += "\n";
  }
  if (!R.holdout.is_null()) {
    const bool ok = R.holdout["within_bound"].get<bool>();
    t += "held-out    " + L + fmt(" FP32 %.2f %%, final %.2f %%, drop %.2f pt", 100 * R.holdout["fp32"].get<double>(),
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
