// BatchNormalization (inference and training_mode), InstanceNormalization,
// LRN, LayerNormalization (opset 17, with optional Mean/InvStdDev outputs).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/ref/broadcast.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

void check_float(const Node& n, DType t, const char* what) {
  if (t != DType::F32 && t != DType::F64 && t != DType::F16)
    node_error(n, std::string(what) + " must be float, got " + dtype_name(t));
}

void check_channel_vec(const Node& n, const TypeShape& t, int64_t C, const char* what) {
  if (t.shape.size() != 1 || (C >= 0 && t.shape[0] >= 0 && t.shape[0] != C))
    node_error(n, std::string(what) + " shape " + shape_str(t.shape) + " must be [" + std::to_string(C) + "]");
}

// ---------------------------------------------------------------- BatchNormalization

std::vector<TypeShape> bn_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 5, 5);
  check_float(n, in[0].dtype, "input");
  if (in[0].shape.size() < 2) node_error(n, "input must have rank >= 2, got " + shape_str(in[0].shape));
  int64_t C = in[0].shape[1];
  const char* names[] = {"", "scale", "B", "mean", "var"};
  for (int i = 1; i < 5; ++i) {
    check_float(n, in[size_t(i)].dtype, names[i]);
    check_channel_vec(n, in[size_t(i)], C, names[i]);
  }
  std::vector<TypeShape> r = {TypeShape{in[0].dtype, in[0].shape}};
  if (n.outputs.size() > 3) node_error(n, "at most 3 outputs are supported (Y, running_mean, running_var)");
  if (n.outputs.size() > 1 && n.attr_i("training_mode", 0) == 0)
    node_error(n, "running_mean/running_var outputs need training_mode=1");
  if (n.outputs.size() > 1) r.push_back(TypeShape{in[3].dtype, {C}});
  if (n.outputs.size() > 2) r.push_back(TypeShape{in[4].dtype, {C}});
  return r;
}

void bn_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  if (run_half_as_float(n, in, out, bn_ref)) return;
  const Tensor& X = in.at(0);
  if (X.rank() < 2) node_error(n, "input must have rank >= 2");
  int64_t N = X.shape[0], C = X.shape[1], S = X.numel() / std::max<int64_t>(1, N * C);
  for (int i = 1; i < 5; ++i)
    if (in.at(size_t(i)).numel() != C) node_error(n, "scale/B/mean/var must have C elements");
  double eps = n.attr_f("epsilon", 1e-5f);
  bool training = n.attr_i("training_mode", 0) != 0;
  double mom = n.attr_f("momentum", 0.9f);
  auto scale = in[1].cast(DType::F64), bias = in[2].cast(DType::F64);
  auto mean = in[3].cast(DType::F64), var = in[4].cast(DType::F64);
  std::vector<double> m(static_cast<size_t>(C)), v(static_cast<size_t>(C));
  auto xd = X.cast(DType::F64);
  const double* x = xd.data<double>();
  for (int64_t c = 0; c < C; ++c) {
    if (training) {
      double s = 0, s2 = 0;
      for (int64_t nn = 0; nn < N; ++nn)
        for (int64_t i = 0; i < S; ++i) s += x[(nn * C + c) * S + i];
      double mu = s / double(N * S);
      for (int64_t nn = 0; nn < N; ++nn)
        for (int64_t i = 0; i < S; ++i) {
          double d = x[(nn * C + c) * S + i] - mu;
          s2 += d * d;
        }
      m[size_t(c)] = mu;
      v[size_t(c)] = s2 / double(N * S);
    } else {
      m[size_t(c)] = mean.data<double>()[c];
      v[size_t(c)] = var.data<double>()[c];
    }
  }
  Tensor Yd(DType::F64, X.shape);
  double* y = Yd.data<double>();
  for (int64_t nn = 0; nn < N; ++nn)
    for (int64_t c = 0; c < C; ++c) {
      double a = scale.data<double>()[c] / std::sqrt(v[size_t(c)] + eps);
      double b = bias.data<double>()[c] - m[size_t(c)] * a;
      for (int64_t i = 0; i < S; ++i) y[(nn * C + c) * S + i] = x[(nn * C + c) * S + i] * a + b;
    }
  Tensor yc = Yd.cast(X.dtype);
  Tensor& Y = ref_output(out, 0, X.dtype, X.shape);
  std::memcpy(Y.raw(), yc.raw(), yc.nbytes());
  if (n.outputs.size() > 1 && training) {
    Tensor rm(DType::F64, {C}), rv(DType::F64, {C});
    for (int64_t c = 0; c < C; ++c) {
      rm.data<double>()[c] = mean.data<double>()[c] * mom + m[size_t(c)] * (1 - mom);
      rv.data<double>()[c] = var.data<double>()[c] * mom + v[size_t(c)] * (1 - mom);
    }
    Tensor r[2] = {rm.cast(in[3].dtype), rv.cast(in[4].dtype)};
    for (size_t k = 1; k < n.outputs.size() && k < 3; ++k) {
      Tensor& o = ref_output(out, k, r[k - 1].dtype, {C});
      std::memcpy(o.raw(), r[k - 1].raw(), r[k - 1].nbytes());
    }
  } else if (n.outputs.size() > 1) {
    node_error(n, "extra outputs are only supported with training_mode=1");
  }
}

