#include "quant/bias_shift.h"

#include <algorithm>

#include <omp.h>

#ifdef __AVX2__
#include <immintrin.h>
#endif


#include "base/error.h"
#include "ops/ref/broadcast.h"

namespace c8 {
namespace {

// Spatial extents padded to 3 dims with leading `fill`.
std::vector<int64_t> pad3(std::vector<int64_t> v, int64_t fill) {
  v.insert(v.begin(), 3 - v.size(), fill);
  return v;
}

// For one spatial dim: the input indices that kernel position k reads over all
// output positions, as an arithmetic progression first, first+step, ..., last
// (empty when count == 0). Out-of-range positions read zero padding and are
// dropped.
struct Progression {
  int64_t first = 0, count = 0, step = 1;
};

std::vector<Progression> tap_progressions(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t dil,
                                          int64_t pad) {
  std::vector<Progression> r(static_cast<size_t>(kernel));
  for (int64_t k = 0; k < kernel; ++k) {
    Progression p;
    p.step = stride;
    int64_t off = k * dil - pad;  // input index at output 0
    // outputs o with 0 <= o*stride + off < in
    int64_t o_lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t o_hi = off >= in ? -1 : std::min(out - 1, (in - 1 - off) / stride);
    if (o_hi >= o_lo) {
      p.first = o_lo * stride + off;
      p.count = o_hi - o_lo + 1;
    }
    r[size_t(k)] = p;
  }
  return r;
}

// out[i] = sum over r < rows of first[r * stride + i], for i < n. Column
// chunks of 8 lanes are summed in a register down the rows (loads only: the
// running sum never goes through memory); the last chunk is masked, since
// small feature maps (7, 14, 28 wide) are mostly that chunk. Explicit because
// GCC's -O2 vectoriser leaves such loops scalar.
void sum_rows(float* out, const float* first, int64_t rows, int64_t stride, int64_t n) {
  int64_t i = 0;
#ifdef __AVX2__
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (; i < n; i += 8) {
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(std::min<int64_t>(8, n - i))), lane);
    __m256 a = _mm256_setzero_ps();
    const float* p = first + i;
    if (n - i >= 8)
      for (int64_t r = 0; r < rows; ++r) a = _mm256_add_ps(a, _mm256_loadu_ps(p + r * stride));
    else
      for (int64_t r = 0; r < rows; ++r) a = _mm256_add_ps(a, _mm256_maskload_ps(p + r * stride, m));
    _mm256_maskstore_ps(out + i, m, a);
  }
#endif
  for (; i < n; ++i) {
    float a = 0;
    for (int64_t r = 0; r < rows; ++r) a += first[r * stride + i];
    out[i] = a;
  }
}

void sub_row(float* acc, const float* row, int64_t n) {
  int64_t i = 0;
#ifdef __AVX2__
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(acc + i, _mm256_sub_ps(_mm256_loadu_ps(acc + i), _mm256_loadu_ps(row + i)));
#endif
  for (; i < n; ++i) acc[i] -= row[i];
}

// Four independent partial sums: a single running sum is one long chain of
// dependent adds, and these rows are short enough that the chain dominates.
double progression_sum(const float* a, int64_t count, int64_t step) {
  float s[4] = {0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 4 <= count; j += 4)
    for (int k = 0; k < 4; ++k) s[k] += a[(j + k) * step];
  for (; j < count; ++j) s[0] += a[j * step];
  return double(s[0]) + double(s[1]) + double(s[2]) + double(s[3]);
}

}  // namespace

std::vector<double> LayerMeanShift::conv_tap_sums(const Node& n, const Tensor& x, size_t n_valid, const Shape& w_shape) {
  std::vector<double> T;
  add_conv_tap_sums(n, x, n_valid, w_shape, T);
  return T;
}

