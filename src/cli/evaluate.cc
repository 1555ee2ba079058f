// calibr8 evaluate MODEL --dataset DIR: baseline accuracy for the model's task
// (classification top-k, detection mAP, segmentation mIoU; eval/task.h).
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "eval/task_eval.h"
#include "quant/calibrate.h"

namespace c8 {

CommandAction add_evaluate_command(CLI::App& app) {
  struct Opts {
    std::string model, dataset, range, tune, task, adapter;
    int limit = 0, batch = 0, threads = 1;
    bool json = false;
    PreprocessFlags pre;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "evaluate", "Accuracy of a model on an annotated data set: top-1/top-5, detection mAP or segmentation mIoU");
  cmd->add_option("model", o->model, "ONNX file, or 'default' for the embedded model")->required();
  cmd->add_option("--dataset", o->dataset,
                  "labels.txt folder, class sub-folders, IDX files, or list.txt with VOC XML boxes / PNG masks "
                  "(default model: Fashion-MNIST test)");
  add_task_options(cmd, &o->task, &o->adapter);
  cmd->add_option("--limit", o->limit, "evaluate only the first N images")->check(CLI::NonNegativeNumber);
  cmd->add_option("--range", o->range, "evaluate only images [A, B) in file order, e.g. 200: (the images calibrate --calib-range 0:200 left out)");
  cmd->add_option("--batch", o->batch, "batch size (default: 8 for dynamic-batch models, else the model's)")->check(CLI::Range(1, 4096));
  cmd->add_option("--threads", o->threads, "threads")->check(CLI::Range(1, 256));
  add_tune_option(cmd, &o->tune);
  cmd->add_flag("--json", o->json, "print one JSON object on stdout");
  o->pre.add_to(cmd);
  return [o]() {
    LoadedModel m = load_model_arg(o->model);
    require_supported(m);
    std::string ds_path = o->dataset;
    if (ds_path.empty()) {
      if (m.default_dataset.empty()) throw Error("--dataset is required");
      ds_path = m.default_dataset;
    }
    Preprocess p = o->pre.resolve(m.preprocess);
    InputGeometry geo = input_geometry(m, p);
    o->pre.validate(p, geo.channels);
    auto ds = open_dataset(ds_path);
    std::vector<size_t> idx;
    size_t n = ds->size();
    if (o->limit > 0 && size_t(o->limit) < n) n = size_t(o->limit);
    size_t first = 0;
    if (!o->range.empty()) std::tie(first, n) = parse_index_range(o->range, n);
    for (size_t i = first; i < n; ++i) idx.push_back(i);
    int batch = o->batch ? o->batch : (geo.batch > 0 ? int(geo.batch) : 8);
    if (geo.batch > 0 && batch != geo.batch)
      throw Error(m.path + ": input '" + geo.name + "' has a fixed batch of " + std::to_string(geo.batch) + "; --batch " + std::to_string(batch) + " is not possible");
    SessionOptions so;
    so.threads = o->threads;
    so.tune = parse_tune(o->tune);
    so.name = m.path;
    Session s(m.graph, so);
    ImageInput in{geo.channels, geo.height, geo.width, geo.nhwc};
    const TaskChoice task = choose_task(*ds, m.path, output_shapes(s, in, batch), o->task, o->adapter, p.label_ids);
    Progress bar("evaluate", idx.size());
    TaskMetrics r = evaluate_task(s, *ds, idx, p, in, batch, task, [&](size_t d, size_t) { bar.update(d); }, geo.batch > 0);
    bar.finish();
    nlohmann::json j;
    j["model"] = m.path;
    j["dataset"] = ds_path;
    j["format"] = ds->format();
    j["images"] = r.images;
    j["task"] = task_name(task.task);
    j["adapter"] = task.adapter;
    j["task_from"] = task.reason;
    j["metric"] = r.metric;
    for (auto it = r.metrics.begin(); it != r.metrics.end(); ++it) j[it.key()] = it.value();
    j["wall_seconds"] = r.seconds;
    j["inference_seconds"] = r.infer_seconds;
    j["images_per_second"] = r.seconds > 0 ? double(r.images) / r.seconds : 0.0;
    j["batch"] = batch;
    j["threads"] = o->threads;
    j["preprocess"] = preprocess_to_json(p);
    if (o->json) {
      print_json(j);
    } else {
      std::printf("model     %s\ndataset   %s (%s)\nimages    %zu\ntask      %s (%s; decoder %s)\n", m.path.c_str(),
                  ds_path.c_str(), ds->format().c_str(), r.images, task_name(task.task), task.reason.c_str(),
                  task.adapter.c_str());
      std::printf("%-9s %.2f %%\n", metric_label(r.metric).c_str(), 100 * r.value);
      for (auto it = r.metrics.begin(); it != r.metrics.end(); ++it)
        if (it.value().is_number() && it.key() != r.metric)
          std::printf("%-9s %.2f %%\n", metric_label(it.key()).c_str(), 100 * it.value().get<double>());
      std::printf("wall time %.2f s (%.1f img/s, inference %.2f s)\n", r.seconds,
                  double(r.images) / std::max(r.seconds, 1e-9), r.infer_seconds);
    }
    return 0;
  };
}

}  // namespace c8
