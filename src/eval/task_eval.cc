#include "eval/task_eval.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <numeric>

#include "base/error.h"
#include "eval/adapters/detect.h"
#include "eval/adapters/segmentation_logits.h"
#include "eval/datasets/coco_ids.h"
#include "eval/datasets/voc_mask.h"
#include "eval/datasets/voc_xml.h"

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

std::vector<Shape> output_shapes(Session& s, const ImageInput& in, int batch) {
  const Shape x = in.nhwc ? Shape{batch, in.height, in.width, in.channels} : Shape{batch, in.channels, in.height, in.width};
  s.prepare({x});
  const Graph& g = s.planned_graph();
  std::vector<Shape> r;
  for (int o : g.outputs) {
    const Value& v = g.values[size_t(o)];
    r.push_back(v.has_shape ? v.shape : Shape{});
  }
  return r;
}

std::vector<std::string> output_names(Session& s) {
  const Graph& g = s.planned_graph();
  std::vector<std::string> r;
  for (int o : g.outputs) r.push_back(g.values[size_t(o)].name);
  return r;
}

Tensor sample_of(const Tensor& t, int64_t k, int64_t n) {
  if (t.rank() < 1 || t.shape[0] != n)
    throw Error("model output " + shape_str(t.shape) + " has no batch dimension of " + std::to_string(n));
  Shape s = t.shape;
  s[0] = 1;
  Tensor f = t.cast(DType::F32);
  Tensor out(DType::F32, s);
  const size_t per = size_t(out.numel());
  std::memcpy(out.data<float>(), f.data<float>() + size_t(k) * per, per * sizeof(float));
  return out;
}

Tensor per_image(const Tensor& t, size_t output, int64_t k, int64_t n) {
  return output == 0 || (t.rank() >= 1 && t.shape[0] == n) ? sample_of(t, k, n) : t.cast(DType::F32);
}