void LayerMeanShift::add_conv_tap_sums(const Node& n, const Tensor& x, size_t n_valid, const Shape& w_shape,
                                       std::vector<double>& T) {
  if (x.rank() < 3 || x.rank() > 5 || int(w_shape.size()) != x.rank())
    throw Error("bias correction: '" + n.name + "' is not a 1-3D convolution");
  std::vector<int64_t> sp(x.shape.begin() + 2, x.shape.end()), ks(w_shape.begin() + 2, w_shape.end());
  WindowGeom geo = window_geometry(n, sp, ks, false);
  auto in = pad3(sp, 1), k = pad3(ks, 1), st = pad3(geo.strides, 1), dl = pad3(geo.dilations, 1),
       pb = pad3(geo.pad_begin, 0), out = pad3(geo.out, 1);
  std::vector<Progression> L[3];
  for (int d = 0; d < 3; ++d) L[d] = tap_progressions(in[d], out[d], k[d], st[d], dl[d], pb[d]);
  const int64_t N = std::min<int64_t>(x.shape[0], int64_t(n_valid)), C = x.shape[1];
  const int64_t ID = in[0], IH = in[1], IW = in[2], KD = k[0], KH = k[1], KW = k[2];
  const int64_t taps = KD * KH * KW;
  if (T.empty()) T.assign(size_t(C * taps), 0.0);
  if (T.size() != size_t(C * taps)) throw Error("bias correction: '" + n.name + "' changed shape between batches");
  // Per (kh): the rows that kh reads, added column-wise (vectorised float
  // adds over whole rows); then per (kh, kw): the columns kw reads. Rows are
  // short, so float partial sums lose nothing that matters for a mean.
  // Channels are independent (each writes its own T entries, samples in
  // order), so they are split over the threads without changing a bit.
  const int64_t stride_h = st[1];
  const float* px = x.data<float>();
  for (int64_t b = 0; b < N; ++b) {
#pragma omp parallel
    {
      std::vector<float> acc(static_cast<size_t>(KH * IW));
      std::vector<double> r2(static_cast<size_t>(ID * KH * KW));  // per (id, kh, kw)
      std::vector<float> total(static_cast<size_t>(IW));           // all rows of a plane, column-wise
#pragma omp for schedule(static)
      for (int64_t c = 0; c < C; ++c) {
        const float* plane = px + (b * C + c) * ID * IH * IW;
        for (int64_t id = 0; id < ID; ++id) {
          const float* pd = plane + id * IH * IW;
          // Stride 1 in H (and more than one kh): every kh reads all rows but a
          // few at the edges, so sum all rows once and take the edges off.
          const bool unit = stride_h == 1 && KH > 1;
          if (unit) sum_rows(total.data(), pd, IH, IW, IW);
          for (int64_t kh = 0; kh < KH; ++kh) {
            const Progression& p = L[1][size_t(kh)];
            float* a = acc.data() + kh * IW;
            if (unit && p.count > 0) {
              std::copy(total.begin(), total.end(), a);
              for (int64_t r = 0; r < IH; ++r)
                if (r < p.first || r >= p.first + p.count) sub_row(a, pd + r * IW, IW);
            } else {
              sum_rows(a, pd + p.first * IW, p.count, p.step * IW, IW);
            }
            for (int64_t kw = 0; kw < KW; ++kw) {
              const Progression& q = L[2][size_t(kw)];
              r2[size_t((id * KH + kh) * KW + kw)] = progression_sum(a + q.first, q.count, q.step);
            }
          }
        }
        double* tc = T.data() + c * taps;
        for (int64_t kd = 0; kd < KD; ++kd) {
          const Progression& p = L[0][size_t(kd)];
          for (int64_t j = 0; j < p.count; ++j) {
            const double* r = r2.data() + (p.first + j * p.step) * KH * KW;
            for (int64_t t = 0; t < KH * KW; ++t) tc[kd * KH * KW + t] += r[t];
          }
        }
      }
    }
  }
}

