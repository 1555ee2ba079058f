// Unary element-wise ops (activations and math functions), PRelu, Clip, Not.
// Float math goes through eltwise_apply (post_ops.h) so fused post-ops and
// standalone ops share one definition.
#include <cmath>
#include <cstdlib>
#include <limits>

#include "ops/ref/broadcast.h"
#include "ops/ref/post_ops.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

// Ops that also accept integer inputs (computed exactly in the integer type).
bool int_ok(EltOp k) {
  return k == EltOp::Relu || k == EltOp::Abs || k == EltOp::Neg || k == EltOp::Sign || k == EltOp::Clip;
}

void attrs_for(const Node& n, EltOp k, float& a, float& b) {
  eltwise_defaults(k, a, b);
  switch (k) {
    case EltOp::LeakyRelu: case EltOp::Elu: case EltOp::Celu: case EltOp::ThresholdedRelu:
    case EltOp::HardSigmoid:
      a = n.attr_f("alpha", a);
      b = n.attr_f("beta", b);
      break;
    case EltOp::Selu:
      a = n.attr_f("alpha", a);
      b = n.attr_f("gamma", b);
      break;
    case EltOp::Shrink:
      a = n.attr_f("lambd", a);
      b = n.attr_f("bias", b);
      break;
    default: break;
  }
}

std::vector<TypeShape> unary_infer(const Node& n, const std::vector<TypeShape>& in) {
  if (in.empty() || !in[0].present()) node_error(n, "missing input");
  EltOp k = eltwise_kind(n.op);
  DType t = in[0].dtype;
  if (!is_float_dtype(t) && !(int_ok(k) && is_int_dtype(t)))
    node_error(n, std::string("unsupported input dtype ") + dtype_name(t));
  TypeShape o;
  o.dtype = t;
  o.shape = in[0].shape;
  return {o};
}

template <class T>
T int_apply(EltOp k, T x, T lo, T hi) {
  switch (k) {
    case EltOp::Relu: return x > T(0) ? x : T(0);
    case EltOp::Abs: return x < T(0) ? T(-x) : x;
    case EltOp::Neg: return T(-x);
    case EltOp::Sign: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case EltOp::Clip: return x < lo ? lo : (x > hi ? hi : x);
    default: return x;
  }
}

// Clip bounds from opset<11 attributes or opset>=11 optional inputs.
void clip_bounds(const Node& n, const std::vector<Tensor>& in, double& lo, double& hi, bool& has_lo, bool& has_hi) {
  has_lo = has_hi = false;
  if (n.has("min")) { lo = n.attr_f("min", 0); has_lo = true; }
  if (n.has("max")) { hi = n.attr_f("max", 0); has_hi = true; }
  if (in.size() > 1 && in[1].defined()) {
    if (in[1].numel() != 1) node_error(n, "min must be a scalar");
    lo = in[1].get_f64(0);
    has_lo = true;
  }
  if (in.size() > 2 && in[2].defined()) {
    if (in[2].numel() != 1) node_error(n, "max must be a scalar");
    hi = in[2].get_f64(0);
    has_hi = true;
  }
}

void unary_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  EltOp k = eltwise_kind(n.op);
  const Tensor& x = in.at(0);
  float a, b;
  attrs_for(n, k, a, b);
  double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
  bool has_lo = false, has_hi = false;
  if (k == EltOp::Clip) {
    clip_bounds(n, in, lo, hi, has_lo, has_hi);
  }
  if (x.dtype == DType::F16 || x.dtype == DType::BF16) {
    if (x.dtype == DType::BF16) node_error(n, "bfloat16 is not supported");
    Tensor xf = x.cast(DType::F32);
    Tensor& y = ref_output(out, 0, x.dtype, x.shape);
    uint16_t* yp = y.data<uint16_t>();
    const float* xp = xf.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i)
      yp[i] = float_to_half(float(eltwise_apply(k, xp[i], k == EltOp::Clip ? lo : a, k == EltOp::Clip ? hi : b)));
    return;
  }
  Tensor& y = ref_output(out, 0, x.dtype, x.shape);
  int64_t cnt = x.numel();
  dispatch_numeric(n, x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    if constexpr (std::is_floating_point_v<T>) {
      double aa = k == EltOp::Clip ? lo : double(a), bb = k == EltOp::Clip ? hi : double(b);
      for (int64_t i = 0; i < cnt; ++i) yp[i] = T(eltwise_apply(k, double(xp[i]), aa, bb));
    } else {
      if (!int_ok(k)) node_error(n, std::string("unsupported input dtype ") + dtype_name(x.dtype));
      T tlo = has_lo ? T(lo) : std::numeric_limits<T>::lowest();
      T thi = has_hi ? T(hi) : std::numeric_limits<T>::max();
      for (int64_t i = 0; i < cnt; ++i) yp[i] = int_apply<T>(k, xp[i], tlo, thi);
    }
  });
}

