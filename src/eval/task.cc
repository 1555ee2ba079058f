#include "eval/task.h"

#include <algorithm>
#include <filesystem>

#include "base/error.h"
#include "eval/adapters/ssd.h"

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
      {"yolo", Task::Detect, "[N, boxes, 5 + classes] (cx, cy, w, h in input pixels, objectness, class scores)"},
      {"yolov8", Task::Detect, "[N, 4 + classes, boxes] (cx, cy, w, h in input pixels, class scores)"},
      {"ssd", Task::Detect, "boxes [N, A, 4] (x0, y0, x1, y1) with scores [N, A, classes (+ background)], or "
                            "post-NMS boxes, scores and labels"},
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
  if (ds.has_boxes()) {
    t = Task::Detect;
    reason = "annotations: COCO JSON boxes";
    return true;
  }
  for (size_t i = 0; i < ds.size(); ++i) {  // the first image list.txt gives an annotation
    const std::vector<std::string> ann = ds.annotation_paths(i);
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
      break;  // an annotation of another kind: not one calibr8 reads
    }
  }
  if (ds.annotated()) {
    t = Task::Classify;
    reason = "annotations: class labels (" + ds.format() + ")";
    return true;
  }
  return false;
}

bool adapter_fits(const std::string& name, const std::vector<Shape>& outs, size_t classes, bool coco_ids) {
  if (outs.empty()) return false;
  const Shape& out = outs[0];
  auto is = [&](int64_t d, int64_t want) { return d < 0 || d == want; };
  if (name == "topk") return out.size() >= 2;
  if (name == "fastestdet")
    return out.size() == 4 && (out[1] < 0 || (classes ? out[1] == int64_t(5 + classes) : out[1] > 5));
  // YOLO rows are few values per box (5 + classes) and many boxes; v8 has them transposed
  if (name == "yolo")
    return out.size() == 3 && (classes ? is(out[2], int64_t(5 + classes)) : out[2] > 5 && out[2] < out[1]);
  if (name == "yolov8")
    return out.size() == 3 && (classes ? is(out[1], int64_t(4 + classes)) : out[1] > 4 && out[1] < out[2]);
  if (name == "ssd") return ssd_outputs_fit(outs, classes, coco_ids);
  if (name == "segmentation_logits") return out.size() == 4 && (out[1] < 0 || out[1] >= 2);
  return false;
}

}  // namespace

bool annotation_task(const Dataset& ds, Task& t) {
  std::string reason;
  return task_of_annotations(ds, t, reason);
}

bool has_annotations(const Dataset& ds, const std::vector<size_t>& idx, std::string* why) {
  Task t;
  std::string reason;
  if (!task_of_annotations(ds, t, reason)) {
    if (why) *why = "data set has no annotations (" + ds.format() + ")";
    return false;
  }
  if (t == Task::Classify || ds.has_boxes()) return true;  // every image has its label / its (maybe empty) boxes
  const std::string want = t == Task::Detect ? ".xml" : ".png";
  const size_t n = idx.empty() ? ds.size() : idx.size();
  for (size_t k = 0; k < n; ++k) {
    const size_t i = idx.empty() ? k : idx[k];
    const std::vector<std::string> ann = ds.annotation_paths(i);
    if (ann.empty() || lower_ext(ann[0]) != want) {
      if (why)
        *why = ds.name(i) + (ann.empty() ? " has no annotation file in list.txt"
                                         : " is annotated by " + ann[0] + ", not a " + want + " like the others");
      return false;
    }
  }
  return true;
}

TaskChoice choose_task(const Dataset& ds, const std::string& model, const std::vector<Shape>& outs,
                       const std::string& task_flag, const std::string& adapter_flag, const std::string& label_ids) {
  const Shape out = outs.empty() ? Shape{} : outs[0];
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
  // COCO category ids are read by the SSD decoder only (post-NMS labels or a 91-column head).
  const bool coco = label_ids == "coco";
  if (coco && c.task != Task::Detect)
    throw Error(std::string("--label-ids coco names a detector's class ids, but the task is ") + task_name(c.task) + " (" + c.reason + ")");
  if (coco && named && named->name != "ssd")
    throw Error("--label-ids coco: the " + named->name + " decoder reads contiguous class indexes; only ssd reads COCO ids");
  if (named) {
    if (!adapter_fits(named->name, outs, classes, coco))
      throw Error(model + ": output " + shape_str(out) + " does not fit --adapter " + named->name + " (reads " +
                  named->output + ")");
    c.adapter = named->name;
    return c;
  }
  for (const AdapterInfo& a : known_adapters())
    if (a.task == c.task && (!coco || a.name == "ssd") && adapter_fits(a.name, outs, classes, coco)) {
      c.adapter = a.name;
      return c;
    }
  std::string list;
  for (const AdapterInfo& a : known_adapters())
    if (a.task == c.task) list += (list.empty() ? "" : "; ") + a.name + " reads " + a.output;
  throw Error(model + ": no " + task_name(c.task) + " decoder fits its output " + shape_str(out) + " (" + list + ")" +
              (coco ? "; with --label-ids coco only ssd applies, and a score head needs " + std::to_string(kCocoColumns) +
                          " columns (one per COCO category id)"
                    : ""));
}

}  // namespace c8
