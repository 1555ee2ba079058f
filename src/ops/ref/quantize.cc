// QuantizeLinear, DequantizeLinear (per-tensor and per-axis), and
// DynamicQuantizeLinear. Rounding is half to even; results saturate.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/ref/broadcast.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

// Validates scale / zero-point shapes against x; returns the axis for a
// per-axis scale or -1 for per-tensor.
int64_t quant_axis(const Node& n, const Shape& x, const Shape& scale, const Shape* zp) {
  int64_t sn = shape_numel(scale);
  if (zp && *zp != scale && !(shape_numel(*zp) == 1 && sn == 1))
    node_error(n, "zero point shape " + shape_str(*zp) + " differs from scale shape " + shape_str(scale));
  if (sn == 1 && scale.size() <= 1) return -1;  // per-tensor
  if (scale.size() != 1) node_error(n, "scale must be a scalar or 1-D, got " + shape_str(scale));
  int64_t r = int64_t(x.size());
  if (r == 0) node_error(n, "per-axis scale needs an input of rank >= 1");
  int64_t axis = norm_axis(n, n.attr_i("axis", 1), r);
  if (x[size_t(axis)] >= 0 && scale[0] >= 0 && scale[0] != x[size_t(axis)])
    node_error(n, "scale has " + std::to_string(scale[0]) + " elements but input " + shape_str(x) + " has " +
                      std::to_string(x[size_t(axis)]) + " along axis " + std::to_string(axis));
  return axis;
}

// Index into scale/zero point for every element of x.
std::vector<int64_t> param_index(const Shape& x, int64_t axis) {
  int64_t cnt = shape_numel(x);
  std::vector<int64_t> idx(size_t(cnt), 0);
  if (axis < 0) return idx;
  int64_t inner = 1;
  for (size_t i = size_t(axis) + 1; i < x.size(); ++i) inner *= x[i];
  int64_t len = x[size_t(axis)];
  for (int64_t i = 0; i < cnt; ++i) idx[size_t(i)] = (i / inner) % len;
  return idx;
}

std::vector<TypeShape> q_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 2, 3);
  DType xt = in[0].dtype;
  if (xt != DType::F32 && xt != DType::I32 && xt != DType::F16)
    node_error(n, std::string("input must be float32/float16/int32, got ") + dtype_name(xt));
  if (in[1].dtype != DType::F32 && in[1].dtype != DType::F16)
    node_error(n, std::string("scale must be float, got ") + dtype_name(in[1].dtype));
  bool hz = in.size() > 2 && in[2].present();
  DType ot = hz ? in[2].dtype : DType::U8;
  if (ot != DType::U8 && ot != DType::I8)
    node_error(n, std::string("zero point must be uint8/int8, got ") + dtype_name(ot));
  quant_axis(n, in[0].shape, in[1].shape, hz ? &in[2].shape : nullptr);
  return {TypeShape{ot, in[0].shape}};
}

void q_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor& X = in.at(0);
  Tensor S = in.at(1).cast(DType::F32);
  const Tensor* Z = in.size() > 2 && in[2].defined() ? &in[2] : nullptr;
  DType ot = Z ? Z->dtype : DType::U8;
  if (ot != DType::U8 && ot != DType::I8) node_error(n, "zero point must be uint8/int8");
  int64_t axis = quant_axis(n, X.shape, S.shape, Z ? &Z->shape : nullptr);
  auto pi = param_index(X.shape, axis);
  Tensor xf = X.dtype == DType::I32 ? X : X.cast(DType::F32);
  const float* s = S.data<float>();
  float lo = ot == DType::U8 ? 0.f : -128.f, hi = ot == DType::U8 ? 255.f : 127.f;
  Tensor& Y = ref_output(out, 0, ot, X.shape);
  for (int64_t i = 0; i < X.numel(); ++i) {
    int64_t p = pi[size_t(i)];
    if (s[p] == 0.f) node_error(n, "scale is zero");
    float xv = X.dtype == DType::I32 ? float(X.data<int32_t>()[i]) : xf.data<float>()[i];
    float q = std::nearbyint(xv / s[p]) + (Z ? float(Z->get_i64(p)) : 0.f);
    if (std::isnan(q)) q = 0.f;
    q = std::min(hi, std::max(lo, q));
    if (ot == DType::U8) Y.data<uint8_t>()[i] = uint8_t(q);
    else Y.data<int8_t>()[i] = int8_t(q);
  }
}

