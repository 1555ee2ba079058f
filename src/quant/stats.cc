#include "quant/stats.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "base/error.h"

namespace c8 {

void Histogram::add(const float* x, size_t n, float amax) {
  if (n == 0) return;
  if (counts.empty()) counts.assign(kBins, 0);
  if (range == 0) {
    if (!(amax > 0)) {  // all zeros (or NaN): remember them for later
      zeros_before += n;
      exact_zeros += n;
      return;
    }
    range = double(amax);
    if (zeros_before) {
      counts[kBins / 2] += zeros_before;
      zeros_before = 0;
    }
  }
  while (double(amax) > range) {  // double the range, merging bin pairs
    std::vector<uint64_t> nc(kBins, 0);
    for (int i = 0; i < kBins; ++i) nc[size_t(kBins / 4 + i / 2)] += counts[size_t(i)];
    counts.swap(nc);
    range *= 2;
  }
  const double inv = kBins / (2 * range);
  const double r = range;
  uint64_t* c = counts.data();
  uint64_t z = 0;
  for (size_t i = 0; i < n; ++i) {
    double v = x[i];
    if (std::isnan(v)) continue;
    z += v == 0;
    long b = long((v + r) * inv);
    if (b < 0) b = 0;
    if (b >= kBins) b = kBins - 1;
    ++c[b];
  }
  exact_zeros += z;
}

uint64_t Histogram::total() const {
  uint64_t t = zeros_before;
  for (uint64_t c : counts) t += c;
  return t;
}

double Histogram::quantile(double q) const {
  if (range == 0 || counts.empty()) return 0;
  double tot = double(total());
  double target = q * tot, acc = 0;
  for (int i = 0; i < kBins; ++i) {
    double c = double(counts[size_t(i)]);
    if (c > 0 && acc + c >= target) {
      double f = (target - acc) / c;
      return lower_edge(i) + f * width();
    }
    acc += c;
  }
  return range;
}

// min and max of x[0, n), NaN skipped.
static void min_max(const float* x, size_t n, float& mn_out, float& mx_out) {
  float mn = std::numeric_limits<float>::infinity(), mx = -mn;
  size_t i = 0;
#ifdef __AVX2__
  // min/max dominate the statistics pass after the convolutions; the compiler
  // does not vectorise a float min reduction on its own. NaN is skipped as in
  // the scalar loop: min_ps(x, acc) returns acc when x is NaN.
  __m256 vmn = _mm256_set1_ps(mn), vmx = _mm256_set1_ps(mx);
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    vmn = _mm256_min_ps(v, vmn);
    vmx = _mm256_max_ps(v, vmx);
  }
  alignas(32) float lo[8], hi[8];
  _mm256_store_ps(lo, vmn);
  _mm256_store_ps(hi, vmx);
  for (int k = 0; k < 8; ++k) {
    mn = std::min(mn, lo[k]);
    mx = std::max(mx, hi[k]);
  }
#endif
  for (; i < n; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
  }
  mn_out = mn;
  mx_out = mx;
}

void TensorStats::add_sample(const float* x, size_t n) {
  if (n == 0) return;
  float mn = std::numeric_limits<float>::infinity(), mx = -mn;
  // min and max do not depend on the order: blocks over the threads.
  constexpr size_t kBlock = size_t(1) << 16;
  const int64_t blocks = int64_t((n + kBlock - 1) / kBlock);
  if (blocks <= 1) {
    min_max(x, n, mn, mx);
  } else {
    std::vector<float> bmn(static_cast<size_t>(blocks)), bmx(static_cast<size_t>(blocks));
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      const size_t first = size_t(b) * kBlock;
      min_max(x + first, std::min(kBlock, n - first), bmn[size_t(b)], bmx[size_t(b)]);
    }
    for (int64_t b = 0; b < blocks; ++b) {
      mn = std::min(mn, bmn[size_t(b)]);
      mx = std::max(mx, bmx[size_t(b)]);
    }
  }
  if (samples == 0) {
    min = mn;
    max = mx;
  } else {
    min = std::min(min, double(mn));
    max = std::max(max, double(mx));
  }
  sum_sample_min += mn;
  sum_sample_max += mx;
  ++samples;
  if (want_hist) hist.add(x, n, std::max(std::fabs(mn), std::fabs(mx)));
}