namespace {

// Tap sums of one 2-D Conv input in a channel-blocked layout, 8 channels per
// vector. Per channel this is exactly the plain path above: rows summed from
// zero in order (or all rows minus the edge rows, in order), then the
// four-way column partial sums, then doubles; only the channels run in lanes.
// Each thread takes a contiguous run of the channel vectors and walks the
// input in memory order (row, column, its vectors), each row once, adding it
// to every accumulator that reads it: an NHWC input streams, and an nChw16c
// one reads whole cache lines. Walking down each column, 8 channels at a time,
// cost 5-10x a streaming read (2 GB/s on mobilenet_v2's 112x112x96, Zen 5).
void blocked_tap_sums(const Node& n, const float* x, const Shape& shape, const ChannelLayout& lay, size_t n_valid,
                      const Shape& w_shape, std::vector<double>& T, const FakeQuantParams* q) {
  std::vector<int64_t> sp(shape.begin() + 2, shape.end()), ks(w_shape.begin() + 2, w_shape.end());
  WindowGeom geo = window_geometry(n, sp, ks, false);
  const int64_t N = std::min<int64_t>(shape[0], int64_t(n_valid)), C = shape[1], IH = sp[0], IW = sp[1];
  const int64_t KH = ks[0], KW = ks[1], taps = KH * KW;
  std::vector<Progression> LH = tap_progressions(IH, geo.out[0], KH, geo.strides[0], geo.dilations[0], geo.pad_begin[0]);
  std::vector<Progression> LWp = tap_progressions(IW, geo.out[1], KW, geo.strides[1], geo.dilations[1], geo.pad_begin[1]);
  if (T.empty()) T.assign(size_t(C * taps), 0.0);
  if (T.size() != size_t(C * taps)) throw Error("bias correction: '" + n.name + "' changed shape between batches");
  const bool unit = geo.strides[0] == 1 && KH > 1;
  auto reads = [&](int64_t kh, int64_t r) {  // does kernel row kh read input row r?
    const Progression& p = LH[size_t(kh)];
    return p.count > 0 && r >= p.first && (r - p.first) % p.step == 0 && (r - p.first) / p.step < p.count;
  };
  const int64_t vecs = (C + 7) / 8;
  const __m256i lane_ids = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t b = 0; b < N; ++b) {
#pragma omp parallel
    {
      const int nt = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t v0 = vecs * t / nt, v1 = vecs * (t + 1) / nt, nv = v1 - v0;
      if (nv > 0) {
        std::vector<const float*> base(static_cast<size_t>(nv));
        std::vector<__m256i> mask(static_cast<size_t>(nv));
        std::vector<int> full(static_cast<size_t>(nv));
        for (int64_t v = 0; v < nv; ++v) {
          const int64_t c = (v0 + v) * 8, lanes = std::min<int64_t>(8, C - c);
          base[size_t(v)] = x + b * lay.s_n + (c / lay.block) * lay.s_block + c % lay.block;
          mask[size_t(v)] = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(lanes)), lane_ids);
          full[size_t(v)] = lanes == 8;
        }
        auto load = [&](int64_t v, int64_t h, int64_t w) {
          const float* p = base[size_t(v)] + h * lay.s_h + w * lay.s_w;
          __m256 r = full[size_t(v)] ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask[size_t(v)]);
          return q ? fake_quant8(r, *q) : r;
        };
        const int64_t row = IW * nv * 8;  // floats of one accumulator row: [w][v][8]
        std::vector<float> total(static_cast<size_t>(row), 0.f), acc(static_cast<size_t>(KH * row), 0.f);
        // a[w][v] += sign * x[r][w][v] over one input row
        auto add_row = [&](float* a, int64_t r, bool sub) {
          for (int64_t w = 0; w < IW; ++w)
            for (int64_t v = 0; v < nv; ++v) {
              float* pa = a + (w * nv + v) * 8;
              const __m256 o = _mm256_loadu_ps(pa), xv = load(v, r, w);
              _mm256_storeu_ps(pa, sub ? _mm256_sub_ps(o, xv) : _mm256_add_ps(o, xv));
            }
        };
        if (unit) {
          for (int64_t r = 0; r < IH; ++r) add_row(total.data(), r, false);
          for (int64_t kh = 0; kh < KH; ++kh) {
            float* a = acc.data() + kh * row;
            const Progression& p = LH[size_t(kh)];
            if (p.count == 0) continue;  // stays zero
            std::copy(total.begin(), total.end(), a);
            for (int64_t r = 0; r < IH; ++r)
              if (r < p.first || r >= p.first + p.count) add_row(a, r, true);
          }
        } else {
          for (int64_t r = 0; r < IH; ++r)
            for (int64_t kh = 0; kh < KH; ++kh)
              if (reads(kh, r)) add_row(acc.data() + kh * row, r, false);
        }
        std::vector<double> r2(static_cast<size_t>(taps * 8));
        for (int64_t v = 0; v < nv; ++v) {
          for (int64_t kh = 0; kh < KH; ++kh) {
            const float* a = acc.data() + kh * row + v * 8;
            for (int64_t kw = 0; kw < KW; ++kw) {
              const Progression& pw = LWp[size_t(kw)];
              __m256 s4[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
              int64_t j = 0;
              for (; j + 4 <= pw.count; j += 4)
                for (int k = 0; k < 4; ++k)
                  s4[k] = _mm256_add_ps(s4[k], _mm256_loadu_ps(a + (pw.first + (j + k) * pw.step) * nv * 8));
              for (; j < pw.count; ++j) s4[0] = _mm256_add_ps(s4[0], _mm256_loadu_ps(a + (pw.first + j * pw.step) * nv * 8));
              alignas(32) float f[4][8];
              for (int k = 0; k < 4; ++k) _mm256_store_ps(f[k], s4[k]);
              for (int l = 0; l < 8; ++l)
                r2[size_t((kh * KW + kw) * 8 + l)] = double(f[0][l]) + double(f[1][l]) + double(f[2][l]) + double(f[3][l]);
            }
          }
          const int64_t c = (v0 + v) * 8;
          for (int64_t l = 0; l < std::min<int64_t>(8, C - c); ++l) {
            double* tc = T.data() + (c + l) * taps;
            for (int64_t tp = 0; tp < taps; ++tp) tc[tp] += r2[size_t(tp * 8 + l)];
          }
        }
      }
    }
  }
}

}  // namespace

