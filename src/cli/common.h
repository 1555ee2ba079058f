#pragma once
// Pieces every command shares: loading a model (or the embedded default),
// preprocessing flags, building input batches, a progress bar, JSON output.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "eval/datasets/dataset.h"
#include "eval/evaluator.h"
#include "eval/preprocess.h"
#include "eval/task.h"
#include "cli/outputs.h"
#include "ir/graph.h"

namespace c8 {

// The model argument: a path, or "default" for the model embedded in the binary.
struct LoadedModel {
  Graph graph;
  std::string path;  // display name
  bool is_default = false;
  // What the user need not repeat: the embedded model's preprocessing, or
  // what calibr8 recorded in a model it wrote (metadata "calibr8.preprocess",
  // "calibr8.dataset"). Command-line flags still override.
  Preprocess preprocess;
  std::string default_dataset;  // validation data set, empty when unknown
};
LoadedModel load_model_arg(const std::string& arg);
// Size of the ONNX file embedded as the default model.
size_t default_model_bytes();
// Stores preprocessing (and the validation data set, if known) in a model
// calibr8 writes, so later commands on it need no flags.
void record_model_defaults(Graph& g, const Preprocess& p, const std::string& dataset);
// Preprocessing and data set the embedded default model was trained with.
Preprocess default_model_preprocess();
std::string default_model_dataset(bool train);  // IDX spec for Fashion-MNIST test / train
std::vector<std::string> default_model_classes();

// Preprocessing flags shared by every command that reads images.
struct PreprocessFlags {
  std::string config, size, mean, std, layout, color;
  int resize = 0, crop = 0, label_offset = 0;
  bool label_offset_set = false;
  std::string label_ids;
  void add_to(CLI::App* app);
  // Merges --config (JSON) with the flags (flags win) over a base.
  Preprocess resolve(const Preprocess& base) const;
  // validate_preprocess, naming --config FILE in the error when one was given.
  void validate(const Preprocess& p, int model_channels) const;
};

// The model's single image input: (channels, height, width), with unknown
// spatial dims taken from the preprocessing (--size / --crop / --resize) or 224.
struct InputGeometry {
  int value_id = -1;
  std::string name;
  int64_t batch = -1;  // -1: dynamic
  int channels = 3, height = 224, width = 224;
  bool nhwc = false;
};
InputGeometry input_geometry(const Graph& g, const Preprocess& p);
// Same, errors prefixed with the model's file.
InputGeometry input_geometry(const LoadedModel& m, const Preprocess& p);

// Fills batch slot `slot` of an input tensor [B, C, H, W] (or NHWC).
void fill_sample(Tensor& batch, int slot, const Image& img, const Preprocess& p, const InputGeometry& geo);

// Progress bars on stderr when it is a terminal; with C8_PROGRESS_LINES set
// (calibr8 serve sets it for its jobs), parsable lines instead, at most 4 a
// second (base/progress_lines.h).
class Progress {
 public:
  Progress(std::string label, size_t total);
  void update(size_t done);
  void finish();

 private:
  std::string label_;
  size_t total_;
  bool tty_, lines_;
  std::chrono::steady_clock::time_point start_, last_;
};

double now_seconds();
size_t peak_rss_bytes();
void print_json(const nlohmann::json& j);

}  // namespace c8

namespace c8 {
// --tune off|cached|full (runtime/tuning.h), default cached.
void add_tune_option(CLI::App* cmd, std::string* tune);
// --task classify|detect|segment and --adapter NAME (eval/task.h; empty = guess).
void add_task_options(CLI::App* cmd, std::string* task, std::string* adapter);


// Throws one line listing every node calibr8 cannot run (name and type).
void require_supported(const LoadedModel& m);
// The files a model's weights were read from, as inputs for check_outputs
// (known only once the model is loaded).
std::vector<NamedPath> external_data_inputs(const LoadedModel& m);
// Builds (without running) the fast runtime's plan for one image of `geo`:
// what run / evaluate / bench do first, so that `calibrate` fails before its
// work and `info` refuses the same models. Errors name the file and node.
void check_plan(const LoadedModel& m, const InputGeometry& geo);
}  // namespace c8