std::vector<TypeShape> dq_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 2, 3);
  DType xt = in[0].dtype;
  if (xt != DType::U8 && xt != DType::I8 && xt != DType::I32)
    node_error(n, std::string("input must be uint8/int8/int32, got ") + dtype_name(xt));
  if (in[1].dtype != DType::F32 && in[1].dtype != DType::F16)
    node_error(n, std::string("scale must be float, got ") + dtype_name(in[1].dtype));
  bool hz = in.size() > 2 && in[2].present();
  if (hz && in[2].dtype != xt)
    node_error(n, std::string("zero point dtype ") + dtype_name(in[2].dtype) + " differs from input " + dtype_name(xt));
  quant_axis(n, in[0].shape, in[1].shape, hz ? &in[2].shape : nullptr);
  return {TypeShape{in[1].dtype, in[0].shape}};
}

void dq_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor& X = in.at(0);
  Tensor S = in.at(1).cast(DType::F32);
  const Tensor* Z = in.size() > 2 && in[2].defined() ? &in[2] : nullptr;
  int64_t axis = quant_axis(n, X.shape, S.shape, Z ? &Z->shape : nullptr);
  auto pi = param_index(X.shape, axis);
  const float* s = S.data<float>();
  Tensor yf(DType::F32, X.shape);
  float* y = yf.data<float>();
  for (int64_t i = 0; i < X.numel(); ++i) {
    int64_t p = pi[size_t(i)];
    int64_t zp = Z ? Z->get_i64(p) : 0;
    y[i] = float(X.get_i64(i) - zp) * s[p];
  }
  DType ot = in[1].dtype;
  Tensor r = yf.cast(ot);
  Tensor& Y = ref_output(out, 0, ot, X.shape);
  if (r.nbytes()) std::memcpy(Y.raw(), r.raw(), r.nbytes());
}

std::vector<TypeShape> dyn_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 1, 1);
  if (in[0].dtype != DType::F32) node_error(n, std::string("input must be float32, got ") + dtype_name(in[0].dtype));
  return {TypeShape{DType::U8, in[0].shape}, TypeShape{DType::F32, {}}, TypeShape{DType::U8, {}}};
}

void dyn_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor& X = in.at(0);
  if (X.dtype != DType::F32) node_error(n, "input must be float32");
  const float* x = X.data<float>();
  float mn = 0.f, mx = 0.f;
  for (int64_t i = 0; i < X.numel(); ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
  }
  float scale = (mx - mn) / 255.f;
  float zpf = scale == 0.f ? 0.f : std::min(255.f, std::max(0.f, std::nearbyint(0.f - mn / scale)));
  Tensor& Y = ref_output(out, 0, DType::U8, X.shape);
  for (int64_t i = 0; i < X.numel(); ++i) {
    float q = scale == 0.f ? 0.f : std::nearbyint(x[i] / scale) + zpf;
    Y.data<uint8_t>()[i] = uint8_t(std::min(255.f, std::max(0.f, q)));
  }
  ref_output(out, 1, DType::F32, {}).data<float>()[0] = scale;
  ref_output(out, 2, DType::U8, {}).data<uint8_t>()[0] = uint8_t(zpf);
}

C8_REGISTER_OPS({
    OpDef{"QuantizeLinear", "", 10, q_infer, q_ref},
    OpDef{"DequantizeLinear", "", 10, dq_infer, dq_ref},
    OpDef{"DynamicQuantizeLinear", "", 11, dyn_infer, dyn_ref},
});

}  // namespace
}  // namespace c8
