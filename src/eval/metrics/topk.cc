#include "eval/metrics/topk.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "base/error.h"

namespace c8 {

namespace {

// true if (a, ia) ranks before (b, ib).
inline bool before(float a, int ia, float b, int ib) {
  const bool na = std::isnan(a), nb = std::isnan(b);
  if (na || nb) {
    if (na != nb) return nb;  // the number ranks before NaN
    return ia < ib;
  }
  if (a != b) return a > b;
  return ia < ib;
}

}  // namespace

std::vector<int> topk_indices(const float* scores, int n, int k) {
  if (n < 0) n = 0;
  k = std::max(0, std::min(k, n));
  std::vector<int> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  auto cmp = [&](int a, int b) { return before(scores[a], a, scores[b], b); };
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), cmp);
  idx.resize(size_t(k));
  return idx;
}

int rank_of(const float* scores, int n, int index) {
  int r = 0;
  const float s = scores[index];
  for (int j = 0; j < n; ++j)
    if (j != index && before(scores[j], j, s, index)) ++r;
  return r;
}

void TopK::add(const float* scores, int n, int label) {
  if (n <= 0) throw Error("top-k: model produced no scores");
  if (label < 0 || label >= n)
    throw Error("top-k: label " + std::to_string(label) + " out of range for " + std::to_string(n) +
                " model outputs (check the label offset / class count)");
  const int r = rank_of(scores, n, label);
  ++count_;
  if (r == 0) ++correct1_;
  if (r < 5) ++correct5_;
}

}  // namespace c8