double LayerMeanShift::positions(const Shape& x_shape) const {
  std::vector<int64_t> sp(x_shape.begin() + 2, x_shape.end()), ks(w_.shape.begin() + 2, w_.shape.end());
  double p = 1;
  for (int64_t o : window_geometry(node_, sp, ks, false).out) p *= double(o);
  return p;
}

void LayerMeanShift::add_part_blocked(const float* x, const Shape& shape, const ChannelLayout& layout, size_t n_valid,
                                      const FakeQuantParams& q) {
  if (node_.op != "Conv" || shape.size() != 4 || w_.rank() != 4 || layout.block <= 0)
    throw Error("bias correction: '" + node_.name + "' is not a 2-D convolution on a channel-blocked input");
  blocked_tap_sums(node_, x, shape, layout, n_valid, w_.shape, bx_, nullptr);
  blocked_tap_sums(node_, x, shape, layout, n_valid, w_.shape, bq_, &q);
  count_ += double(std::min<int64_t>(shape[0], int64_t(n_valid))) * positions(shape);
}

LayerMeanShift::LayerMeanShift(const Graph& g, int node, Tensor w, Tensor wq)
    : node_(g.nodes.at(size_t(node))), w_(w.cast(DType::F32)), wq_(wq.cast(DType::F32)) {
  if (node_.op != "Conv" && node_.op != "Gemm")
    throw Error("bias correction supports Conv and Gemm, not " + node_.op + " ('" + node_.name + "')");
  if (w_.shape != wq_.shape) throw Error("bias correction: weight shapes differ for '" + node_.name + "'");
}

void LayerMeanShift::add(const Tensor& x, const Tensor& xq, size_t n_valid) {
  add_part(x, xq, n_valid);
  end_batch();
}

