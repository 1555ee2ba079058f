#include "eval/task.h"

#include <algorithm>
#include <filesystem>

#include "base/error.h"

namespace c8 {

const char* task_name(Task t) {
  switch (t) {
    case Task::Detect: return "detect";
    case Task::Segment: return "segment";
    default: return "classify";
  }
}

const std::vector<AdapterInfo>& known_adapters() {
  static const std::vector<AdapterInfo> a = {
      {"topk", Task::Classify, "[N, classes] scores"},
      {"fastestdet", Task::Detect, "[N, 5 + classes, H, W] (objectness, box, class probabilities per cell)"},
      {"segmentation_logits", Task::Segment, "[N, classes, H, W] per-pixel scores"},
  };
  return a;
}

namespace {

std::string lower_ext(const std::string& path) {
  std::string e = std::filesystem::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return e;
}

// The task the data set's annotations describe, or why there is none.
bool task_of_annotations(const Dataset& ds, Task& t, std::string& reason) {
  if (ds.size() > 0) {
    const std::vector<std::string> ann = ds.annotation_paths(0);
    if (!ann.empty()) {
      const std::string e = lower_ext(ann[0]);
      if (e == ".xml") {
        t = Task::Detect;
        reason = "annotations: VOC XML boxes";
        return true;
      }
      if (e == ".png") {
        t = Task::Segment;
        reason = "annotations: PNG class masks";
        return true;
      }
    }
  }
  if (ds.annotated()) {
    t = Task::Classify;
    reason = "annotations: class labels (" + ds.format() + ")";
    return true;
  }
  return false;
}

bool adapter_fits(const std::string& name, const Shape& out, size_t classes) {
  if (name == "topk") return out.size() >= 2;
  if (name == "fastestdet")
    return out.size() == 4 && (out[1] < 0 || (classes ? out[1] == int64_t(5 + classes) : out[1] > 5));
  if (name == "segmentation_logits") return out.size() == 4 && (out[1] < 0 || out[1] >= 2);
  return false;
}

}  // namespace

bool has_annotations(const Dataset& ds) {
  Task t;
  std::string why;
  return task_of_annotations(ds, t, why);
}

TaskChoice choose_task(const Dataset& ds, const std::string& model, const Shape& out, const std::string& task_flag,
                       const std::string& adapter_flag) {
  TaskChoice c;
  const AdapterInfo* named = nullptr;
  if (!adapter_flag.empty()) {
    for (const AdapterInfo& a : known_adapters())
      if (a.name == adapter_flag) named = &a;
    if (!named) {
      std::string list;
      for (const AdapterInfo& a : known_adapters()) list += (list.empty() ? "" : ", ") + a.name;
      throw Error("--adapter " + adapter_flag + ": unknown decoder (known: " + list + ")");
    }
  }
  if (!task_flag.empty()) {
    if (task_flag == "classify") c.task = Task::Classify;
    else if (task_flag == "detect") c.task = Task::Detect;
    else if (task_flag == "segment") c.task = Task::Segment;
    else throw Error("--task " + task_flag + ": expected classify, detect or segment");
    c.reason = "--task";
    if (named && named->task != c.task)
      throw Error("--adapter " + named->name + " decodes " + task_name(named->task) + " outputs, not " + task_flag);
  } else if (named) {
    c.task = named->task;
    c.reason = "--adapter";
  } else if (!task_of_annotations(ds, c.task, c.reason)) {
    throw Error(ds.root() + ": data set has no annotations (" + ds.format() +
                "); accuracy needs labels.txt, class folders, IDX labels, or list.txt with VOC XML boxes / PNG masks");
  }
  const size_t classes = ds.class_names().size();
  if (named) {
    if (!adapter_fits(named->name, out, classes))
      throw Error(model + ": output " + shape_str(out) + " does not fit --adapter " + named->name + " (reads " +
                  named->output + ")");
    c.adapter = named->name;
    return c;
  }
  for (const AdapterInfo& a : known_adapters())
    if (a.task == c.task && adapter_fits(a.name, out, classes)) {
      c.adapter = a.name;
      return c;
    }
  std::string list;
  for (const AdapterInfo& a : known_adapters())
    if (a.task == c.task) list += (list.empty() ? "" : "; ") + a.name + " reads " + a.output;
  throw Error(model + ": no " + task_name(c.task) + " decoder fits its output " + shape_str(out) + " (" + list + ")");
}

}  // namespace c8
