// calibr8 run MODEL IMAGE...: top-k classes of each image.
#include <cstdio>
#include <fstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "eval/metrics/topk.h"
#include "runtime/session.h"

namespace c8 {

CommandAction add_run_command(CLI::App& app) {
  struct Opts {
    std::string model, classes, tune;
    std::vector<std::string> images;
    int top = 5, threads = 1;
    bool json = false;
    PreprocessFlags pre;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("run", "Classify images: top-k classes per image");
  cmd->add_option("model", o->model, "ONNX file, or 'default' for the embedded model")->required();
  cmd->add_option("images", o->images, "image files")->required();
  cmd->add_option("--classes", o->classes, "class names, one per line (a leading wnid token is dropped)");
  cmd->add_option("--top", o->top, "how many classes to print")->check(CLI::Range(1, 1000));
  cmd->add_option("--threads", o->threads, "threads")->check(CLI::Range(1, 256));
  add_tune_option(cmd, &o->tune);
  cmd->add_flag("--json", o->json, "print one JSON object on stdout");
  o->pre.add_to(cmd);
  return [o]() {
    LoadedModel m = load_model_arg(o->model);
    require_supported(m);
    Preprocess p = o->pre.resolve(m.preprocess);
    InputGeometry geo = input_geometry(m, p);
    o->pre.validate(p, geo.channels);
    std::vector<std::string> names;
    if (!o->classes.empty()) names = read_class_names(o->classes);
    else if (m.is_default) names = default_model_classes();
    SessionOptions so;
    so.threads = o->threads;
    so.tune = parse_tune(o->tune);
    so.name = m.path;
    Session s(m.graph, so);
    nlohmann::json out = nlohmann::json::array();
    // Every image is read and decoded before any result is printed: a bad
    // one fails the command with nothing half-done on stdout.
    std::vector<Image> images;
    for (const std::string& path : o->images) images.push_back(load_image(path));
    for (size_t ii = 0; ii < o->images.size(); ++ii) {
      const std::string& path = o->images[ii];
      const Image& img = images[ii];
      Shape shape = geo.nhwc ? Shape{1, geo.height, geo.width, geo.channels} : Shape{1, geo.channels, geo.height, geo.width};
      Tensor x(DType::F32, shape);
      fill_sample(x, 0, img, p, geo);
      std::vector<Tensor> y = s.run({x});
      Tensor scores = y[0].cast(DType::F32);
      int n = int(scores.numel());
      // A names file for another model would label every result wrongly.
      if (ii == 0 && !o->classes.empty() && int64_t(names.size()) != int64_t(n) - p.label_offset)
        throw Error(o->classes + ": lists " + std::to_string(names.size()) + " class names, but the model scores " +
                    std::to_string(n) + " classes" +
                    (p.label_offset ? " (" + std::to_string(n - p.label_offset) + " after --label-offset)" : std::string()));
      std::vector<int> idx = topk_indices(scores.data<float>(), n, std::min(o->top, n));
      nlohmann::json e;
      e["image"] = path;
      e["top"] = nlohmann::json::array();
      for (int k : idx) {
        int cls = k - p.label_offset;
        std::string nm = cls >= 0 && cls < int(names.size()) ? names[size_t(cls)] : "";
        e["top"].push_back({{"class", cls}, {"score", scores.data<float>()[k]}, {"name", nm}});
      }
      out.push_back(e);
      if (!o->json) {
        std::printf("%s\n", path.c_str());
        for (auto& t : e["top"])
          std::printf("  %5d  %9.5f  %s\n", t["class"].get<int>(), t["score"].get<float>(), t["name"].get<std::string>().c_str());
      }
    }
    if (o->json) print_json(out);
    return 0;
  };
}

}  // namespace c8
