// Resize (opsets 10-18 without antialias) and Upsample (7-9).
// Modes nearest / linear (N-linear) / cubic; coordinate_transformation_mode
// half_pixel, pytorch_half_pixel, align_corners, asymmetric,
// tf_half_pixel_for_nn, tf_crop_and_resize; all nearest_modes; scales or
// sizes. Follows ONNX's reference implementation (separable per-axis taps,
// edge-clamped neighbours).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/ref/broadcast.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

struct ResizeParams {
  bool legacy = false;  // Upsample or Resize-10: asymmetric, floor/ceil nearest
  std::string mode, coord, nearest;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0;
  std::vector<double> scales;  // per dim
  std::vector<double> roi;     // 2 * rank (starts, ends)
  Shape out;                   // -1 where unknown
};

const Tensor* val(const std::vector<TypeShape>& in, size_t k, bool& nonconst) {
  if (in.size() <= k || !in[k].present()) return nullptr;
  if (!in[k].value) {
    nonconst = true;
    return nullptr;
  }
  if (in[k].value->numel() == 0) return nullptr;
  return in[k].value;
}

// Returns false when scales/sizes are not known.
bool resize_params(const Node& n, const std::vector<TypeShape>& in, ResizeParams& p) {
  if (in.empty() || !in[0].present()) node_error(n, "required input 0 is missing");
  const Shape& x = in[0].shape;
  size_t r = x.size();
  p.mode = n.attr_s("mode", "nearest");
  if (p.mode != "nearest" && p.mode != "linear" && p.mode != "cubic" && p.mode != "bilinear")
    node_error(n, "unsupported mode '" + p.mode + "'");
  if (p.mode == "bilinear") p.mode = "linear";
  p.coord = n.attr_s("coordinate_transformation_mode", "half_pixel");
  p.nearest = n.attr_s("nearest_mode", "round_prefer_floor");
  p.cubic_a = n.attr_f("cubic_coeff_a", -0.75f);
  p.exclude_outside = n.attr_i("exclude_outside", 0) != 0;
  p.extrapolation = n.attr_f("extrapolation_value", 0.f);
  if (n.attr_i("antialias", 0) != 0) node_error(n, "antialias is not supported");
  if (n.attr_s("keep_aspect_ratio_policy", "stretch") != "stretch")
    node_error(n, "keep_aspect_ratio_policy other than stretch is not supported");
  bool nonconst = false;
  const Tensor *scales = nullptr, *sizes = nullptr, *roi = nullptr;
  if (n.op == "Upsample" || in.size() == 2) {
    p.legacy = true;
    p.coord = "asymmetric";
    if (n.has("scales")) {
      auto f = n.attr_floats("scales");
      p.scales.assign(f.begin(), f.end());
    } else {
      scales = val(in, 1, nonconst);
    }
  } else {
    roi = val(in, 1, nonconst);
    scales = val(in, 2, nonconst);
    sizes = val(in, 3, nonconst);
  }
  std::vector<int64_t> axes = n.attr_ints("axes");
  if (axes.empty())
    for (size_t i = 0; i < r; ++i) axes.push_back(int64_t(i));
  for (auto& a : axes) a = norm_axis(n, a, int64_t(r));
  p.roi.assign(2 * r, 0);
  for (size_t i = 0; i < r; ++i) p.roi[r + i] = 1;
  if (roi) {
    auto v = roi->to_f32_vector();
    if (v.size() != 2 * axes.size()) node_error(n, "roi must have 2 * rank entries");
    for (size_t i = 0; i < axes.size(); ++i) {
      p.roi[size_t(axes[i])] = v[i];
      p.roi[r + size_t(axes[i])] = v[axes.size() + i];
    }
  }
  p.out.assign(r, -1);
  if (sizes) {
    auto s = sizes->to_i64_vector();
    if (s.size() != axes.size()) node_error(n, "sizes must have one entry per axis");
    p.scales.assign(r, 1.0);
    p.out = x;
    for (size_t i = 0; i < axes.size(); ++i) {
      size_t a = size_t(axes[i]);
      p.out[a] = s[i];
      p.scales[a] = x[a] > 0 ? double(s[i]) / double(x[a]) : 1.0;
    }
    return true;
  }
  if (scales) {
    auto f = scales->to_f32_vector();
    p.scales.assign(f.begin(), f.end());
  }
  if (p.scales.empty()) {
    if (nonconst) return false;
    node_error(n, "either scales or sizes must be given");
  }
  if (!n.has("scales") && p.scales.size() != axes.size()) node_error(n, "scales must have one entry per axis");
  std::vector<double> full(r, 1.0);
  if (p.legacy) {
    if (p.scales.size() != r) node_error(n, "scales must have one entry per dimension");
    full = p.scales;
  } else {
    for (size_t i = 0; i < axes.size(); ++i) full[size_t(axes[i])] = p.scales[i];
  }
  p.scales = full;
  for (size_t i = 0; i < r; ++i) {
    if (p.scales[i] <= 0) node_error(n, "scales must be positive");
    p.out[i] = x[i] < 0 ? -1 : int64_t(std::floor(double(x[i]) * p.scales[i]));
  }
  return true;
}

