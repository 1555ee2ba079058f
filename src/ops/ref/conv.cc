// Conv (1-D/2-D/3-D, groups, dilations, strides, pads, auto_pad, bias, fused
// post-ops) and ConvTranspose (1-D/2-D/3-D, groups, output_padding,
// output_shape). Spatial ranks below 3 are run as 3-D with unit dims.
#include <algorithm>
#include <cstring>

#include "ops/ref/broadcast.h"
#include "ops/ref/post_ops.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

std::vector<int64_t> spatial(const Shape& s) { return std::vector<int64_t>(s.begin() + 2, s.end()); }

// Pads a per-spatial-dim vector to 3 entries (leading `fill`).
std::vector<int64_t> to3(const std::vector<int64_t>& v, int64_t fill) {
  std::vector<int64_t> r(3 - v.size(), fill);
  r.insert(r.end(), v.begin(), v.end());
  return r;
}

void check_float(const Node& n, DType t, const char* what) {
  if (t != DType::F32 && t != DType::F64 && t != DType::F16)
    node_error(n, std::string(what) + " must be float, got " + dtype_name(t));
}

struct ConvShape {
  int64_t N, C, M, G;
  WindowGeom geom;
  Shape out;
};

ConvShape conv_shape(const Node& n, const Shape& x, const Shape& w, const Shape* b) {
  if (x.size() < 3 || x.size() > 5) node_error(n, "input must have rank 3..5 (N,C,spatial...), got " + shape_str(x));
  if (w.size() != x.size())
    node_error(n, "weight rank " + std::to_string(w.size()) + " differs from input rank " + std::to_string(x.size()) +
                      " (input " + shape_str(x) + ", weight " + shape_str(w) + ")");
  ConvShape cs;
  cs.N = x[0];
  cs.C = x[1];
  cs.M = w[0];
  cs.G = n.attr_i("group", 1);
  if (cs.G < 1) node_error(n, "group must be >= 1");
  if (cs.C >= 0 && cs.C % cs.G != 0)
    node_error(n, "input channels " + std::to_string(cs.C) + " not divisible by group " + std::to_string(cs.G));
  if (cs.M >= 0 && cs.M % cs.G != 0)
    node_error(n, "output channels " + std::to_string(cs.M) + " not divisible by group " + std::to_string(cs.G));
  if (cs.C >= 0 && w[1] >= 0 && w[1] * cs.G != cs.C)
    node_error(n, "weight " + shape_str(w) + " expects " + std::to_string(w[1] * cs.G) + " input channels (group " +
                      std::to_string(cs.G) + "), input has " + std::to_string(cs.C));
  auto k = spatial(w);
  auto ks = n.attr_ints("kernel_shape");
  if (!ks.empty() && ks != k)
    node_error(n, "kernel_shape " + shape_str(ks) + " does not match weight " + shape_str(w));
  if (b) {
    if (b->size() != 1 || ((*b)[0] >= 0 && cs.M >= 0 && (*b)[0] != cs.M))
      node_error(n, "bias shape " + shape_str(*b) + " must be [" + std::to_string(cs.M) + "]");
  }
  cs.geom = window_geometry(n, spatial(x), k, false);
  cs.out = {cs.N, cs.M};
  for (int64_t o : cs.geom.out) cs.out.push_back(o);
  return cs;
}

std::vector<TypeShape> conv_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 2, max_inputs_with_post_ops(n, 3));
  check_float(n, in[0].dtype, "input");
  if (in[1].dtype != in[0].dtype) node_error(n, "weight dtype differs from input dtype");
  bool hb = in.size() > 2 && in[2].present();
  if (hb && in[2].dtype != in[0].dtype) node_error(n, "bias dtype differs from input dtype");
  ConvShape cs = conv_shape(n, in[0].shape, in[1].shape, hb ? &in[2].shape : nullptr);
  TypeShape o{in[0].dtype, cs.out};
  check_post_ops(n, in, o);
  return {o};
}

