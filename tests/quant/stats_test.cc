// Range estimators on synthetic distributions with known answers, histogram
// re-binning, and the streaming (constant-memory) property of TensorStats.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "eval/subset.h"
#include "quant/stats.h"

namespace c8 {
namespace {

double uniform01(SplitMix64& r) { return double(r.next() >> 11) * (1.0 / 9007199254740992.0); }

std::vector<float> uniform(size_t n, double lo, double hi, uint64_t seed) {
  SplitMix64 r(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = float(lo + (hi - lo) * uniform01(r));
  return v;
}

// Laplace-like long tail: most mass near 0, rare large values.
std::vector<float> long_tail(size_t n, uint64_t seed) {
  SplitMix64 r(seed);
  std::vector<float> v(n);
  for (auto& x : v) {
    double u = uniform01(r) * 0.999999 + 1e-7;
    double s = uniform01(r) < 0.5 ? -1 : 1;
    x = float(s * -std::log(u));  // exponential magnitude, max ~ 16
  }
  return v;
}

TensorStats stats_of(const std::vector<float>& v, size_t samples) {
  TensorStats st;
  size_t per = v.size() / samples;
  for (size_t s = 0; s < samples; ++s) st.add_sample(v.data() + s * per, per);
  return st;
}

TEST(QuantEstimators, MinMaxIsExact) {
  std::vector<float> v{-3.5f, 0.f, 1.25f, 7.75f, -1.f, 2.f};
  TensorStats st = stats_of(v, 2);
  Range r = estimate_range(st, Estimator::MinMax, QMode::Asym);
  EXPECT_EQ(r.lo, -3.5);
  EXPECT_EQ(r.hi, 7.75);
  Range s = estimate_range(st, Estimator::MinMax, QMode::SignedSym);
  EXPECT_EQ(s.lo, -7.75);
  EXPECT_EQ(s.hi, 7.75);
  Range m = estimate_range(st, Estimator::MeanMinMax, QMode::Asym);  // samples {-3.5,0,1.25}, {7.75,-1,2}
  EXPECT_DOUBLE_EQ(m.lo, (-3.5 + -1.0) / 2);
  EXPECT_DOUBLE_EQ(m.hi, (1.25 + 7.75) / 2);
}

TEST(QuantEstimators, QuantileOnUniform) {
  auto v = uniform(400000, -2, 6, 1);
  TensorStats st = stats_of(v, 40);
  Range r = estimate_range(st, Estimator::Quantile, QMode::Asym);
  // 1e-4 of a uniform on [-2, 6] (width 8) is 8e-4 inside each end.
  EXPECT_NEAR(r.lo, -2 + 8e-4, 3e-3);
  EXPECT_NEAR(r.hi, 6 - 8e-4, 3e-3);
  EXPECT_GE(r.lo, st.min);
  EXPECT_LE(r.hi, st.max);
  // Symmetric: quantile of |x| (tail fraction 1e-4 of the samples, all above 5.99).
  Range s = estimate_range(st, Estimator::Quantile, QMode::SignedSym);
  EXPECT_NEAR(s.hi, 6 - 8e-4, 3e-3);
  EXPECT_EQ(s.lo, -s.hi);
}

TEST(QuantEstimators, KlClipsLongTail) {
  auto v = long_tail(400000, 2);  // Laplace(b = 1): max |x| ~ 12.5
  TensorStats st = stats_of(v, 40);
  double amax = std::max(-st.min, st.max);
  Range r = estimate_range(st, Estimator::KL, QMode::SignedSym);
  EXPECT_LT(r.hi, 0.9 * amax);  // clips the tail
  EXPECT_GT(r.hi, 4.6);          // but keeps the bulk (99 % of |x| < 4.6)
  EXPECT_EQ(r.lo, -r.hi);
  // Triangular bulk in [-2, 2] plus 0.05 % outliers up to +-50: the clip is far below 50.
  auto w = uniform(400000, -1, 1, 9);
  auto w2 = uniform(400000, -1, 1, 11);
  for (size_t i = 0; i < w.size(); ++i) w[i] += w2[i];
  auto o = uniform(200, -50, 50, 10);
  for (size_t i = 0; i < o.size(); ++i) w[i * 2000] = o[i];
  TensorStats so = stats_of(w, 40);
  Range ro = estimate_range(so, Estimator::KL, QMode::SignedSym);
  EXPECT_LT(ro.hi, 0.5 * std::max(-so.min, so.max));
  EXPECT_GT(ro.hi, 0.9);
  // Uniform data: nothing to clip, the threshold stays near the max.
  auto u = uniform(200000, -1, 1, 3);
  Range ru = estimate_range(stats_of(u, 20), Estimator::KL, QMode::SignedSym);
  EXPECT_GT(ru.hi, 0.9);
}

TEST(QuantEstimators, KlThresholdDirect) {
  std::vector<double> h(2048, 0);
  for (int i = 0; i < 300; ++i) h[size_t(i)] = std::round(1e6 * std::exp(-i / 20.0));
  h[1000] = 1;  // sparse far outliers
  h[2047] = 1;
  double t = kl_threshold(h, 2048.0, 128);
  EXPECT_LT(t, 1000);
  EXPECT_GE(t, 128);
  // Fewer non-empty bins than levels: no clipping.
  std::vector<double> small(2048, 0);
  small[10] = 5;
  EXPECT_DOUBLE_EQ(kl_threshold(small, 2048.0, 128), 11.0);
}

TEST(QuantEstimators, MseBetweenBulkAndMax) {
  auto v = long_tail(400000, 4);
  TensorStats st = stats_of(v, 40);
  double amax = std::max(-st.min, st.max);
  Range r = estimate_range(st, Estimator::MSE, QMode::SignedSym);
  EXPECT_LT(r.hi, amax);
  EXPECT_GT(r.hi, 2.0);
  // Uniform: the best symmetric range is (nearly) the full range.
  auto u = uniform(200000, -1, 1, 5);
  Range ru = estimate_range(stats_of(u, 20), Estimator::MSE, QMode::SignedSym);
  EXPECT_GT(ru.hi, 0.95);
  // Non-negative grid starts at 0.
  auto p = uniform(100000, 0, 3, 6);
  Range rp = estimate_range(stats_of(p, 10), Estimator::MSE, QMode::UnsignedSym);
  EXPECT_EQ(rp.lo, 0);
  EXPECT_GT(rp.hi, 2.8);
}

TEST(QuantHistogram, RebinningIsExact) {
  Histogram h;
  std::vector<float> a{0.5f, -0.25f, 0.9f};
  h.add(a.data(), a.size(), 0.9f);
  EXPECT_FLOAT_EQ(float(h.range), 0.9f);
  std::vector<float> b{3.0f, -3.0f};
  h.add(b.data(), b.size(), 3.0f);
  EXPECT_FLOAT_EQ(float(h.range), 3.6f);  // 0.9 doubled twice
  EXPECT_EQ(h.total(), 5u);
  // The bins still place values on the correct side of 0.
  uint64_t neg = 0;
  for (int i = 0; i < Histogram::kBins / 2; ++i) neg += h.counts[size_t(i)];
  EXPECT_EQ(neg, 2u);
  // Zeros recorded before any non-zero value are kept.
  Histogram z;
  std::vector<float> zeros(10, 0.f);
  z.add(zeros.data(), zeros.size(), 0.f);
  z.add(a.data(), a.size(), 0.9f);
  EXPECT_EQ(z.total(), 13u);
  EXPECT_EQ(z.exact_zeros, 10u);
}

TEST(QuantStats, StateDoesNotGrowWithImages) {
  TensorStats small, large;
  auto v = uniform(1000, -1, 1, 7);
  for (int i = 0; i < 5; ++i) small.add_sample(v.data(), v.size());
  for (int i = 0; i < 5000; ++i) large.add_sample(v.data(), v.size());
  EXPECT_EQ(small.state_bytes(), large.state_bytes());
  EXPECT_EQ(large.samples, 5000u);
}

TEST(QuantStats, BatchTensorSplitsIntoSamples) {
  Tensor t = Tensor::from_f32({3, 2}, {1, 2, -1, 5, 0, 0});
  TensorStats st;
  st.add(t, 2);  // third sample is padding
  EXPECT_EQ(st.samples, 2u);
  EXPECT_EQ(st.min, -1);
  EXPECT_EQ(st.max, 5);
  EXPECT_DOUBLE_EQ(st.mean_max(), 3.5);
}

TEST(QuantEstimators, ParseNames) {
  EXPECT_EQ(parse_estimator("kl"), Estimator::KL);
  EXPECT_STREQ(estimator_name(Estimator::MeanMinMax), "mean_minmax");
  EXPECT_THROW(parse_estimator("bogus"), std::exception);
}

}  // namespace
}  // namespace c8
