#pragma once
// Top-1 / top-5 classification accuracy.
//
// Ranking rule (shared by topk_indices and TopK): higher score first; equal
// scores -> lower index first (deterministic); NaN ranks below every number
// (NaN == NaN for tie purposes, so ties among NaNs also go to the lower index).
#include <cstddef>
#include <vector>

namespace c8 {

// Indices of the k best scores, best first (k is clamped to [0, n]).
std::vector<int> topk_indices(const float* scores, int n, int k);

// 0-based rank of `index` under the rule above (number of entries ranked before it).
int rank_of(const float* scores, int n, int index);

class TopK {
 public:
  // label is the model output index (class index + label offset). A label
  // outside [0, n) throws c8::Error (usually a wrong label offset).
  void add(const float* scores, int n, int label);
  double top1() const { return count_ ? double(correct1_) / double(count_) : 0.0; }  // fraction 0..1
  double top5() const { return count_ ? double(correct5_) / double(count_) : 0.0; }
  size_t count() const { return count_; }
  size_t correct1() const { return correct1_; }
  size_t correct5() const { return correct5_; }
  void merge(const TopK& o) {
    count_ += o.count_;
    correct1_ += o.correct1_;
    correct5_ += o.correct5_;
  }

 private:
  size_t count_ = 0, correct1_ = 0, correct5_ = 0;
};

}  // namespace c8