namespace {

double secs_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
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

TaskScorer::TaskScorer(const Dataset& ds, const TaskChoice& task, const Preprocess& p, const ImageInput& in,
                       std::vector<std::string> output_names)
    : ds_(ds),
      task_(task),
      label_offset_(p.label_offset),
      pre_(p),
      in_(in),
      output_names_(std::move(output_names)),
      names_(ds.class_names()) {
  if (task.task == Task::Detect && names_.empty())
    throw Error(ds.root() + ": detection needs classes.txt beside list.txt (the class names the XML files use)");
  if (p.label_ids == "coco") {
    if (task.task != Task::Detect) throw Error("--label-ids coco applies to detection only");
    coco_ids_ = coco_ids_to_classes(names_);
    if (std::none_of(coco_ids_.begin(), coco_ids_.end(), [](int c) { return c >= 0; }))
      throw Error(ds.root() + ": --label-ids coco: none of the data set's classes is a COCO class name");
  }
}

void TaskScorer::add(size_t i, const std::vector<Tensor>& outs, int image_w, int image_h) {
  if (outs.empty()) throw Error("the model has no output to score");
  const Tensor& out = outs[0];
  ++images_;
  if (task_.task == Task::Classify) {
    const int per = int(out.numel());
    const int lab = ds_.label(i);
    const int64_t label = lab < 0 ? -1 : int64_t(lab) + int64_t(label_offset_);  // both from files / flags: no int overflow
    if (lab < 0) throw Error(ds_.root() + "/" + ds_.name(i) + ": no class label");
    if (label < 0)
      throw Error(ds_.root() + "/" + ds_.name(i) + ": label " + std::to_string(lab) + " with --label-offset " +
                  std::to_string(label_offset_) + " is below 0");
    if (label >= per)
      throw Error(ds_.root() + ": label " + std::to_string(lab) + " (+ offset " + std::to_string(label_offset_) +
                  ") is outside the model's " + std::to_string(per) + " outputs");
    topk_.add(out.data<float>(), per, int(label));
    predictions_.push_back(topk_indices(out.data<float>(), per, 1)[0] - label_offset_);
    return;
  }
  const ImageGeometry geo = image_geometry(pre_, image_w, image_h, in_.width, in_.height);
  DetectContext ctx{output_names_, names_.size(), label_offset_, {}};
  if (pre_.label_ids == "coco") ctx.class_of_id = coco_ids_;
  if (task_.task == Task::Detect && ds_.has_boxes()) {  // COCO JSON: the data set holds them
    try {
      boxes_.add_image(ds_.boxes(i), decode_detections(task_.adapter, outs, geo, ctx));
    } catch (const Error& e) {
      throw Error(ds_.root() + "/" + ds_.name(i) + ": " + e.what());
    }
    return;
  }
  const std::string ann = annotation_of(ds_, i);
  try {
    if (task_.task == Task::Detect) {
      const VocAnnotation a = read_voc_xml(ann, names_);
      boxes_.add_image(a.boxes, decode_detections(task_.adapter, outs, geo, ctx));
    } else if (task_.adapter == "segmentation_logits") {
      const ClassMask mask = read_class_mask(ann);
      const std::vector<int> cls = segmentation_classes(out, mask.width, mask.height);
      if (!pixels_) pixels_ = std::make_unique<SegmentationConfusion>(int(out.shape[1]));
      pixels_->add(mask.labels.data(), cls.data(), cls.size());
    } else {
      throw Error("adapter " + task_.adapter + " does not decode " + task_name(task_.task) + " outputs");
    }
  } catch (const Error& e) {
    const std::string what = e.what();
    throw Error(what.rfind(ann, 0) == 0 ? what : ann + ": " + what);
  }
}

TaskMetrics TaskScorer::result() const {
  TaskMetrics r;
  r.choice = task_;
  r.images = images_;
  if (task_.task == Task::Classify) {
    r.metric = "top1";
    r.value = topk_.top1();
    r.metrics = {{"top1", topk_.top1()}, {"top5", topk_.top5()}};
    r.predictions = predictions_;
  } else if (task_.task == Task::Detect) {
    nlohmann::json per = nlohmann::json::array();
    for (const ClassAp& a : boxes_.voc_ap(0.5))
      per.push_back({{"class", a.cls}, {"name", class_name(names_, a.cls)}, {"ap50", a.ap},
                     {"ground_truth", a.ground_truth}, {"detections", a.detections}});
    r.metric = "map50";
    r.value = boxes_.voc_map(0.5);
    r.metrics = {{"map50", r.value}, {"coco_map", boxes_.coco_map()}, {"classes", per}};
  } else {
    nlohmann::json per = nlohmann::json::array();
    if (pixels_)
      for (const auto& [c, iou] : pixels_->class_iou()) per.push_back({{"class", c}, {"name", class_name(names_, c)}, {"iou", iou}});
    r.metric = "miou";
    r.value = pixels_ ? pixels_->miou() : 0.0;
    r.metrics = {{"miou", r.value}, {"pixel_accuracy", pixels_ ? pixels_->pixel_accuracy() : 0.0}, {"classes", per}};
  }
  return r;
}

TaskMetrics evaluate_task(Session& s, const Dataset& ds, const std::vector<size_t>& indices, const Preprocess& p,
                          const ImageInput& in, int batch, const TaskChoice& task,
                          const std::function<void(size_t, size_t)>& progress, bool pad_last_batch) {
  if (task.task == Task::Classify) {  // the classifier's own loop (it checks the labels up front)
    EvalResult e = evaluate_classifier(s, ds, indices, p, in, batch, progress, pad_last_batch);
    TaskMetrics r;
    r.choice = task;
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
  TaskScorer scorer(ds, task, p, in, output_names(s));
  double infer = 0;
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
    infer += secs_since(ti);
    for (size_t k = 0; k < n; ++k) {
      std::vector<Tensor> outs;
      for (size_t o = 0; o < y.size(); ++o) outs.push_back(per_image(y[o], o, int64_t(k), int64_t(rows.size())));
      scorer.add(rows[k], outs, sizes[k].first, sizes[k].second);
    }
    if (progress) progress(first + n, idx.size());
  }
  TaskMetrics r = scorer.result();
  r.seconds = secs_since(t0);
  r.infer_seconds = infer;
  return r;
}

}  // namespace c8