void LayerMeanShift::end_batch() {
  auto join = [](std::vector<double>& acc, std::vector<double>& b) {
    if (b.empty()) return;
    if (acc.empty()) acc.assign(b.size(), 0.0);
    for (size_t i = 0; i < b.size(); ++i) acc[i] += b[i];
    b.clear();
  };
  join(tx_, bx_);
  join(tq_, bq_);
}

void LayerMeanShift::add_gemm_col_sums(const Tensor& x, size_t n_valid, std::vector<double>& s) const {
  // Gemm: A is [rows, K] (transA = 0) or [K, rows]; sum A' over its rows.
  if (x.rank() != 2) throw Error("bias correction: Gemm '" + node_.name + "' input must be 2-D");
  bool ta = node_.attr_i("transA", 0) != 0;
  int64_t rows = ta ? x.shape[1] : x.shape[0], K = ta ? x.shape[0] : x.shape[1];
  rows = std::min<int64_t>(rows, int64_t(n_valid));
  if (s.empty()) s.assign(size_t(K), 0.0);
  if (s.size() != size_t(K)) throw Error("bias correction: '" + node_.name + "' changed shape between batches");
  const float* p = x.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t kk = 0; kk < K; ++kk) s[size_t(kk)] += ta ? p[kk * x.shape[1] + r] : p[r * K + kk];
}

void LayerMeanShift::add_part(const Tensor& x, const Tensor& xq, size_t n_valid) {
  if (x.shape != xq.shape || x.dtype != DType::F32 || xq.dtype != DType::F32)
    throw Error("bias correction: bad input for '" + node_.name + "'");
  if (node_.op == "Conv") {
    add_conv_tap_sums(node_, x, n_valid, w_.shape, bx_);
    add_conv_tap_sums(node_, xq, n_valid, w_.shape, bq_);
    count_ += double(std::min<int64_t>(x.shape[0], int64_t(n_valid))) * positions(x.shape);
    return;
  }
  add_gemm_col_sums(x, n_valid, bx_);
  add_gemm_col_sums(xq, n_valid, bq_);
  count_ += double(std::min<int64_t>(node_.attr_i("transA", 0) ? x.shape[1] : x.shape[0], int64_t(n_valid)));
}

std::vector<double> LayerMeanShift::shift() const {
  if (count_ == 0) return {};
  const float* w = w_.data<float>();
  const float* wq = wq_.data<float>();
  if (node_.op == "Conv") {
    int64_t M = w_.shape[0], Cg = w_.shape[1], taps = w_.numel() / (M * Cg);
    int64_t G = node_.attr_i("group", 1), Mg = M / G;
    std::vector<double> r(static_cast<size_t>(M));
    for (int64_t m = 0; m < M; ++m) {
      double s = 0;
      for (int64_t ci = 0; ci < Cg; ++ci) {
        int64_t c = (m / Mg) * Cg + ci;
        const float* a = w + (m * Cg + ci) * taps;
        const float* b = wq + (m * Cg + ci) * taps;
        const double* tx = tx_.data() + c * taps;
        const double* tq = tq_.data() + c * taps;
        for (int64_t t = 0; t < taps; ++t) s += double(a[t]) * tx[t] - double(b[t]) * tq[t];
      }
      r[size_t(m)] = s / count_;
    }
    return r;
  }
  bool tb = node_.attr_i("transB", 0) != 0;
  int64_t K = int64_t(tx_.size()), Nout = w_.numel() / K;
  double alpha = node_.attr_f("alpha", 1.f);
  std::vector<double> r(static_cast<size_t>(Nout));
  for (int64_t o = 0; o < Nout; ++o) {
    double s = 0;
    for (int64_t kk = 0; kk < K; ++kk) {
      int64_t i = tb ? o * K + kk : kk * Nout + o;
      s += double(w[i]) * tx_[size_t(kk)] - double(wq[i]) * tq_[size_t(kk)];
    }
    r[size_t(o)] = alpha * s / count_;
  }
  return r;
}

}  // namespace c8
