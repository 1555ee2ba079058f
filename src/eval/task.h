#pragma once
// What a model does and how its output is read: classification (top-k),
// object detection (boxes -> mAP) or semantic segmentation (per-pixel
// classes -> mIoU), and the output decoder ("adapter") for it. Given with
// --task / --adapter, or guessed from the data set's annotation files and the
// shape of the model's first output.
#include <string>
#include <vector>

#include "eval/datasets/dataset.h"
#include "ir/tensor.h"

namespace c8 {

enum class Task { Classify, Detect, Segment };

const char* task_name(Task t);  // "classify", "detect", "segment"

struct AdapterInfo {
  std::string name;
  Task task;
  std::string output;  // the output it reads, for messages
};
// Every decoder calibr8 has (one file each under eval/adapters/).
const std::vector<AdapterInfo>& known_adapters();

struct TaskChoice {
  Task task = Task::Classify;
  std::string adapter = "topk";
  std::string reason;  // how it was decided, for the report ("--task", "annotations: VOC XML", ...)
};

// True if the data set can score a model on the images idx (every image
// when empty): class labels, or list.txt naming an annotation file of one
// kind (VOC XML boxes or PNG masks) for each of them. When false, why says
// what is missing (naming the first image without one) if given.
bool has_annotations(const Dataset& ds, const std::vector<size_t>& idx = {}, std::string* why = nullptr);

// The task the data set's annotations describe (from its first annotated
// image); false when it has none.
bool annotation_task(const Dataset& ds, Task& t);

// task_flag / adapter_flag: "" = guess. output_shapes: the model's outputs
// in order (batch dimension first; unknown dims < 0). Throws c8::Error with
// one line naming the data set or model when nothing fits or a flag
// contradicts what it names. label_ids "coco" (--label-ids): detection only,
// and only the SSD decoder reads COCO category ids (a score head must have 91
// columns); callers treat the flag as naming the task, so it is never ignored.
TaskChoice choose_task(const Dataset& ds, const std::string& model, const std::vector<Shape>& output_shapes,
                       const std::string& task_flag, const std::string& adapter_flag, const std::string& label_ids = "");

}  // namespace c8