std::vector<TypeShape> clip_infer(const Node& n, const std::vector<TypeShape>& in) {
  if (in.empty() || !in[0].present()) node_error(n, "missing input");
  for (size_t i = 1; i < in.size() && i < 3; ++i)
    if (in[i].present()) {
      if (in[i].dtype != in[0].dtype)
        node_error(n, std::string(i == 1 ? "min" : "max") + " dtype " + dtype_name(in[i].dtype) +
                          " differs from input dtype " + dtype_name(in[0].dtype));
      if (shape_numel(in[i].shape) != 1 && shape_numel(in[i].shape) >= 0)
        node_error(n, std::string(i == 1 ? "min" : "max") + " must be a scalar, got " + shape_str(in[i].shape));
    }
  return unary_infer(n, in);
}

std::vector<TypeShape> prelu_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 2, 2);
  if (!is_float_dtype(in[0].dtype) && !is_int_dtype(in[0].dtype))
    node_error(n, std::string("unsupported input dtype ") + dtype_name(in[0].dtype));
  if (in[1].dtype != in[0].dtype) node_error(n, "slope dtype differs from input dtype");
  if (!broadcastable_to(in[1].shape, in[0].shape))
    node_error(n, "slope shape " + shape_str(in[1].shape) + " is not broadcastable to input " + shape_str(in[0].shape));
  return {TypeShape{in[0].dtype, in[0].shape}};
}

void prelu_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor& x = in.at(0);
  const Tensor& s = in.at(1);
  if (!broadcastable_to(s.shape, x.shape))
    node_error(n, "slope shape " + shape_str(s.shape) + " is not broadcastable to input " + shape_str(x.shape));
  auto idx = broadcast_index(s.shape, x.shape);
  Tensor& y = ref_output(out, 0, x.dtype, x.shape);
  dispatch_numeric(n, x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    const T* sp = s.data<T>();
    T* yp = y.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) yp[i] = xp[i] < T(0) ? T(xp[i] * sp[idx[size_t(i)]]) : xp[i];
  });
}

std::vector<TypeShape> not_infer(const Node& n, const std::vector<TypeShape>& in) {
  if (in.empty() || !in[0].present()) node_error(n, "missing input");
  if (in[0].dtype != DType::Bool) node_error(n, std::string("input must be bool, got ") + dtype_name(in[0].dtype));
  return {TypeShape{DType::Bool, in[0].shape}};
}

void not_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor& x = in.at(0);
  Tensor& y = ref_output(out, 0, DType::Bool, x.shape);
  const uint8_t* xp = x.data<uint8_t>();
  uint8_t* yp = y.data<uint8_t>();
  for (int64_t i = 0; i < x.numel(); ++i) yp[i] = xp[i] ? 0 : 1;
}

std::vector<OpDef> defs() {
  std::vector<OpDef> d;
  struct U { const char* op; int since; };
  const U ops[] = {
      {"Relu", 6}, {"LeakyRelu", 6}, {"Elu", 6}, {"Selu", 6}, {"Celu", 12}, {"Sigmoid", 6},
      {"HardSigmoid", 6}, {"HardSwish", 14}, {"Tanh", 6}, {"Softplus", 1}, {"Softsign", 1},
      {"Exp", 6}, {"Log", 6}, {"Sqrt", 6}, {"Abs", 6}, {"Neg", 6}, {"Reciprocal", 6},
      {"Floor", 6}, {"Ceil", 6}, {"Round", 11}, {"Sign", 9}, {"Erf", 9}, {"Sin", 7}, {"Cos", 7},
      {"Tan", 7}, {"Asin", 7}, {"Acos", 7}, {"Atan", 7}, {"Sinh", 9}, {"Cosh", 9},
      {"Asinh", 9}, {"Acosh", 9}, {"Atanh", 9}, {"ThresholdedRelu", 10}, {"Shrink", 9}, {"Mish", 18},
  };
  for (const U& u : ops) d.push_back(OpDef{u.op, "", u.since, unary_infer, unary_ref});
  d.push_back(OpDef{"Clip", "", 6, clip_infer, unary_ref});
  d.push_back(OpDef{"PRelu", "", 7, prelu_infer, prelu_ref});
  d.push_back(OpDef{"Not", "", 1, not_infer, not_ref});
  return d;
}

C8_REGISTER_OPS(defs());

}  // namespace
}  // namespace c8