template <class T>
void conv_run(const ConvShape& cs, const Tensor& X, const Tensor& W, const Tensor* B, Tensor& Y) {
  auto is = to3(spatial(X.shape), 1), ks = to3(cs.geom.kernel, 1), os = to3(cs.geom.out, 1);
  auto st = to3(cs.geom.strides, 1), dl = to3(cs.geom.dilations, 1), pb = to3(cs.geom.pad_begin, 0);
  const T* x = X.data<T>();
  const T* w = W.data<T>();
  const T* b = B ? B->data<T>() : nullptr;
  T* y = Y.data<T>();
  int64_t Cg = cs.C / cs.G, Mg = cs.M / cs.G;
  int64_t isz = is[0] * is[1] * is[2], ksz = ks[0] * ks[1] * ks[2], osz = os[0] * os[1] * os[2];
  // Per output plane: accumulate (in double) one input plane x one kernel tap at a
  // time, so memory is read sequentially.
  std::vector<double> acc(static_cast<size_t>(osz));
  for (int64_t nn = 0; nn < cs.N; ++nn)
    for (int64_t g = 0; g < cs.G; ++g)
      for (int64_t m = 0; m < Mg; ++m) {
        int64_t oc = g * Mg + m;
        std::fill(acc.begin(), acc.end(), b ? double(b[oc]) : 0.0);
        for (int64_t c = 0; c < Cg; ++c) {
          const T* xc = x + (nn * cs.C + g * Cg + c) * isz;
          const T* wc = w + (oc * Cg + c) * ksz;
          for (int64_t kd = 0; kd < ks[0]; ++kd)
            for (int64_t kh = 0; kh < ks[1]; ++kh)
              for (int64_t kw = 0; kw < ks[2]; ++kw) {
                double wv = double(wc[(kd * ks[1] + kh) * ks[2] + kw]);
                for (int64_t od = 0; od < os[0]; ++od) {
                  int64_t id = od * st[0] - pb[0] + kd * dl[0];
                  if (id < 0 || id >= is[0]) continue;
                  for (int64_t oh = 0; oh < os[1]; ++oh) {
                    int64_t ih = oh * st[1] - pb[1] + kh * dl[1];
                    if (ih < 0 || ih >= is[1]) continue;
                    const T* xrow = xc + (id * is[1] + ih) * is[2];
                    double* arow = acc.data() + (od * os[1] + oh) * os[2];
                    for (int64_t ow = 0; ow < os[2]; ++ow) {
                      int64_t iw = ow * st[2] - pb[2] + kw * dl[2];
                      if (iw < 0 || iw >= is[2]) continue;
                      arow[ow] += double(xrow[iw]) * wv;
                    }
                  }
                }
              }
        }
        T* yo = y + (nn * cs.M + oc) * osz;
        for (int64_t i = 0; i < osz; ++i) yo[i] = T(acc[size_t(i)]);
      }
}

void conv_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  if (run_half_as_float(n, in, out, conv_ref)) return;
  const Tensor& X = in.at(0);
  const Tensor& W = in.at(1);
  const Tensor* B = in.size() > 2 && in[2].defined() ? &in[2] : nullptr;
  check_float(n, X.dtype, "input");
  if (W.dtype != X.dtype || (B && B->dtype != X.dtype)) node_error(n, "weight/bias dtype differs from input dtype");
  ConvShape cs = conv_shape(n, X.shape, W.shape, B ? &B->shape : nullptr);
  Tensor& Y = ref_output(out, 0, X.dtype, cs.out);
  if (X.dtype == DType::F32) conv_run<float>(cs, X, W, B, Y);
  else conv_run<double>(cs, X, W, B, Y);
  apply_post_ops(n, in, Y);
}

// ---------------------------------------------------------------- ConvTranspose

int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

struct DeconvShape {
  int64_t N, C, M, G;
  std::vector<int64_t> kernel, strides, dilations, pad_begin, out_spatial;
  Shape out;
};