void TensorStats::add(const Tensor& t, size_t n_valid) {
  if (t.dtype != DType::F32) return;
  const float* p = t.data<float>();
  int64_t n = t.numel();
  if (t.rank() == 0 || t.shape[0] <= 1) {
    add_sample(p, size_t(n));
    return;
  }
  int64_t per = n / t.shape[0];
  size_t k = std::min<size_t>(n_valid, size_t(t.shape[0]));
  for (size_t s = 0; s < k; ++s) add_sample(p + int64_t(s) * per, size_t(per));
}

size_t TensorStats::state_bytes() const {
  return sizeof(TensorStats) + hist.counts.capacity() * sizeof(uint64_t);
}

Estimator parse_estimator(const std::string& s) {
  if (s == "minmax") return Estimator::MinMax;
  if (s == "mean_minmax") return Estimator::MeanMinMax;
  if (s == "quantile") return Estimator::Quantile;
  if (s == "kl") return Estimator::KL;
  if (s == "mse") return Estimator::MSE;
  throw Error("unknown range estimator '" + s + "' (choose minmax, mean_minmax, quantile, kl, mse)");
}

const char* estimator_name(Estimator e) {
  switch (e) {
    case Estimator::MinMax: return "minmax";
    case Estimator::MeanMinMax: return "mean_minmax";
    case Estimator::Quantile: return "quantile";
    case Estimator::KL: return "kl";
    case Estimator::MSE: return "mse";
  }
  return "?";
}

bool estimator_needs_histogram(Estimator e) {
  return e == Estimator::Quantile || e == Estimator::KL || e == Estimator::MSE;
}

const char* qmode_name(QMode m) {
  switch (m) {
    case QMode::SignedSym: return "int8 symmetric";
    case QMode::UnsignedSym: return "uint8 symmetric (zp 0)";
    case QMode::Asym: return "uint8 asymmetric";
  }
  return "?";
}

double kl_threshold(const std::vector<double>& hist_in, double max_abs, int levels) {
  int nb = int(hist_in.size());
  while (nb > 0 && hist_in[size_t(nb - 1)] == 0) --nb;
  if (nb <= levels) return max_abs * double(nb) / double(hist_in.size());
  const double w = max_abs / double(hist_in.size());
  double best_kl = std::numeric_limits<double>::infinity();
  int best_i = nb;
  std::vector<double> P, Q;
  double tail_total = 0;
  for (int i = nb; i < int(hist_in.size()); ++i) tail_total += hist_in[size_t(i)];
  // Iterate i from nb down to levels so the outlier tail can be accumulated.
  double outliers = tail_total;
  for (int i = nb; i >= levels; --i) {
    if (i < nb) outliers += hist_in[size_t(i)];
    P.assign(hist_in.begin(), hist_in.begin() + i);
    P[size_t(i - 1)] += outliers;
    // Q: the unclipped reference hist[0:i] merged into `levels` bins, each
    // merged count spread uniformly over the bins that were non-zero.
    Q.assign(size_t(i), 0);
    for (int j = 0; j < levels; ++j) {
      int b0 = int(int64_t(j) * i / levels), b1 = int(int64_t(j + 1) * i / levels);
      double sum = 0;
      int nz = 0;
      for (int b = b0; b < b1; ++b) {
        sum += hist_in[size_t(b)];
        if (hist_in[size_t(b)] != 0) ++nz;
      }
      if (nz == 0) continue;
      double v = sum / nz;
      for (int b = b0; b < b1; ++b)
        if (hist_in[size_t(b)] != 0) Q[size_t(b)] = v;
    }
    double ps = 0, qs = 0;
    for (int b = 0; b < i; ++b) {
      ps += P[size_t(b)];
      qs += Q[size_t(b)];
    }
    if (ps <= 0 || qs <= 0) continue;
    double kl = 0;
    const double eps = 1e-10;
    for (int b = 0; b < i; ++b) {
      double p = P[size_t(b)] / ps;
      if (p <= 0) continue;
      double q = Q[size_t(b)] / qs;
      kl += p * std::log(p / std::max(q, eps));
    }
    if (kl < best_kl) {  // ties keep the larger threshold (earlier i)
      best_kl = kl;
      best_i = i;
    }
  }
  return double(best_i) * w;
}

