// calibr8 compare A B --dataset DIR: accuracy, top-1 agreement, interleaved
// latency and a per-layer comparison of a candidate model B (typically the
// INT8 QDQ model) against a reference A (typically its FP32 original).
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/outputs.h"
#include "report/compare.h"
#include "report/report.h"
#include "base/error.h"
#include "base/json_io.h"

namespace c8 {

CommandAction add_compare_command(CLI::App& app) {
  struct Opts {
    std::string a, b, dataset, report, html, calib, range, tune, task, adapter;
    int limit = 0, batch = 0, threads = 1, layer_images = 16, warmup = 3;
    double seconds = 4;
    bool json = false, no_speed = false, no_layers = false;
    PreprocessFlags pre;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "compare", "Compare a candidate model B (e.g. INT8) with a reference A: accuracy, agreement, speed, per-layer error");
  cmd->add_option("a", o->a, "reference ONNX model (e.g. the FP32 original), or 'default'")->required();
  cmd->add_option("b", o->b, "candidate ONNX model (e.g. the INT8 QDQ model)")->required();
  cmd->add_option("--dataset", o->dataset,
                  "data set: annotated (labels.txt, class sub-folders, IDX, list.txt with VOC XML boxes / PNG masks) "
                  "for accuracy, or any image folder (outputs compared without labels)");
  add_task_options(cmd, &o->task, &o->adapter);
  cmd->add_option("--limit", o->limit, "use only the first N images")->check(CLI::NonNegativeNumber);
  cmd->add_option("--range", o->range, "use only images [A, B) in file order, e.g. 200: (as evaluate --range)");
  cmd->add_option("--batch", o->batch, "evaluation batch size (default: 8 for dynamic-batch models, else the model's)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--threads", o->threads, "threads (both models)")->check(CLI::Range(1, 256));
  add_tune_option(cmd, &o->tune);
  cmd->add_option("--seconds", o->seconds, "total time of the interleaved A/B latency measurement (batch 1)")
      ->check(CLI::Range(0.01, 3600.0));
  cmd->add_option("--warmup", o->warmup, "untimed runs of each model before timing")->check(CLI::Range(0, 1000));
  cmd->add_option("--layer-images", o->layer_images, "images for the per-layer comparison (0: skip it)")
      ->check(CLI::Range(0, 100000));
  cmd->add_flag("--no-speed", o->no_speed, "skip the latency measurement");
  cmd->add_flag("--no-layers", o->no_layers, "skip the per-layer comparison");
  cmd->add_option("--report", o->report, "write the full report as JSON to this file");
  cmd->add_option("--html", o->html, "write a self-contained HTML report to this file");
  cmd->add_option("--calib-report", o->calib, "calibration report JSON (from 'calibr8 calibrate') to include");
  cmd->add_flag("--json", o->json, "print the report as one JSON object on stdout");
  o->pre.add_to(cmd);
  return [o]() {
    check_outputs({{"model A", o->a == "default" ? std::string() : o->a}, {"model B", o->b}, {"--calib-report", o->calib},
                   {"--config", o->pre.config}},
                  {{"--report", o->report}, {"--html", o->html}}, {{"--dataset", o->dataset}});
    nlohmann::json calib;
    if (!o->calib.empty()) calib = read_json_file(o->calib);
    LoadedModel a = load_model_arg(o->a);
    LoadedModel b = load_model_arg(o->b);
    for (const LoadedModel* x : {&a, &b}) check_outputs(external_data_inputs(*x), {{"--report", o->report}, {"--html", o->html}});
    require_supported(a);
    require_supported(b);
    std::string ds_path = o->dataset;
    if (ds_path.empty()) {
      ds_path = !a.default_dataset.empty() ? a.default_dataset : b.default_dataset;
      if (ds_path.empty()) throw Error("--dataset is required");
    }
    // Preprocessing the models carry (embedded default, or recorded by calibrate), A's first.
    bool a_knows = a.is_default || a.graph.metadata.count("calibr8.preprocess");
    Preprocess p = o->pre.resolve(a_knows ? a.preprocess : b.preprocess);
    InputGeometry ga = input_geometry(a, p);
    InputGeometry gb = input_geometry(b, p);
    // Each model's own faults first (attributes, shapes), then how they differ.
    check_plan(a, ga);
    check_plan(b, gb);
    // A dynamic batch meets any fixed one (an FP32 export with batch ? against
    // an INT8 file saved with batch 1).
    const bool batch_ok = ga.batch == gb.batch || ga.batch < 0 || gb.batch < 0;
    if (ga.channels != gb.channels || ga.height != gb.height || ga.width != gb.width || !batch_ok)
      throw Error(b.path + ": input '" + gb.name + "' [" + std::to_string(gb.batch) + "," + std::to_string(gb.channels) +
                  "," + std::to_string(gb.height) + "," + std::to_string(gb.width) + "] differs from " + a.path + "'s [" +
                  std::to_string(ga.batch) + "," + std::to_string(ga.channels) + "," + std::to_string(ga.height) + "," +
                  std::to_string(ga.width) + "]");
    o->pre.validate(p, ga.channels);

    CompareConfig c;
    c.path_a = a.path;
    c.path_b = b.path;
    if (a.is_default) c.bytes_a = default_model_bytes();
    if (b.is_default) c.bytes_b = default_model_bytes();
    c.dataset = ds_path;
    c.pre = p;
    c.input = ImageInput{ga.channels, ga.height, ga.width, ga.nhwc};
    c.fixed_batch = std::max(ga.batch, gb.batch);
    c.limit = o->limit;
    c.range = o->range;
    c.batch = o->batch;
    c.threads = o->threads;
    c.tune = parse_tune(o->tune);
    c.seconds = o->seconds;
    c.warmup = o->warmup;
    c.layer_images = o->layer_images;
    c.speed = !o->no_speed;
    c.layers = !o->no_layers && o->layer_images > 0;
    c.task = o->task;
    c.adapter = o->adapter;

    std::unique_ptr<Progress> bar;
    std::string stage;
    auto progress = [&](const std::string& s, size_t done, size_t total) {
      if (s != stage) {
        if (bar) bar->finish();
        stage = s;
        bar = std::make_unique<Progress>(s, total);
      }
      bar->update(done);
    };
    CompareResult r = compare_models(a.graph, b.graph, c, progress);
    if (bar) bar->finish();

    nlohmann::json j = report_json(r, calib);
    std::string html = o->html.empty() ? std::string() : report_html(j);
    if (!o->report.empty()) write_file_atomic(o->report, json_text(j, 2) + "\n");
    if (!o->html.empty()) write_file_atomic(o->html, html);
    if (o->json) print_json(j);
    else std::fputs(report_text(j).c_str(), stdout);
    return 0;
  };
}

}  // namespace c8