DeconvShape deconv_shape(const Node& n, const Shape& x, const Shape& w, const Shape* b) {
  if (x.size() < 3 || x.size() > 5) node_error(n, "input must have rank 3..5 (N,C,spatial...), got " + shape_str(x));
  if (w.size() != x.size())
    node_error(n, "weight rank differs from input rank (input " + shape_str(x) + ", weight " + shape_str(w) + ")");
  size_t r = x.size() - 2;
  DeconvShape d;
  d.N = x[0];
  d.C = x[1];
  d.G = n.attr_i("group", 1);
  if (d.G < 1) node_error(n, "group must be >= 1");
  if (d.C >= 0 && w[0] >= 0 && w[0] != d.C)
    node_error(n, "weight " + shape_str(w) + " expects " + std::to_string(w[0]) + " input channels, input has " + std::to_string(d.C));
  if (d.C >= 0 && d.C % d.G != 0)
    node_error(n, "input channels " + std::to_string(d.C) + " not divisible by group " + std::to_string(d.G));
  d.M = w[1] * d.G;
  if (b && (b->size() != 1 || ((*b)[0] >= 0 && (*b)[0] != d.M)))
    node_error(n, "bias shape " + shape_str(*b) + " must be [" + std::to_string(d.M) + "]");
  d.kernel = spatial(w);
  auto ks = n.attr_ints("kernel_shape");
  if (!ks.empty() && ks != d.kernel) node_error(n, "kernel_shape " + shape_str(ks) + " does not match weight " + shape_str(w));
  auto get = [&](const char* a, int64_t def, size_t cnt) {
    auto v = n.attr_ints(a, std::vector<int64_t>(cnt, def));
    if (v.empty()) v.assign(cnt, def);
    if (v.size() != cnt) node_error(n, std::string(a) + " has " + std::to_string(v.size()) + " entries, expected " + std::to_string(cnt));
    return v;
  };
  d.strides = get("strides", 1, r);
  d.dilations = get("dilations", 1, r);
  auto opad = get("output_padding", 0, r);
  auto pads = get("pads", 0, 2 * r);
  std::string ap = n.attr_s("auto_pad", "NOTSET");
  auto oshape = n.attr_ints("output_shape");
  if (!oshape.empty() && oshape.size() == r + 2) oshape.erase(oshape.begin(), oshape.begin() + 2);
  if (!oshape.empty() && oshape.size() != r)
    node_error(n, "output_shape has " + std::to_string(oshape.size()) + " entries, expected " + std::to_string(r));
  d.pad_begin.assign(r, 0);
  d.out_spatial.assign(r, -1);
  for (size_t i = 0; i < r; ++i) {
    if (d.strides[i] < 1 || d.dilations[i] < 1) node_error(n, "strides and dilations must be >= 1");
    if (x[i + 2] < 0) continue;
    int64_t ek = (d.kernel[i] - 1) * d.dilations[i] + 1;
    int64_t full = d.strides[i] * (x[i + 2] - 1) + opad[i] + ek;
    if (!oshape.empty() || ap == "SAME_UPPER" || ap == "SAME_LOWER") {
      int64_t o = !oshape.empty() ? oshape[i] : x[i + 2] * d.strides[i];
      int64_t total = full - o;
      d.pad_begin[i] = ap == "SAME_UPPER" ? floordiv(total, 2) : total - floordiv(total, 2);
      d.out_spatial[i] = o;
    } else if (ap == "VALID") {
      d.out_spatial[i] = full;
    } else {
      d.pad_begin[i] = pads[i];
      d.out_spatial[i] = full - pads[i] - pads[i + r];
    }
    if (d.out_spatial[i] <= 0) node_error(n, "output spatial size " + std::to_string(d.out_spatial[i]) + " is not positive");
  }
  d.out = {d.N, d.M};
  for (int64_t o : d.out_spatial) d.out.push_back(o);
  return d;
}

std::vector<TypeShape> deconv_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 2, max_inputs_with_post_ops(n, 3));
  check_float(n, in[0].dtype, "input");
  if (in[1].dtype != in[0].dtype) node_error(n, "weight dtype differs from input dtype");
  bool hb = in.size() > 2 && in[2].present();
  DeconvShape d = deconv_shape(n, in[0].shape, in[1].shape, hb ? &in[2].shape : nullptr);
  TypeShape o{in[0].dtype, d.out};
  check_post_ops(n, in, o);
  return {o};
}

