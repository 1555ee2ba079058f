#include "eval/agreement.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "eval/adapters/detect.h"
#include "eval/metrics/topk.h"

namespace c8 {

void similarity(const float* a, const float* b, size_t n, double& cosine, double& nmse, double& max_abs) {
  double dot = 0, na = 0, nb = 0, diff = 0, mx = 0;
  for (size_t i = 0; i < n; ++i) {
    double x = a[i], y = b[i];
    dot += x * y;
    na += x * x;
    nb += y * y;
    double d = x - y;
    diff += d * d;
    mx = std::max(mx, std::fabs(d));
  }
  if (na == 0 && nb == 0) cosine = 1;
  else if (na == 0 || nb == 0) cosine = 0;
  else cosine = std::clamp(dot / (std::sqrt(na) * std::sqrt(nb)), -1.0, 1.0);
  if (diff == 0) cosine = 1, nmse = 0;  // identical (exact; avoids rounding in the quotient)
  else nmse = diff / std::max(na, 1e-30);
  max_abs = mx;
}

AgreementScorer::AgreementScorer(std::vector<std::string> output_names, const TaskChoice* task, const Preprocess& p,
                                 const ImageInput& in, size_t classes)
    : pre_(p), in_(in), classes_(classes) {
  for (std::string& n : output_names) outputs_.push_back({std::move(n)});
  if (task) {
    has_task_ = true;
    task_ = *task;
  }
}

namespace {

// Per-pixel argmax over the classes of a [1, C, H, W] output (first maximum).
std::vector<int> argmax_classes(const Tensor& t) {
  const int64_t C = t.shape[1], HW = t.numel() / C;
  const float* p = t.data<float>();
  std::vector<int> cls(size_t(HW), 0);
  for (int64_t i = 0; i < HW; ++i) {
    float best = p[i];
    for (int64_t c = 1; c < C; ++c)
      if (p[c * HW + i] > best) best = p[c * HW + i], cls[size_t(i)] = int(c);
  }
  return cls;
}

}  // namespace

void AgreementScorer::add(const std::vector<Tensor>& a, const std::vector<Tensor>& b, int image_w, int image_h) {
  ++images_;
  for (size_t o = 0; o < outputs_.size() && o < a.size() && o < b.size(); ++o) {
    Output& r = outputs_[o];
    if (a[o].shape != b[o].shape) {
      r.shape_differs = true;
      continue;
    }
    const Tensor fa = a[o].cast(DType::F32), fb = b[o].cast(DType::F32);
    double cs = 0, e = 0, m = 0;
    similarity(fa.data<float>(), fb.data<float>(), size_t(fa.numel()), cs, e, m);
    r.cosine += cs;
    r.nmse += e;
    r.max_abs = std::max(r.max_abs, m);
    ++r.samples;
  }
  if (!has_task_ || a.empty() || b.empty() || a[0].shape != b[0].shape) return;
  const Tensor fa = a[0].cast(DType::F32), fb = b[0].cast(DType::F32);
  if (task_.task == Task::Classify) {
    const int n = int(fa.numel());
    if (n == 0) return;  // an empty output has no class to agree on
    agree_ += topk_indices(fa.data<float>(), n, 1)[0] == topk_indices(fb.data<float>(), n, 1)[0];
  } else if (task_.task == Task::Detect) {
    std::vector<std::string> names;
    for (const Output& o : outputs_) names.push_back(o.name);
    const DetectContext ctx{names, classes_, pre_.label_offset};
    const ImageGeometry g = image_geometry(pre_, image_w, image_h, in_.width, in_.height);
    std::vector<GroundTruthBox> truth;
    for (const DetectedBox& d : decode_detections(task_.adapter, a, g, ctx))
      if (d.score >= kPseudoTruthScore) truth.push_back({d.box, d.cls, false});
    truth_boxes_ += truth.size();
    pseudo_.add_image(std::move(truth), decode_detections(task_.adapter, b, g, ctx));
  } else if (task_.task == Task::Segment && fa.rank() == 4 && fa.shape[1] > 0) {
    const std::vector<int> ca = argmax_classes(fa), cb = argmax_classes(fb);
    for (size_t i = 0; i < ca.size(); ++i) pixels_agree_ += ca[i] == cb[i];
    pixels_ += ca.size();
  }
}

nlohmann::json AgreementScorer::result() const {
  nlohmann::json outs = nlohmann::json::array();
  for (const Output& o : outputs_) {
    nlohmann::json j = {{"name", o.name}, {"images", o.samples}};
    if (o.shape_differs) j["note"] = "shapes differ";
    if (o.samples) {
      j["cosine"] = o.cosine / double(o.samples);
      j["nmse"] = o.nmse / double(o.samples);
      j["max_abs"] = o.max_abs;
    }
    outs.push_back(j);
  }
  nlohmann::json r = {{"images", images_}, {"outputs", outs}};
  if (!has_task_) return r;
  r["task"] = task_name(task_.task);
  if (task_.task == Task::Classify) {
    // null, not 0 %, when nothing was compared
    r["top1_agreement"] = images_ ? nlohmann::json(double(agree_) / double(images_)) : nlohmann::json();
    r["agree_images"] = agree_;
  } else if (task_.task == Task::Detect) {
    r["pseudo_map50"] = pseudo_.voc_map(0.5);
    r["reference_boxes"] = truth_boxes_;
    r["reference_score_threshold"] = kPseudoTruthScore;
  } else {
    r["pixel_agreement"] = pixels_ ? nlohmann::json(double(pixels_agree_) / double(pixels_)) : nlohmann::json();
  }
  return r;
}

}  // namespace c8