// ---------------------------------------------------------------- InstanceNormalization

std::vector<TypeShape> in_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 3, 3);
  check_float(n, in[0].dtype, "input");
  if (in[0].shape.size() < 3) node_error(n, "input must have rank >= 3, got " + shape_str(in[0].shape));
  check_channel_vec(n, in[1], in[0].shape[1], "scale");
  check_channel_vec(n, in[2], in[0].shape[1], "B");
  return {TypeShape{in[0].dtype, in[0].shape}};
}

void in_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  if (run_half_as_float(n, in, out, in_ref)) return;
  const Tensor& X = in.at(0);
  if (X.rank() < 3) node_error(n, "input must have rank >= 3");
  int64_t N = X.shape[0], C = X.shape[1], S = X.numel() / std::max<int64_t>(1, N * C);
  if (in.at(1).numel() != C || in.at(2).numel() != C) node_error(n, "scale/B must have C elements");
  double eps = n.attr_f("epsilon", 1e-5f);
  Tensor xd = X.cast(DType::F64), Yd(DType::F64, X.shape);
  const double* x = xd.data<double>();
  double* y = Yd.data<double>();
  for (int64_t nn = 0; nn < N; ++nn)
    for (int64_t c = 0; c < C; ++c) {
      const double* xc = x + (nn * C + c) * S;
      double mu = 0, var = 0;
      for (int64_t i = 0; i < S; ++i) mu += xc[i];
      mu /= double(S);
      for (int64_t i = 0; i < S; ++i) var += (xc[i] - mu) * (xc[i] - mu);
      var /= double(S);
      double a = in[1].get_f64(c) / std::sqrt(var + eps), b = in[2].get_f64(c);
      for (int64_t i = 0; i < S; ++i) y[(nn * C + c) * S + i] = (xc[i] - mu) * a + b;
    }
  Tensor yc = Yd.cast(X.dtype);
  Tensor& Y = ref_output(out, 0, X.dtype, X.shape);
  std::memcpy(Y.raw(), yc.raw(), yc.nbytes());
}

// ---------------------------------------------------------------- LRN

std::vector<TypeShape> lrn_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 1, 1);
  check_float(n, in[0].dtype, "input");
  if (in[0].shape.size() < 3) node_error(n, "input must have rank >= 3, got " + shape_str(in[0].shape));
  if (!n.has("size") || n.attr_i("size", 0) < 1) node_error(n, "attribute size (>= 1) is required");
  return {TypeShape{in[0].dtype, in[0].shape}};
}

void lrn_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  if (run_half_as_float(n, in, out, lrn_ref)) return;
  const Tensor& X = in.at(0);
  int64_t N = X.shape[0], C = X.shape[1], S = X.numel() / std::max<int64_t>(1, N * C);
  int64_t size = n.attr_i("size", 0);
  if (size < 1) node_error(n, "attribute size (>= 1) is required");
  double alpha = n.attr_f("alpha", 1e-4f), beta = n.attr_f("beta", 0.75f), bias = n.attr_f("bias", 1.f);
  int64_t lo = (size - 1) / 2, hi = size - 1 - lo;  // floor / ceil of (size-1)/2
  Tensor xd = X.cast(DType::F64), Yd(DType::F64, X.shape);
  const double* x = xd.data<double>();
  double* y = Yd.data<double>();
  for (int64_t nn = 0; nn < N; ++nn)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < S; ++i) {
        double sq = 0;
        for (int64_t cc = std::max<int64_t>(0, c - lo); cc <= std::min(C - 1, c + hi); ++cc) {
          double v = x[(nn * C + cc) * S + i];
          sq += v * v;
        }
        int64_t k = (nn * C + c) * S + i;
        y[k] = x[k] / std::pow(bias + alpha / double(size) * sq, beta);
      }
  Tensor yc = Yd.cast(X.dtype);
  Tensor& Y = ref_output(out, 0, X.dtype, X.shape);
  std::memcpy(Y.raw(), yc.raw(), yc.nbytes());
}

// ---------------------------------------------------------------- LayerNormalization