std::vector<TypeShape> infer_resize(const Node& n, const std::vector<TypeShape>& in) {
  ResizeParams p;
  TypeShape o;
  o.dtype = in.empty() ? DType::Undefined : in[0].dtype;
  if (resize_params(n, in, p)) o.shape = p.out;
  else o.shape.assign(in[0].shape.size(), -1);
  return {o};
}

struct Tap {
  int64_t idx;
  double w;
};

std::vector<double> cubic_coeffs(double r, double A) {
  return {((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A,
          ((A + 2) * r - (A + 3)) * r * r + 1,
          ((A + 2) * (1 - r) - (A + 3)) * (1 - r) * (1 - r) + 1,
          ((A * ((1 - r) + 1) - 5 * A) * ((1 - r) + 1) + 8 * A) * ((1 - r) + 1) - 4 * A};
}

// Taps for every output coordinate of one axis; an empty list = extrapolate.
std::vector<std::vector<Tap>> axis_taps(const Node& n, const ResizeParams& p, size_t axis, int64_t L, int64_t Lo) {
  double s = p.scales[axis];
  double ow = s * double(L);  // as ONNX's reference: output_width = scale * input_width
  double r0 = p.roi[axis], r1 = p.roi[p.roi.size() / 2 + axis];
  std::vector<std::vector<Tap>> taps(static_cast<size_t>(Lo));
  for (int64_t o = 0; o < Lo; ++o) {
    double xo = double(o), x;
    const std::string& c = p.coord;
    if (c == "half_pixel") x = (xo + 0.5) / s - 0.5;
    else if (c == "pytorch_half_pixel") x = ow > 1 ? (xo + 0.5) / s - 0.5 : -0.5;
    else if (c == "align_corners") x = ow == 1 ? 0 : xo * double(L - 1) / (ow - 1);
    else if (c == "asymmetric") x = xo / s;
    else if (c == "tf_half_pixel_for_nn") x = (xo + 0.5) / s;
    else if (c == "half_pixel_symmetric") {
      double adj = double(Lo) / ow, center = double(L) / 2, off = center * (1 - adj);
      x = off + (xo + 0.5) / s - 0.5;
    } else if (c == "tf_crop_and_resize") {
      x = ow == 1 ? (r1 - r0) * double(L - 1) / 2 : xo * (r1 - r0) * double(L - 1) / (ow - 1);
      x += r0 * double(L - 1);
      if (x < 0 || x > double(L - 1)) continue;  // extrapolate
    } else {
      node_error(n, "unsupported coordinate_transformation_mode '" + c + "'");
    }
    auto clampi = [&](int64_t i) { return std::clamp<int64_t>(i, 0, L - 1); };
    double xf = std::floor(x);
    int64_t xi = int64_t(xf);
    double ratio = x - xf;
    auto& t = taps[size_t(o)];
    if (p.mode == "nearest") {
      int64_t pick = xi;
      if (ratio != 0) {
        if (p.legacy) pick = s < 1 ? xi + 1 : xi;
        else if (p.nearest == "round_prefer_floor") pick = ratio <= 0.5 ? xi : xi + 1;
        else if (p.nearest == "round_prefer_ceil") pick = ratio < 0.5 ? xi : xi + 1;
        else if (p.nearest == "floor") pick = xi;
        else if (p.nearest == "ceil") pick = xi + 1;
        else node_error(n, "unsupported nearest_mode '" + p.nearest + "'");
      }
      t.push_back({clampi(pick), 1.0});
    } else if (p.mode == "linear") {
      t.push_back({clampi(xi), 1 - ratio});
      if (ratio != 0) t.push_back({clampi(xi + 1), ratio});
    } else {
      auto cf = cubic_coeffs(ratio, p.cubic_a);
      double sum = 0;
      for (int k = 0; k < 4; ++k) {
        int64_t i = xi - 1 + k;
        if (p.exclude_outside && (i < 0 || i >= L)) continue;
        t.push_back({clampi(i), cf[size_t(k)]});
        sum += cf[size_t(k)];
      }
      if (p.exclude_outside && sum != 0)
        for (auto& tp : t) tp.w /= sum;
    }
  }
  return taps;
}

void ref_resize(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  std::vector<TypeShape> ts(in.size());
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i].defined()) ts[i] = TypeShape{in[i].dtype, in[i].shape, &in[i]};
  ResizeParams p;
  resize_params(n, ts, p);
  const Tensor& x = in[0];
  size_t r = size_t(x.rank());
  Tensor& o = ref_output(out, 0, x.dtype, p.out);
  int64_t total = o.numel();
  if (total == 0) return;
  if (x.numel() == 0) node_error(n, "cannot resize an empty tensor");
  std::vector<std::vector<std::vector<Tap>>> taps(r);
  for (size_t d = 0; d < r; ++d) taps[d] = axis_taps(n, p, d, x.shape[d], p.out[d]);
  auto ist = row_strides(x.shape);
  std::vector<int64_t> pos(r, 0);
  bool nearest = p.mode == "nearest" && p.coord != "tf_crop_and_resize";
  size_t es = dtype_size(x.dtype);
  const uint8_t* sb = static_cast<const uint8_t*>(x.raw());
  uint8_t* db = static_cast<uint8_t*>(o.raw());
  Tensor xd, od;
  if (!nearest) {
    if (x.dtype == DType::BF16) node_error(n, "bfloat16 is not supported");
    xd = x.cast(DType::F64);
    od = Tensor(DType::F64, p.out);
  }
  const double* xs = nearest ? nullptr : xd.data<double>();
  std::vector<size_t> tk(r);
  for (int64_t i = 0; i < total; ++i) {
    if (nearest) {
      int64_t src = 0;
      for (size_t d = 0; d < r; ++d) src += taps[d][size_t(pos[d])][0].idx * ist[d];
      std::memcpy(db + size_t(i) * es, sb + size_t(src) * es, es);
    } else {
      bool extrap = false;
      for (size_t d = 0; d < r; ++d) extrap |= taps[d][size_t(pos[d])].empty();
      double acc = 0;
      if (extrap) {
        acc = p.extrapolation;
      } else {
        // iterate over the product of the per-axis taps
        std::fill(tk.begin(), tk.end(), 0);
        while (true) {
          double w = 1;
          int64_t src = 0;
          for (size_t d = 0; d < r; ++d) {
            const Tap& t = taps[d][size_t(pos[d])][tk[d]];
            w *= t.w;
            src += t.idx * ist[d];
          }
          acc += w * xs[src];
          size_t d = r;
          while (d > 0) {
            --d;
            if (++tk[d] < taps[d][size_t(pos[d])].size()) break;
            tk[d] = 0;
            if (d == 0) { d = r + 1; break; }
          }
          if (d == r + 1 || r == 0) break;
        }
      }
      od.data<double>()[i] = acc;
    }
    for (int k = int(r) - 1; k >= 0; --k) {
      if (++pos[size_t(k)] < p.out[size_t(k)]) break;
      pos[size_t(k)] = 0;
    }
  }
  if (!nearest) {
    Tensor c = od.cast(x.dtype);
    std::memcpy(o.raw(), c.raw(), o.nbytes());
  }
}

}  // namespace

C8_REGISTER_OPS({
    {"Resize", "", 10, infer_resize, ref_resize},
    {"Upsample", "", 7, infer_resize, ref_resize},
});

}  // namespace c8