namespace {

// |x| histogram (kBins/2 bins over [0, R]) folded from the signed one.
// drop_zeros: leave exact zeros out (the spike of a ReLU output at 0 would
// otherwise dominate the KL divergence and make it clip far too much).
std::vector<double> abs_hist(const Histogram& h, bool drop_zeros = false) {
  const int half = Histogram::kBins / 2;
  std::vector<double> a(size_t(half), 0);
  for (int i = 0; i < half; ++i)
    a[size_t(i)] = double(h.counts[size_t(half + i)]) + double(h.counts[size_t(half - 1 - i)]);
  if (drop_zeros) a[0] = std::max(0.0, a[0] - double(h.exact_zeros));
  return a;
}

// Expected squared error of quantizing the histogrammed data to [lo, hi]
// with step s: clipping error for bins outside, s^2/12 rounding noise inside.
double mse_of(const Histogram& h, double lo, double hi, double s) {
  double err = 0, noise = s * s / 12;
  const double w = h.width();
  for (int i = 0; i < Histogram::kBins; ++i) {
    double c = double(h.counts[size_t(i)]);
    if (c == 0) continue;
    double x = h.lower_edge(i) + 0.5 * w;
    if (x < lo) err += c * (lo - x) * (lo - x);
    else if (x > hi) err += c * (x - hi) * (x - hi);
    else err += c * noise;
  }
  return err;
}

Range symmetric_of(Range r, QMode m) {
  if (m == QMode::Asym) return r;
  if (m == QMode::UnsignedSym) return {0, std::max(0.0, r.hi)};
  double a = std::max(std::fabs(r.lo), std::fabs(r.hi));
  return {-a, a};
}

}  // namespace

Range estimate_range(const TensorStats& s, Estimator e, QMode m) {
  Range mm{s.min, s.max};
  if (s.samples == 0) return {0, 0};
  bool hist_ok = s.hist.range > 0 && !s.hist.counts.empty();
  switch (e) {
    case Estimator::MinMax:
      return symmetric_of(mm, m);
    case Estimator::MeanMinMax:
      return symmetric_of({s.mean_min(), s.mean_max()}, m);
    case Estimator::Quantile: {
      if (!hist_ok) return symmetric_of(mm, m);
      Range r{std::max(s.min, s.hist.quantile(kQuantileOutliers)), std::min(s.max, s.hist.quantile(1 - kQuantileOutliers))};
      if (m == QMode::SignedSym) {  // symmetric: quantile of |x|
        std::vector<double> a = abs_hist(s.hist);
        double tot = 0;
        for (double v : a) tot += v;
        double target = (1 - kQuantileOutliers) * tot, acc = 0, w = s.hist.range / double(a.size());
        double t = s.hist.range;
        for (size_t i = 0; i < a.size(); ++i) {
          if (a[i] > 0 && acc + a[i] >= target) {
            t = (double(i) + (target - acc) / a[i]) * w;
            break;
          }
          acc += a[i];
        }
        t = std::min(t, std::max(std::fabs(s.min), std::fabs(s.max)));
        return {-t, t};
      }
      return symmetric_of(r, m);
    }
    case Estimator::KL: {
      if (!hist_ok) return symmetric_of(mm, m);
      int levels = m == QMode::UnsignedSym ? 256 : 128;
      double t = kl_threshold(abs_hist(s.hist, true), s.hist.range, levels);
      t = std::min(t, std::max(std::fabs(s.min), std::fabs(s.max)));
      if (m == QMode::SignedSym) return {-t, t};
      if (m == QMode::UnsignedSym) return {0, std::min(t, std::max(0.0, s.max))};
      return {std::max(s.min, -t), std::min(s.max, t)};
    }
    case Estimator::MSE: {
      Range full = symmetric_of(mm, m);
      if (!hist_ok) return full;
      double levels = m == QMode::SignedSym ? 254 : 255;
      Range best = full;
      double best_err = std::numeric_limits<double>::infinity();
      for (int k = 200; k >= 10; --k) {  // shrink factors 1.0 .. 0.05
        double a = k / 200.0;
        Range r{full.lo * a, full.hi * a};
        if (m == QMode::Asym) {  // keep 0 inside the range
          r.lo = std::min(r.lo, 0.0);
          r.hi = std::max(r.hi, 0.0);
        }
        double step = (r.hi - r.lo) / levels;
        if (step <= 0) continue;
        double err = mse_of(s.hist, r.lo, r.hi, step);
        if (err < best_err) {
          best_err = err;
          best = r;
        }
      }
      return best;
    }
  }
  return mm;
}

}  // namespace c8
