#include "cli/common.h"

#include "eval/limits.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <fstream>

#include "ir/onnx_import.h"
#include "base/error.h"
#include "base/progress_lines.h"
#include "base/json_io.h"
#include "runtime/session.h"

extern const unsigned char c8_default_model[];
extern const size_t c8_default_model_size;
extern const unsigned char c8_default_model_json[];
extern const size_t c8_default_model_json_size;

namespace c8 {

size_t default_model_bytes() { return c8_default_model_size; }

static nlohmann::json default_json() {
  return nlohmann::json::parse(std::string(reinterpret_cast<const char*>(c8_default_model_json), c8_default_model_json_size));
}

LoadedModel load_model_arg(const std::string& arg) {
  LoadedModel m;
  if (arg.empty() || arg == "default") {
    m.graph = load_onnx_bytes(c8_default_model, c8_default_model_size, "default model (fashion_cnn.onnx)", "");
    m.path = "default";
    m.is_default = true;
    m.preprocess = default_model_preprocess();
    m.default_dataset = default_model_dataset(false);
    return m;
  }
  m.graph = load_onnx(arg);
  m.path = arg;
  auto it = m.graph.metadata.find("calibr8.preprocess");
  if (it != m.graph.metadata.end()) {
    try {
      m.preprocess = preprocess_from_json(parse_json_bounded(it->second, "calibr8.preprocess metadata"));
    } catch (const std::exception& e) {
      throw Error(arg + ": invalid calibr8.preprocess metadata: " + e.what());
    }
  }
  it = m.graph.metadata.find("calibr8.dataset");
  if (it != m.graph.metadata.end()) m.default_dataset = it->second;
  return m;
}

void record_model_defaults(Graph& g, const Preprocess& p, const std::string& dataset) {
  g.metadata["calibr8.preprocess"] = json_text(preprocess_to_json(p));
  if (!dataset.empty()) g.metadata["calibr8.dataset"] = dataset;
}

Preprocess default_model_preprocess() {
  auto j = default_json();
  Preprocess p;
  p.mean = j.at("mean").get<std::vector<float>>();
  p.std = j.at("std").get<std::vector<float>>();
  return p;
}

std::string default_model_dataset(bool train) {
  return train ? "/usr/share/datasets/fashion-mnist:train" : "/usr/share/datasets/fashion-mnist:test";
}

std::vector<std::string> default_model_classes() { return default_json().at("classes").get<std::vector<std::string>>(); }

void PreprocessFlags::add_to(CLI::App* app) {
  app->add_option("--config", config, "JSON file with preprocessing keys (resize, crop, size, mean, std, layout, color, label_offset, label_ids)");
  app->add_option("--resize", resize, "resize the shorter side to N (bilinear)");
  app->add_option("--crop", crop, "center crop NxN after --resize");
  app->add_option("--size", size, "stretch to WxH instead of --resize/--crop");
  app->add_option("--mean", mean, "per-channel mean in 0..255 units, e.g. 123.7,116.3,103.5");
  app->add_option("--std", std, "per-channel std in 0..255 units, e.g. 58.4,57.1,57.4");
  app->add_option("--layout", layout, "model input layout: nchw or nhwc")->check(CLI::IsMember({"nchw", "nhwc"}));
  app->add_option("--color", color, "channel order the model expects: rgb or bgr")->check(CLI::IsMember({"rgb", "bgr"}));
  app->add_option_function<uint64_t>(
      "--max-image-pixels", [](const uint64_t& v) { input_limits().max_image_pixels = v; },
      "refuse images larger than this many pixels (default 89478485, Pillow's; 0 = no limit)");
  app->add_option_function<uint64_t>(
      "--max-file-mb", [](const uint64_t& v) { input_limits().max_file_bytes = v << 20; },
      "refuse image and data files larger than this, decompressed (default 2048; 0 = no limit)");
  app->add_option("--label-offset", label_offset, "model output index = class index + K (1001-class models: 1)")
      ->each([this](const std::string&) { label_offset_set = true; });
  app->add_option("--label-ids", label_ids,
                  "detection: the model's class ids are COCO category ids (1..90, torchvision's and TF's detectors), mapped to the data set's classes by name")
      ->check(CLI::IsMember({"coco"}));
}

Preprocess PreprocessFlags::resolve(const Preprocess& base) const {
  Preprocess p = base;
  if (!config.empty()) {
    const std::vector<uint8_t> bytes = read_file_limited(config);  // regular files only: a FIFO would block
    nlohmann::json j = parse_json_bounded(std::string(bytes.begin(), bytes.end()), config);
    try {
      p = preprocess_from_json(j);
    } catch (const Error& e) {
      throw Error(config + ": " + e.what());
    }
  }
  if (resize) p.resize = resize;
  if (crop) p.crop = crop;
  if (!size.empty()) {
    auto [w, h] = parse_size(size);
    p.width = w;
    p.height = h;
  }
  if (!mean.empty()) p.mean = parse_floats(mean);
  if (!std.empty()) p.std = parse_floats(std);
  if (!layout.empty()) p.layout = layout;
  if (!color.empty()) p.color = color;
  if (label_offset_set) p.label_offset = label_offset;
  if (!label_ids.empty()) p.label_ids = label_ids;
  return p;
}

void PreprocessFlags::validate(const Preprocess& p, int model_channels) const {
  try {
    validate_preprocess(p, model_channels);
  } catch (const Error& e) {
    if (config.empty()) throw;
    throw Error(config + (size.empty() && mean.empty() && std.empty() && layout.empty() && color.empty() && !resize && !crop
                              ? ": "
                              : " (with the preprocessing flags): ") +
                e.what());
  }
}

InputGeometry input_geometry(const LoadedModel& m, const Preprocess& p) {
  try {
    return input_geometry(m.graph, p);
  } catch (const Error& e) {
    throw Error(m.path + ": " + e.what());
  }
}

void add_task_options(CLI::App* cmd, std::string* task, std::string* adapter) {
  std::string adapters;
  for (const AdapterInfo& a : known_adapters()) adapters += (adapters.empty() ? "" : ", ") + a.name;
  cmd->add_option("--task", *task,
                  "classify, detect or segment (default: from the annotations: labels -> classify, VOC XML boxes -> "
                  "detect, PNG masks -> segment)")
      ->check(CLI::IsMember({"classify", "detect", "segment"}));
  cmd->add_option("--adapter", *adapter, "output decoder (default: the one of the task that fits the output): " + adapters);
}

void add_tune_option(CLI::App* cmd, std::string* tune) {
  *tune = "cached";
  cmd->add_option("--tune", *tune,
                  "kernel choice by measurement: cached (time once per CPU and node, then reuse; default), full (time "
                  "again), off (fixed rules)")
      ->check(CLI::IsMember({"off", "cached", "full"}));
}

std::vector<NamedPath> external_data_inputs(const LoadedModel& m) {
  std::vector<NamedPath> r;
  for (const std::string& f : m.graph.external_files) r.push_back({"external data of " + m.path, f});
  return r;
}

void check_plan(const LoadedModel& m, const InputGeometry& geo) {
  SessionOptions so;
  so.name = m.path;
  Session s(m.graph, so);
  const int64_t b = geo.batch > 0 ? geo.batch : 1;
  s.prepare({geo.nhwc ? Shape{b, geo.height, geo.width, geo.channels} : Shape{b, geo.channels, geo.height, geo.width}});
}

InputGeometry input_geometry(const Graph& g, const Preprocess& p) {
  if (g.inputs.size() != 1)
    throw Error("model has " + std::to_string(g.inputs.size()) + " inputs; image commands need exactly one image input");
  InputGeometry geo;
  geo.value_id = g.inputs[0];
  const Value& v = g.values[size_t(g.inputs[0])];
  geo.name = v.name;
  geo.nhwc = p.layout == "nhwc";
  if (v.dtype != DType::F32) throw Error("input '" + v.name + "' is " + dtype_name(v.dtype) + "; only float32 image inputs are supported");
  if (!v.has_shape || v.shape.size() != 4)
    throw Error("input '" + v.name + "' has shape " + shape_str(v.shape) + "; expected a 4-D image tensor");
  for (int64_t d : v.shape)
    if (d == 0) throw Error("input '" + v.name + "' has shape " + shape_str(v.shape) + ": a dimension of 0 holds no image");
  geo.batch = v.shape[0];
  int64_t c = v.shape[geo.nhwc ? 3 : 1], h = v.shape[geo.nhwc ? 1 : 2], w = v.shape[geo.nhwc ? 2 : 3];
  if (c < 0) throw Error("input '" + v.name + "': channel count is unknown");
  if (c != 1 && c != 3)
    throw Error("input '" + v.name + "' has " + std::to_string(c) + " channels in " + p.layout +
                " layout; expected 1 or 3 (use --layout nhwc for channel-last models)");
  geo.channels = int(c);
  int ph = p.height ? p.height : (p.crop ? p.crop : (p.resize ? p.resize : 224));
  int pw = p.width ? p.width : (p.crop ? p.crop : (p.resize ? p.resize : 224));
  geo.height = h > 0 ? int(h) : ph;
  geo.width = w > 0 ? int(w) : pw;
  return geo;
}

void fill_sample(Tensor& batch, int slot, const Image& img, const Preprocess& p, const InputGeometry& geo) {
  size_t per = size_t(geo.channels) * size_t(geo.height) * size_t(geo.width);
  preprocess_into(img, p, geo.channels, geo.height, geo.width, batch.data<float>() + size_t(slot) * per);
}

Progress::Progress(std::string label, size_t total)
    : label_(std::move(label)), total_(total), tty_(isatty(2)), lines_(!tty_ && progress_lines_requested(std::getenv(kProgressLinesEnv))) {
  start_ = last_ = std::chrono::steady_clock::now();
}

void Progress::update(size_t done) {
  if (!tty_ && !lines_) return;
  auto t = std::chrono::steady_clock::now();
  if (done < total_ && t - last_ < std::chrono::milliseconds(lines_ ? 250 : 100)) return;
  last_ = t;
  if (lines_) {  // for a parent process (calibr8 serve): one parsable line per update
    std::fprintf(stderr, "%s%zu\t%zu\t%s\n", kProgressLinePrefix, done, total_, label_.c_str());
    std::fflush(stderr);
    return;
  }
  double secs = std::chrono::duration<double>(t - start_).count();
  double rate = secs > 0 ? double(done) / secs : 0;
  int width = 30;
  int filled = total_ ? int(double(done) / double(total_) * width) : width;
  std::string bar(size_t(filled), '#');
  bar.resize(size_t(width), '.');
  // ETA of this stage from its own rate so far (stages differ in cost per image).
  char eta[32] = "";
  if (done < total_ && rate > 0) {
    const long left = std::lround(double(total_ - done) / rate);
    if (left >= 60) std::snprintf(eta, sizeof eta, "  ETA %ldm%02lds", left / 60, left % 60);
    else std::snprintf(eta, sizeof eta, "  ETA %lds", left);
  }
  std::fprintf(stderr, "\r%-12s [%s] %zu/%zu  %.1f img/s%-14s", label_.c_str(), bar.c_str(), done, total_, rate, eta);
  std::fflush(stderr);
}

void Progress::finish() {
  if (!tty_ && !lines_) return;
  update(total_);
  if (lines_) return;
  std::fprintf(stderr, "\n");
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

size_t peak_rss_bytes() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return size_t(ru.ru_maxrss) * 1024;
}

void print_json(const nlohmann::json& j) { std::printf("%s\n", json_text(j, 2).c_str()); }

}  // namespace c8

#include "runtime/ref_executor.h"

namespace c8 {
void require_supported(const LoadedModel& m) {
  auto u = unsupported_nodes(m.graph);
  if (u.empty()) return;
  std::string list;
  for (size_t i = 0; i < u.size(); ++i) list += (i ? ", " : "") + u[i];
  throw Error(m.path + ": " + std::to_string(u.size()) + " unsupported node(s): " + list);
}
}  // namespace c8
