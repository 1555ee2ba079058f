#include "eval/task_eval.h"

#include <chrono>
#include <cstring>
#include <numeric>

#include "base/error.h"
#include "eval/adapters/fastestdet.h"
#include "eval/adapters/segmentation_logits.h"
#include "eval/datasets/voc_mask.h"
#include "eval/datasets/voc_xml.h"
#include "eval/metrics/detection_map.h"
#include "eval/metrics/segmentation.h"

namespace c8 {

std::string metric_label(const std::string& key) {
  if (key == "top1") return "top-1";
  if (key == "top5") return "top-5";
  if (key == "map50") return "mAP@0.5";
  if (key == "coco_map") return "mAP@[.5:.95]";
  if (key == "miou") return "mIoU";
  if (key == "pixel_accuracy") return "pixel accuracy";
  return key;
}

namespace {

double secs_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Sample k of a batch output [n, ...] as [1, ...].
Tensor sample_of(const Tensor& t, int64_t k, int64_t n) {
  if (t.rank() < 1 || t.shape[0] != n) throw Error("model output " + shape_str(t.shape) + " has no batch dimension of " + std::to_string(n));
  Shape s = t.shape;
  s[0] = 1;
  Tensor f = t.cast(DType::F32);
  Tensor out(DType::F32, s);
  const size_t per = size_t(out.numel());
  std::memcpy(out.data<float>(), f.data<float>() + size_t(k) * per, per * sizeof(float));
  return out;
}

std::string annotation_of(const Dataset& ds, size_t i) {
  const std::vector<std::string> a = ds.annotation_paths(i);
  if (a.empty()) throw Error(ds.root() + "/" + ds.name(i) + ": no annotation file (list.txt names none for it)");
  return a[0];
}

std::string class_name(const std::vector<std::string>& names, int c) {
  return c >= 0 && size_t(c) < names.size() ? names[size_t(c)] : std::to_string(c);
}

}  // namespace

TaskMetrics evaluate_task(Session& s, const Dataset& ds, const std::vector<size_t>& indices, const Preprocess& p,
                          const ImageInput& in, int batch, const TaskChoice& task,
                          const std::function<void(size_t, size_t)>& progress, bool pad_last_batch) {
  TaskMetrics r;
  r.choice = task;
  if (task.task == Task::Classify) {
    EvalResult e = evaluate_classifier(s, ds, indices, p, in, batch, progress, pad_last_batch);
    r.metric = "top1";
    r.value = e.topk.top1();
    r.metrics = {{"top1", e.topk.top1()}, {"top5", e.topk.top5()}};
    r.images = e.images;
    r.seconds = e.seconds;
    r.infer_seconds = e.infer_seconds;
    r.predictions = std::move(e.predictions);
    return r;
  }
  std::vector<size_t> idx = indices;
  if (idx.empty()) {
    idx.resize(ds.size());
    std::iota(idx.begin(), idx.end(), size_t(0));
  }
  const std::vector<std::string> names = ds.class_names();
  if (task.task == Task::Detect && names.empty())
    throw Error(ds.root() + ": detection needs classes.txt beside list.txt (the class names the XML files use)");
  DetectionMap boxes;
  std::unique_ptr<SegmentationConfusion> pixels;
  auto t0 = std::chrono::steady_clock::now();
  const size_t b = size_t(std::max(1, batch));
  for (size_t first = 0; first < idx.size(); first += b) {
    const size_t n = std::min(b, idx.size() - first);
    std::vector<std::pair<int, int>> sizes;
    std::vector<size_t> rows(idx.begin() + long(first), idx.begin() + long(first + n));
    if (pad_last_batch && n < b) rows.resize(b, idx.back());
    Tensor x = make_batch(ds, rows, 0, rows.size(), p, in, nullptr, &sizes);
    auto ti = std::chrono::steady_clock::now();
    std::vector<Tensor> y = s.run({x});
    r.infer_seconds += secs_since(ti);
    for (size_t k = 0; k < n; ++k) {
      const size_t i = rows[k];
      const Tensor out = sample_of(y.at(0), int64_t(k), int64_t(rows.size()));
      const std::string ann = annotation_of(ds, i);
      try {
        if (task.adapter == "fastestdet") {
          const VocAnnotation a = read_voc_xml(ann, names);
          boxes.add_image(a.boxes, decode_fastestdet(out, sizes[k].first, sizes[k].second));
        } else if (task.adapter == "segmentation_logits") {
          const ClassMask mask = read_class_mask(ann);
          const std::vector<int> cls = segmentation_classes(out, mask.width, mask.height);
          if (!pixels) pixels = std::make_unique<SegmentationConfusion>(int(out.shape[1]));
          pixels->add(mask.labels.data(), cls.data(), cls.size());
        } else {
          throw Error("adapter " + task.adapter + " does not decode " + task_name(task.task) + " outputs");
        }
      } catch (const Error& e) {
        const std::string what = e.what();
        throw Error(what.rfind(ann, 0) == 0 ? what : ann + ": " + what);
      }
    }
    r.images += n;
    if (progress) progress(r.images, idx.size());
  }
  r.seconds = secs_since(t0);
  if (task.task == Task::Detect) {
    nlohmann::json per = nlohmann::json::array();
    for (const ClassAp& a : boxes.voc_ap(0.5))
      per.push_back({{"class", a.cls}, {"name", class_name(names, a.cls)}, {"ap50", a.ap},
                     {"ground_truth", a.ground_truth}, {"detections", a.detections}});
    r.metric = "map50";
    r.value = boxes.voc_map(0.5);
    r.metrics = {{"map50", r.value}, {"coco_map", boxes.coco_map()}, {"classes", per}};
  } else {
    nlohmann::json per = nlohmann::json::array();
    if (pixels)
      for (const auto& [c, iou] : pixels->class_iou()) per.push_back({{"class", c}, {"name", class_name(names, c)}, {"iou", iou}});
    r.metric = "miou";
    r.value = pixels ? pixels->miou() : 0.0;
    r.metrics = {{"miou", r.value}, {"pixel_accuracy", pixels ? pixels->pixel_accuracy() : 0.0}, {"classes", per}};
  }
  return r;
}

}  // namespace c8