std::vector<TypeShape> ln_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 2, 3);
  check_float(n, in[0].dtype, "input");
  const Shape& x = in[0].shape;
  int64_t r = int64_t(x.size());
  if (r < 1) node_error(n, "input must have rank >= 1");
  int64_t axis = norm_axis(n, n.attr_i("axis", -1), r);
  Shape norm(x.begin() + axis, x.end());
  if (!broadcastable_to(in[1].shape, norm))
    node_error(n, "Scale shape " + shape_str(in[1].shape) + " is not broadcastable to normalized shape " + shape_str(norm));
  if (in.size() > 2 && in[2].present() && !broadcastable_to(in[2].shape, norm))
    node_error(n, "B shape " + shape_str(in[2].shape) + " is not broadcastable to normalized shape " + shape_str(norm));
  std::vector<TypeShape> res = {TypeShape{in[0].dtype, x}};
  Shape ms(x.begin(), x.begin() + axis);
  ms.resize(size_t(r), 1);
  DType st = n.attr_i("stash_type", 1) == 1 ? DType::F32 : in[0].dtype;
  for (size_t k = 1; k < n.outputs.size() && k < 3; ++k) res.push_back(TypeShape{st, ms});
  return res;
}

void ln_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor& X = in.at(0);
  if (X.dtype == DType::F16) {
    // Y stays float16; Mean/InvStdDev follow stash_type.
    std::vector<Tensor> in2;
    for (const Tensor& t : in) in2.push_back(t.defined() && t.dtype == DType::F16 ? t.cast(DType::F32) : t);
    std::vector<Tensor> out2(out.size());
    ln_ref(n, in2, out2);
    bool stash_f32 = n.attr_i("stash_type", 1) == 1;
    for (size_t k = 0; k < out2.size(); ++k) {
      if (!out2[k].defined()) continue;
      Tensor r = (k == 0 || !stash_f32) ? out2[k].cast(DType::F16) : out2[k];
      Tensor& o = ref_output(out, k, r.dtype, r.shape);
      std::memcpy(o.raw(), r.raw(), r.nbytes());
    }
    return;
  }
  int64_t r = X.rank();
  int64_t axis = norm_axis(n, n.attr_i("axis", -1), r);
  Shape norm(X.shape.begin() + axis, X.shape.end());
  int64_t inner = shape_numel(norm), outer = X.numel() / std::max<int64_t>(1, inner);
  double eps = n.attr_f("epsilon", 1e-5f);
  const Tensor& S = in.at(1);
  const Tensor* B = in.size() > 2 && in[2].defined() ? &in[2] : nullptr;
  if (!broadcastable_to(S.shape, norm)) node_error(n, "Scale shape " + shape_str(S.shape) + " is not broadcastable to " + shape_str(norm));
  if (B && !broadcastable_to(B->shape, norm)) node_error(n, "B shape " + shape_str(B->shape) + " is not broadcastable to " + shape_str(norm));
  auto is = broadcast_index(S.shape, norm);
  std::vector<int64_t> ib = B ? broadcast_index(B->shape, norm) : std::vector<int64_t>();
  Tensor xd = X.cast(DType::F64), Yd(DType::F64, X.shape);
  Shape ms(X.shape.begin(), X.shape.begin() + axis);
  ms.resize(size_t(r), 1);
  Tensor Md(DType::F64, ms), Id(DType::F64, ms);
  const double* x = xd.data<double>();
  double* y = Yd.data<double>();
  for (int64_t o = 0; o < outer; ++o) {
    const double* xo = x + o * inner;
    double mu = 0, var = 0;
    for (int64_t i = 0; i < inner; ++i) mu += xo[i];
    mu /= double(inner);
    for (int64_t i = 0; i < inner; ++i) var += (xo[i] - mu) * (xo[i] - mu);
    var /= double(inner);
    double inv = 1.0 / std::sqrt(var + eps);
    Md.data<double>()[o] = mu;
    Id.data<double>()[o] = inv;
    for (int64_t i = 0; i < inner; ++i)
      y[o * inner + i] = (xo[i] - mu) * inv * S.get_f64(is[size_t(i)]) + (B ? B->get_f64(ib[size_t(i)]) : 0.0);
  }
  Tensor yc = Yd.cast(X.dtype);
  Tensor& Y = ref_output(out, 0, X.dtype, X.shape);
  std::memcpy(Y.raw(), yc.raw(), yc.nbytes());
  DType st = n.attr_i("stash_type", 1) == 1 ? DType::F32 : X.dtype;
  const Tensor* extra[2] = {&Md, &Id};
  for (size_t k = 1; k < n.outputs.size() && k < 3; ++k) {
    if (n.outputs[k] < 0) continue;
    Tensor c = extra[k - 1]->cast(st);
    Tensor& o = ref_output(out, k, st, ms);
    std::memcpy(o.raw(), c.raw(), c.nbytes());
  }
}

C8_REGISTER_OPS({
    OpDef{"BatchNormalization", "", 9, bn_infer, bn_ref},
    OpDef{"InstanceNormalization", "", 6, in_infer, in_ref},
    OpDef{"LRN", "", 1, lrn_infer, lrn_ref},
    OpDef{"LayerNormalization", "", 17, ln_infer, ln_ref},
});

}  // namespace
}  // namespace c8
