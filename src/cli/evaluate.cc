// calibr8 evaluate MODEL --dataset DIR: baseline accuracy.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "eval/evaluator.h"
#include "quant/calibrate.h"

namespace c8 {

CommandAction add_evaluate_command(CLI::App& app) {
  struct Opts {
    std::string model, dataset, range, tune;
    int limit = 0, batch = 0, threads = 1;
    bool json = false;
    PreprocessFlags pre;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("evaluate", "Accuracy (top-1, top-5) of a classifier on a labelled data set");
  cmd->add_option("model", o->model, "ONNX file, or 'default' for the embedded model")->required();
  cmd->add_option("--dataset", o->dataset, "labels.txt folder, class sub-folders, or IDX files (default model: Fashion-MNIST test)");
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
    Progress bar("evaluate", idx.size());
    EvalResult r = evaluate_classifier(s, *ds, idx, p, in, batch, [&](size_t d, size_t) { bar.update(d); }, geo.batch > 0);
    bar.finish();
    nlohmann::json j;
    j["model"] = m.path;
    j["dataset"] = ds_path;
    j["format"] = ds->format();
    j["images"] = r.images;
    j["top1"] = r.topk.top1();
    j["top5"] = r.topk.top5();
    j["wall_seconds"] = r.seconds;
    j["inference_seconds"] = r.infer_seconds;
    j["images_per_second"] = r.seconds > 0 ? double(r.images) / r.seconds : 0.0;
    j["batch"] = batch;
    j["threads"] = o->threads;
    j["preprocess"] = preprocess_to_json(p);
    if (o->json) {
      print_json(j);
    } else {
      std::printf("model     %s\ndataset   %s (%s)\nimages    %zu\ntop-1     %.2f %%\ntop-5     %.2f %%\nwall time %.2f s (%.1f img/s, inference %.2f s)\n",
                  m.path.c_str(), ds_path.c_str(), ds->format().c_str(), r.images, 100 * r.topk.top1(), 100 * r.topk.top5(),
                  r.seconds, double(r.images) / std::max(r.seconds, 1e-9), r.infer_seconds);
    }
    return 0;
  };
}

}  // namespace c8