template <class T>
void deconv_run(const DeconvShape& d, const Tensor& X, const Tensor& W, const Tensor* B, Tensor& Y) {
  auto is = to3(spatial(X.shape), 1), ks = to3(d.kernel, 1), os = to3(d.out_spatial, 1);
  auto st = to3(d.strides, 1), dl = to3(d.dilations, 1), pb = to3(d.pad_begin, 0);
  int64_t Cg = d.C / d.G, Mg = d.M / d.G;
  int64_t isz = is[0] * is[1] * is[2], ksz = ks[0] * ks[1] * ks[2], osz = os[0] * os[1] * os[2];
  std::vector<double> acc(size_t(d.N * d.M * osz), 0.0);
  const T* x = X.data<T>();
  const T* w = W.data<T>();
  for (int64_t nn = 0; nn < d.N; ++nn)
    for (int64_t g = 0; g < d.G; ++g)
      for (int64_t c = 0; c < Cg; ++c) {
        int64_t ic = g * Cg + c;
        const T* xc = x + (nn * d.C + ic) * isz;
        for (int64_t m = 0; m < Mg; ++m) {
          int64_t oc = g * Mg + m;
          const T* wc = w + (ic * Mg + m) * ksz;
          double* ao = acc.data() + (nn * d.M + oc) * osz;
          for (int64_t id = 0; id < is[0]; ++id)
            for (int64_t ih = 0; ih < is[1]; ++ih)
              for (int64_t iw = 0; iw < is[2]; ++iw) {
                double xv = xc[(id * is[1] + ih) * is[2] + iw];
                for (int64_t kd = 0; kd < ks[0]; ++kd) {
                  int64_t od = id * st[0] - pb[0] + kd * dl[0];
                  if (od < 0 || od >= os[0]) continue;
                  for (int64_t kh = 0; kh < ks[1]; ++kh) {
                    int64_t oh = ih * st[1] - pb[1] + kh * dl[1];
                    if (oh < 0 || oh >= os[1]) continue;
                    for (int64_t kw = 0; kw < ks[2]; ++kw) {
                      int64_t ow = iw * st[2] - pb[2] + kw * dl[2];
                      if (ow < 0 || ow >= os[2]) continue;
                      ao[(od * os[1] + oh) * os[2] + ow] += xv * double(wc[(kd * ks[1] + kh) * ks[2] + kw]);
                    }
                  }
                }
              }
        }
      }
  T* y = Y.data<T>();
  const T* b = B ? B->data<T>() : nullptr;
  for (int64_t nn = 0; nn < d.N; ++nn)
    for (int64_t oc = 0; oc < d.M; ++oc)
      for (int64_t i = 0; i < osz; ++i) {
        size_t k = size_t((nn * d.M + oc) * osz + i);
        y[k] = T(acc[k] + (b ? double(b[oc]) : 0.0));
      }
}

void deconv_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  if (run_half_as_float(n, in, out, deconv_ref)) return;
  const Tensor& X = in.at(0);
  const Tensor& W = in.at(1);
  const Tensor* B = in.size() > 2 && in[2].defined() ? &in[2] : nullptr;
  check_float(n, X.dtype, "input");
  if (W.dtype != X.dtype || (B && B->dtype != X.dtype)) node_error(n, "weight/bias dtype differs from input dtype");
  DeconvShape d = deconv_shape(n, X.shape, W.shape, B ? &B->shape : nullptr);
  Tensor& Y = ref_output(out, 0, X.dtype, d.out);
  if (X.dtype == DType::F32) deconv_run<float>(d, X, W, B, Y);
  else deconv_run<double>(d, X, W, B, Y);
  apply_post_ops(n, in, Y);
}

C8_REGISTER_OPS({
    OpDef{"Conv", "", 11, conv_infer, conv_ref},
    OpDef{"ConvTranspose", "", 11, deconv_infer, deconv_ref},
});

}  // namespace
}  // namespace c8
