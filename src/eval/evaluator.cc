#include "eval/evaluator.h"

#include <chrono>
#include <numeric>

namespace c8 {

static double secs_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

Tensor make_batch(const Dataset& ds, const std::vector<size_t>& idx, size_t first, size_t n, const Preprocess& p,
                  const ImageInput& in, std::vector<int>* labels, std::vector<std::pair<int, int>>* sizes) {
  Shape shape = in.nhwc ? Shape{int64_t(n), in.height, in.width, in.channels}
                        : Shape{int64_t(n), in.channels, in.height, in.width};
  Tensor x(DType::F32, shape);
  size_t per = size_t(in.channels) * size_t(in.height) * size_t(in.width);
  for (size_t k = 0; k < n; ++k) {
    Sample s = ds.get(idx[first + k]);
    try {
      preprocess_into(s.image, p, in.channels, in.height, in.width, x.data<float>() + k * per);
    } catch (const Error& e) {
      throw Error(ds.root() + "/" + s.name + ": " + e.what());
    }
    if (labels) labels->push_back(s.label);
    if (sizes) sizes->push_back({s.image.width, s.image.height});
  }
  return x;
}

EvalResult evaluate_classifier(Session& s, const Dataset& ds, const std::vector<size_t>& indices, const Preprocess& p,
                               const ImageInput& in, int batch, const std::function<void(size_t, size_t)>& progress,
                               bool pad_last_batch) {
  std::vector<size_t> idx = indices;
  if (idx.empty()) {
    idx.resize(ds.size());
    std::iota(idx.begin(), idx.end(), size_t(0));
  }
  if (!ds.annotated()) throw Error(ds.root() + ": data set has no labels (" + ds.format() + "); accuracy needs labels.txt, class folders or IDX labels");
  EvalResult r;
  auto t0 = std::chrono::steady_clock::now();
  size_t b = size_t(std::max(1, batch));
  for (size_t first = 0; first < idx.size(); first += b) {
    size_t n = std::min(b, idx.size() - first);
    std::vector<int> labels;
    Tensor x;
    if (pad_last_batch && n < b) {
      std::vector<size_t> padded(idx.begin() + long(first), idx.end());
      padded.resize(b, idx.back());
      x = make_batch(ds, padded, 0, b, p, in, &labels);
    } else {
      x = make_batch(ds, idx, first, n, p, in, &labels);
    }
    auto ti = std::chrono::steady_clock::now();
    std::vector<Tensor> y = s.run({x});
    r.infer_seconds += secs_since(ti);
    Tensor scores = y.at(0).cast(DType::F32);
    int per = int(scores.numel() / x.shape[0]);
    for (size_t k = 0; k < n; ++k) {
      const float* sc = scores.data<float>() + k * size_t(per);
      int64_t label = labels[k] < 0 ? -1 : int64_t(labels[k]) + int64_t(p.label_offset);  // both from files / flags: no int overflow
      if (labels[k] >= 0 && (label < 0 || label >= per)) throw Error(ds.root() + ": label " + std::to_string(labels[k]) + " (+ offset " + std::to_string(p.label_offset) + ") is outside the model's " + std::to_string(per) + " outputs");
      r.topk.add(sc, per, int(label));
      r.predictions.push_back(topk_indices(sc, per, 1)[0] - p.label_offset);
    }
    r.images += n;
    if (progress) progress(r.images, idx.size());
  }
  r.seconds = secs_since(t0);
  return r;
}

}  // namespace c8
