// calibr8 calibrate MODEL: post-training INT8 quantization (DefaultQuantization)
// -> ONNX QDQ model. See src/quant/calibrate.h for the algorithm.
//
// Which images calibrate:
//   --calib-dataset DIR   calibration images (default: --dataset; for the
//                         embedded default model: Fashion-MNIST train)
//   --calib-range A:B     only images [A, B) of that data set (file order),
//                         e.g. 0:200; evaluate the rest with
//                         `calibr8 evaluate OUT --range 200:`
//   --subset 10% | 300    seeded random subset of those (default all), --seed S
#include <cstdio>
#include <fstream>
#include <numeric>

#include "cli/commands.h"
#include "base/format.h"
#include "cli/common.h"
#include "cli/outputs.h"
#include "eval/evaluator.h"
#include "eval/subset.h"
#include "eval/task.h"
#include "eval/task_eval.h"
#include "runtime/session.h"
#include "runtime/tuning.h"
#include "ir/onnx_export.h"
#include "quant/calibrate.h"
#include "quant/fidelity.h"
#include "cli/accuracy_aware_run.h"
#include "report/report.h"
#include "base/error.h"
#include "base/json_io.h"

namespace c8 {

CommandAction add_calibrate_command(CLI::App& app) {
  struct Opts {
    std::string model, dataset, calib_dataset, method = "default", preset = "performance", subset, calib_range;
    std::string act_est = "mean_minmax", weight_est = "minmax", sat = "auto", output, report;
    uint64_t seed = 0;
    std::vector<std::string> ignore;
    std::string target = "auto";
    bool no_bias = false, equalize = false, json = false, pseudo_labels = false, try_mixed = false, no_sensitivity = false;
    bool validate = false;
    double max_drop = 1.0;
    double min_cosine = 0.99;
    std::string drop_type = "absolute", validate_range, holdout, ranking = "accuracy";
    std::string weight_granularity = "per-channel";
    std::string tune = "cached";
    std::string task, adapter;  // accuracy-aware's metric
    int batch = 0, threads = 1;
    size_t bias_images = kDefaultBiasImages;
    PreprocessFlags pre;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("calibrate", "Post-training INT8 quantization of an FP32 model -> ONNX QDQ model");
  cmd->add_option("model", o->model, "FP32 (or FP16) ONNX file, or 'default' for the embedded model")->required();
  cmd->add_option("--dataset", o->dataset, "data set the model is validated on (calibration images come from here unless --calib-dataset)");
  cmd->add_option("--calib-dataset", o->calib_dataset, "separate calibration data set (default model: Fashion-MNIST train)");
  cmd->add_option("--calib-range", o->calib_range, "calibrate on images [A, B) of the calibration data set, e.g. 0:200 (evaluate the rest with evaluate --range 200:)");
  cmd->add_option("--method", o->method,
                  "default: every INT8-capable layer; accuracy-aware: the fastest model whose accuracy drop on --dataset "
                  "stays within --max-drop")
      ->check(CLI::IsMember({"default", "accuracy-aware"}));
  cmd->add_option("--max-drop", o->max_drop,
                  "accuracy-aware: largest accepted drop, in points (absolute, 0.5 = 0.5 % top-1) or percent of the "
                  "FP32 metric (relative); default 1")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--min-cosine", o->min_cosine,
                  "default method: when the INT8 output's cosine vs FP32 on the first 64 calibration images is below "
                  "this, give the layers that cost it most back to FP32 (at most 10 % of the multiply-adds) until it "
                  "is not; 0 = every INT8-capable layer, unchecked; default 0.99")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--drop-type", o->drop_type, "accuracy-aware: absolute (default) or relative")
      ->check(CLI::IsMember({"absolute", "relative"}));
  cmd->add_option("--validate-range", o->validate_range,
                  "images [A, B) of --dataset to validate on (accuracy-aware decides on them; default: those outside "
                  "--calib-range)");
  cmd->add_flag("--validate", o->validate,
                "default method: also run the FP32 and the INT8 model on the validation images and report the task's "
                "metric of both (top-1, mAP@0.5 or mIoU) and the drop");
  cmd->add_option("--holdout", o->holdout,
                  "accuracy-aware: keep the last N (or N%) decision images out of every decision and report the drop "
                  "on them");
  cmd->add_option("--ranking", o->ranking,
                  "accuracy-aware: accuracy (NNCF's order, default; reproducible bit for bit) or performance (accuracy gain "
                  "per ms the revert gives back, timed on this machine once and kept in the tuning cache: the same "
                  "choices on every later run here with --tune cached)")
      ->check(CLI::IsMember({"performance", "accuracy"}));
  add_tune_option(cmd, &o->tune);
  cmd->add_flag("--try-mixed", o->try_mixed,
                "accuracy-aware from the performance preset: try the mixed preset's Default before giving layers back");
  cmd->add_flag("--pseudo-labels", o->pseudo_labels,
                "accuracy-aware on a data set without labels: score against the FP32 model's own output (its top-1, "
                "its confident detections as ground truth, or its pixel classes)");
  add_task_options(cmd, &o->task, &o->adapter);
  cmd->add_flag("--no-sensitivity", o->no_sensitivity,
                "accuracy-aware: skip the per-layer sensitivity table (each layer quantized alone: output cosine / NMSE "
                "vs FP32 and input saturation; one pass over the ranking images a layer)");
  cmd->add_option("--preset", o->preset, "performance: symmetric weights and activations; mixed: asymmetric uint8 activations")
      ->check(CLI::IsMember({"performance", "mixed"}));
  cmd->add_option("--subset", o->subset, "number (300) or percentage (10%) of calibration images, chosen at random (seeded); default all");
  cmd->add_option("--seed", o->seed, "seed of the subset choice (same seed -> identical output)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--ignore", o->ignore, "node name or op type kept in FP32 (repeatable)")->take_all();
  cmd->add_option("--act-estimator", o->act_est, "activation range estimator")
      ->check(CLI::IsMember({"minmax", "mean_minmax", "quantile", "kl", "mse"}));
  cmd->add_option("--weight-granularity", o->weight_granularity,
                  "per-channel (default: one scale per output channel) or per-tensor (one scale per weight, as POT "
                  "offers and ONNX Runtime's MinMax does by default)")
      ->check(CLI::IsMember({"per-channel", "per-tensor"}));
  cmd->add_option("--weight-estimator", o->weight_est, "weight range estimator (per output channel)")
      ->check(CLI::IsMember({"minmax", "mean_minmax", "quantile", "kl", "mse"}));
  cmd->add_option("--saturation-fix", o->sat, "7-bit weights against u8*s8 saturation without VNNI: auto (all layers when the CPU has no VNNI, none with VNNI), none, first_layer, all")
      ->check(CLI::IsMember({"auto", "none", "first_layer", "all"}));
  cmd->add_option("--target", o->target, "CPU the model is for: auto (this CPU), vnni (8-bit weights: AVX-512 VNNI / AVX-VNNI), avx2 or any (7-bit weights, exact INT8 on every x86 CPU and runtime)")
      ->check(CLI::IsMember({"auto", "avx2", "vnni", "any"}));
  cmd->add_flag("--no-bias-correction", o->no_bias, "skip the fast bias correction pass");
  cmd->add_flag("--equalize", o->equalize,
                "activation equalization: even out the channel ranges in front of depthwise layers by scaling the "
                "layer before (exact in FP32 on the calibration images; one more FP32 pass; needs >= 32 images)");
  cmd->add_option("--bias-images", o->bias_images,
                  "bias correction estimates its per-channel shifts on the first N calibration images (0 = all; default " +
                      std::to_string(kDefaultBiasImages) + "); the statistics use every image");
  cmd->add_option("--batch", o->batch, "batch size (default: the model's fixed batch, else 32)")->check(CLI::Range(1, 4096));
  cmd->add_option("--threads", o->threads, "threads")->check(CLI::Range(1, 256));
  cmd->add_option("-o,--output", o->output, "output QDQ ONNX file (written atomically)")->required();
  cmd->add_option("--report", o->report, "write a JSON report (settings, images, times, per-layer ranges/scales)");
  cmd->add_flag("--json", o->json, "print the summary as one JSON object on stdout");
  o->pre.add_to(cmd);
  return [o]() {
    double t_start = now_seconds();
    if (o->output.empty()) throw Error("-o: the output path is empty");
    // Every output checked before any work (an unwritable folder used to fail
    // after the whole calibration), and never onto an input.
    check_outputs({{"model", o->model == "default" ? std::string() : o->model}, {"--config", o->pre.config}},
                  {{"-o", o->output}, {"--report", o->report}},
                  {{"--dataset", o->dataset}, {"--calib-dataset", o->calib_dataset}});
    LoadedModel m = load_model_arg(o->model);
    check_outputs(external_data_inputs(m), {{"-o", o->output}, {"--report", o->report}});
    refuse_quantized(m.graph, m.path);
    require_supported(m);
    std::string val_path = o->dataset;
    if (val_path.empty() && m.is_default) val_path = default_model_dataset(false);
    std::string calib_path = o->calib_dataset;
    bool same_as_validation = false;
    if (calib_path.empty()) {
      if (m.is_default && o->dataset.empty()) {
        calib_path = default_model_dataset(true);
      } else {
        if (val_path.empty()) throw Error("--dataset or --calib-dataset is required");
        calib_path = val_path;
        same_as_validation = true;
      }
    }
    Preprocess p = o->pre.resolve(m.preprocess);
    Graph g = prepare_for_calibration(m.graph);
    InputGeometry geo = input_geometry(m, p);
    o->pre.validate(p, geo.channels);
    check_plan(m, geo);
    auto ds = open_dataset(calib_path);
    size_t first = 0, last = ds->size();
    if (!o->calib_range.empty()) std::tie(first, last) = parse_index_range(o->calib_range, ds->size());
    std::vector<size_t> idx = choose_subset(last - first, o->subset, o->seed);
    for (size_t& i : idx) i += first;
    if (idx.size() < 300)
      std::fprintf(stderr, "warning: calibrating on %zu images; at least 300 are recommended for stable ranges\n", idx.size());
    if (same_as_validation && o->calib_range.empty())
      std::fprintf(stderr,
                   "warning: the calibration images are the validation images (%s, no --calib-dataset); accuracy measured "
                   "on them will be optimistic (use --calib-dataset or --calib-range A:B and evaluate --range)\n",
                   calib_path.c_str());
    else if (same_as_validation)
      std::fprintf(stderr, "note: calibrating on images [%zu, %zu) of %s; validate only on the other images (evaluate --range)\n",
                   first, last, calib_path.c_str());
    int batch = o->batch ? o->batch : (geo.batch > 0 ? int(geo.batch) : 32);
    if (geo.batch > 0 && batch != geo.batch)
      throw Error(m.path + ": input '" + geo.name + "' has a fixed batch of " + std::to_string(geo.batch) + "; --batch " +
                  std::to_string(batch) + " is not possible");
    ImageInput in{geo.channels, geo.height, geo.width, geo.nhwc};
    CalibSource src = dataset_source(*ds, idx, p, in, batch, geo.batch > 0);

    CalibSettings s;
    s.preset = o->preset;
    s.act_estimator = parse_estimator(o->act_est);
    s.weight_estimator = parse_estimator(o->weight_est);
    s.weight_per_tensor = o->weight_granularity == "per-tensor";
    s.saturation_fix = o->sat;
    s.target = o->target;
    s.bias_correction = !o->no_bias;
    s.equalize = o->equalize;
    s.bias_images = o->bias_images;
    s.ignore = o->ignore;
    s.threads = o->threads;
    std::unique_ptr<Progress> bar;
    std::string bar_pass;
    auto show = [&](const std::string& pass, size_t done, size_t total) {
      if (pass != bar_pass) {
        if (bar) bar->finish();
        bar = std::make_unique<Progress>(pass, total);
        bar_pass = pass;
      }
      bar->update(done);
    };
    // --validate: what it needs is checked before the calibration runs.
    decltype(open_dataset(val_path)) own_vds;
    const Dataset* vds = nullptr;
    std::vector<size_t> vimg;
    TaskChoice vtask;
    const int vb = geo.batch > 0 ? int(geo.batch) : std::min(batch, 8);
    SessionOptions vso;
    vso.threads = o->threads;
    vso.tune = parse_tune(o->tune);
    vso.name = m.path;
    std::unique_ptr<Session> s_fp32;
    if (o->validate && o->method != "accuracy-aware") {
      if (val_path.empty()) throw Error("--validate needs --dataset (the annotated images to validate on)");
      vds = ds.get();
      if (val_path != calib_path) {
        own_vds = open_dataset(val_path);
        vds = own_vds.get();
      }
      vimg = validation_images(*vds, val_path, o->validate_range, same_as_validation && !o->calib_range.empty(), first, last);
      std::string missing;
      if (!has_annotations(*vds, vimg, &missing))
        throw Error(val_path + ": " + missing + "; --validate needs an annotated data set (labels.txt, class folders, "
                    "IDX, VOC XML boxes, COCO JSON, PNG masks)");
      s_fp32 = std::make_unique<Session>(g, vso);
      vtask = choose_task(*vds, m.path, output_shapes(*s_fp32, in, vb), o->task, o->adapter, p.label_ids);
      Task ann;
      if (annotation_task(*vds, ann) && ann != vtask.task)
        throw Error(val_path + ": its annotations score " + task_name(ann) + ", not " + task_name(vtask.task) + " (--task)");
    }
    CalibResult r;
    nlohmann::json fidelity;  // the Default method's output check (quant/fidelity.h)
    std::unique_ptr<AccuracyAwareRun> aa;
    if (o->method == "accuracy-aware") {
      AccuracyAwareArgs args;
      args.dataset = val_path;
      args.validate_range = o->validate_range;
      args.holdout = o->holdout;
      args.drop_type = o->drop_type;
      args.ranking = o->ranking;
      args.task = o->task;
      args.sensitivity = !o->no_sensitivity;
      args.adapter = o->adapter;
      args.max_drop = o->max_drop;
      args.pseudo_labels = o->pseudo_labels;
      args.try_mixed = o->try_mixed;
      args.same_as_calibration = same_as_validation;
      args.calib_first = first;
      args.calib_last = last;
      args.batch = batch;
      args.fixed_batch = geo.batch > 0;
      args.threads = o->threads;
      args.tune = o->tune;
      aa = std::make_unique<AccuracyAwareRun>(run_accuracy_aware(g, m.path, src, s, p, in, args, show));
      r = aa->result.model;
    } else {
      FidelitySettings fs;
      fs.min_cosine = o->min_cosine;
      fs.threads = o->threads;
      FidelityResult fr = calibrate_with_fidelity(g, src, s, fs, show);
      r = std::move(fr.model);
      fidelity = std::move(fr.report);
    }
    if (bar) bar->finish();
    // DL Workbench's calibration ends with the accuracy of both models: the
    // task's metric on the validation images, FP32 and INT8, in one pass each.
    nlohmann::json validation;
    if (o->validate && !aa) {
      Session s_int8(r.graph, vso);
      const TaskChoice& task = vtask;
      output_shapes(s_int8, in, vb);  // plans it: the scorers read its output names
      std::unique_ptr<Progress> vbar;
      auto vshow = [&](const std::string& what, size_t done, size_t total) {
        if (!vbar) vbar = std::make_unique<Progress>(what, total);
        vbar->update(done);
      };
      const TaskMetrics f = evaluate_task(*s_fp32, *vds, vimg, p, in, vb, task,
                                          [&](size_t d, size_t t) { vshow("validate FP32", d, t); }, geo.batch > 0);
      if (vbar) vbar->finish(), vbar.reset();
      const TaskMetrics q = evaluate_task(s_int8, *vds, vimg, p, in, vb, task,
                                          [&](size_t d, size_t t) { vshow("validate INT8", d, t); }, geo.batch > 0);
      if (vbar) vbar->finish();
      validation = {{"dataset", val_path},
                    {"images", vimg.size()},
                    {"first_image", vimg.front()},
                    {"last_image", vimg.back()},
                    {"task", task_name(task.task)},
                    {"adapter", task.adapter},
                    {"task_from", task.reason},
                    {"metric", f.metric},
                    {"metric_label", metric_label(f.metric)},
                    {"fp32", f.value},
                    {"int8", q.value},
                    {"drop", f.value - q.value},
                    {"fp32_metrics", f.metrics},
                    {"int8_metrics", q.metrics},
                    {"seconds", f.seconds + q.seconds}};
    }
    double t_save = now_seconds();
    record_model_defaults(r.graph, p, m.is_default && o->dataset.empty() ? val_path : std::string());
    // Serialized and checked before anything is written, so that no failure
    // leaves a model without its report or the reverse.
    std::string model_bytes;
    try {
      model_bytes = onnx_bytes(r.graph);
    } catch (const Error& e) {
      throw Error(o->output + ": " + e.what());
    }
    double save_s = now_seconds() - t_save;

    nlohmann::json rep = r.report;
    rep["model"] = m.path;
    rep["output"] = o->output;
    rep["calibration_dataset"] = calib_path;
    rep["validation_dataset"] = val_path;
    rep["calibration_is_validation"] = same_as_validation && o->calib_range.empty();
    rep["calib_range"] = {first, last};
    rep["subset"] = o->subset.empty() ? "all" : o->subset;
    rep["seed"] = o->seed;
    rep["batch"] = batch;
    rep["preprocess"] = preprocess_to_json(p);
    nlohmann::json names = nlohmann::json::array();
    for (size_t i : idx) names.push_back(ds->name(i));
    rep["images"] = {{"count", idx.size()}, {"indices", idx}, {"names", names}};
    rep["seconds"]["save"] = save_s;
    rep["seconds"]["wall"] = now_seconds() - t_start;
    rep["op_histogram"] = r.graph.op_histogram();
    if (!validation.is_null()) rep["validation"] = validation;
    if (!fidelity.is_null()) rep["fidelity"] = fidelity;
    if (aa) {
      rep["accuracy_aware"] = aa->report;
      rep["settings"]["method"] = "accuracy-aware";
      rep["settings"]["preset"] = aa->result.preset;
    }
    // Report first: if the model then fails to write, the old model (if any)
    // is intact and the report names an output that is not there yet, rather
    // than a new model left without its report.
    if (!o->report.empty())
      write_file_atomic(o->report, json_text(rep, 2) + "\n");
    write_file_atomic(o->output, model_bytes);
    if (aa && !o->json) std::fputs(aa->text.c_str(), stdout);

    size_t wq = r.placement.weights.size(), aq = r.placement.acts.size();
    if (o->json) {
      nlohmann::json j = {{"model", m.path},
                          {"output", o->output},
                          {"preset", aa ? aa->result.preset : o->preset},
                          {"images", idx.size()},
                          {"calibration_dataset", calib_path},
                          {"quantized_layers", wq},
                          {"activation_quantizers", aq},
                          {"seconds", rep["seconds"]},
                          {"settings", rep["settings"]}};
      if (!o->report.empty()) j["report"] = o->report;
      if (aa) j["accuracy_aware"] = aa->report;
      if (!fidelity.is_null()) j["fidelity"] = fidelity;
      if (!validation.is_null()) j["validation"] = validation;
      print_json(j);
    } else {
      const std::string tgt = rep["settings"]["target"].get<std::string>();
      std::printf("target      %s (%s)\n", tgt.c_str(),
                  tgt == "vnni" ? "8-bit weights; on a CPU without VNNI their layers run FP32"
                                : "7-bit weights: exact INT8 on every x86 CPU");
      std::printf("model       %s\noutput      %s\npreset      %s (act %s, weights %s %s, saturation fix %s, bias correction %s)\n"
                  "images      %zu from %s\nquantized   %zu layers, %zu activation quantizers in %zu scale groups\n"
                  "time        %sstatistics %.2f s, bias correction %.2f s, total %.2f s\n",
                  m.path.c_str(), o->output.c_str(), (aa ? aa->result.preset : o->preset).c_str(), o->act_est.c_str(), o->weight_est.c_str(),
                  s.weight_per_tensor ? "per tensor" : "per channel",
                  rep["settings"]["saturation_fix"].get<std::string>().c_str(),
                  !s.bias_correction ? "off"
                  : r.bias_images < idx.size() ? ("on, first " + std::to_string(r.bias_images) + " images").c_str()
                                               : "on",
                  idx.size(),
                  calib_path.c_str(), wq, aq, r.placement.groups.size(),
                  rep["equalization"].empty()
                      ? ""
                      : (std::to_string(rep["equalization"].size()) + " layers equalized " + c8::fmt("%.2f s, ", r.seconds_equalize)).c_str(),
                  r.seconds_stats, r.seconds_bias,
                  now_seconds() - t_start);
      if (fidelity.is_object() && fidelity.value("checked", false)) {
        const auto& fr = fidelity;
        const std::vector<std::string> back = fr["reverted"].get<std::vector<std::string>>();
        std::string line = fmt("fidelity    output cosine vs FP32 %.4f on %zu check images (%s)", fr["final_cosine"].get<double>(),
                               fr["images"].get<size_t>(), fr["images_from"].get<std::string>().c_str());
        if (!back.empty()) {
          line += fmt(" (every layer INT8: %.4f; %zu kept FP32 for it, %.1f %% of the multiply-adds:", fr["default_cosine"].get<double>(),
                      back.size(), 100 * fr["reverted_share"].get<double>());
          for (size_t i = 0; i < back.size(); ++i) line += (i ? ", " : " ") + back[i];
          line += ")";
        }
        if (!fr["met"].get<bool>())
          line += fmt("; below --min-cosine %g even with what the %.0f %% cap allows back", fr["min_cosine"].get<double>(),
                      100 * fr["max_share"].get<double>());
        std::printf("%s\n", line.c_str());
      }
      if (!validation.is_null()) {
        const std::string label = validation["metric_label"].get<std::string>();
        std::printf("validation  %s FP32 %.2f %%, INT8 %.2f %% (drop %.2f pt) on %zu images of %s\n", label.c_str(),
                    100 * validation["fp32"].get<double>(), 100 * validation["int8"].get<double>(),
                    100 * validation["drop"].get<double>(), validation["images"].get<size_t>(), val_path.c_str());
      }
    }
    if (aa && !aa->result.met)
      throw Error("accuracy-aware: the drop stays above the bound with every layer that helps given back to FP32 (" +
                  aa->summary + "); the best model found is in " + o->output);
    return 0;
  };
}

}  // namespace c8
