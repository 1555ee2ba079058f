#include "ops/ref/post_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "base/error.h"
#include "ops/ref/broadcast.h"
#include "ops/op_registry.h"

namespace c8 {

EltOp eltwise_kind(const std::string& op) {
  static const std::map<std::string, EltOp> m = {
      {"Identity", EltOp::Identity}, {"Relu", EltOp::Relu}, {"LeakyRelu", EltOp::LeakyRelu},
      {"Elu", EltOp::Elu}, {"Selu", EltOp::Selu}, {"Celu", EltOp::Celu},
      {"Sigmoid", EltOp::Sigmoid}, {"HardSigmoid", EltOp::HardSigmoid},
      {"HardSwish", EltOp::HardSwish}, {"SiLU", EltOp::SiLU}, {"Swish", EltOp::SiLU},
      {"Tanh", EltOp::Tanh}, {"Softplus", EltOp::Softplus}, {"Softsign", EltOp::Softsign},
      {"Clip", EltOp::Clip}, {"Exp", EltOp::Exp}, {"Log", EltOp::Log}, {"Sqrt", EltOp::Sqrt},
      {"Abs", EltOp::Abs}, {"Neg", EltOp::Neg}, {"Reciprocal", EltOp::Reciprocal},
      {"Floor", EltOp::Floor}, {"Ceil", EltOp::Ceil}, {"Round", EltOp::Round},
      {"Sign", EltOp::Sign}, {"Erf", EltOp::Erf}, {"Sin", EltOp::Sin}, {"Cos", EltOp::Cos},
      {"Tan", EltOp::Tan}, {"Asin", EltOp::Asin}, {"Acos", EltOp::Acos}, {"Atan", EltOp::Atan},
      {"Sinh", EltOp::Sinh}, {"Cosh", EltOp::Cosh}, {"Asinh", EltOp::Asinh},
      {"Acosh", EltOp::Acosh}, {"Atanh", EltOp::Atanh}, {"ThresholdedRelu", EltOp::ThresholdedRelu},
      {"Shrink", EltOp::Shrink}, {"Mish", EltOp::Mish},
  };
  auto it = m.find(op);
  return it == m.end() ? EltOp::Invalid : it->second;
}

void eltwise_defaults(EltOp k, float& alpha, float& beta) {
  alpha = 0.f;
  beta = 0.f;
  switch (k) {
    case EltOp::LeakyRelu: alpha = 0.01f; break;
    case EltOp::Elu: case EltOp::Celu: case EltOp::ThresholdedRelu: alpha = 1.f; break;
    case EltOp::Selu: alpha = 1.67326319217681884765625f; beta = 1.05070102214813232421875f; break;
    case EltOp::HardSigmoid: alpha = 0.2f; beta = 0.5f; break;
    case EltOp::Clip:
      alpha = -std::numeric_limits<float>::infinity();
      beta = std::numeric_limits<float>::infinity();
      break;
    case EltOp::Shrink: alpha = 0.5f; beta = 0.f; break;
    default: break;
  }
}

static double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
static double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  double e = std::exp(x);
  return e / (1.0 + e);
}

double eltwise_apply(EltOp k, double x, double a, double b) {
  switch (k) {
    case EltOp::Identity: return x;
    case EltOp::Relu: return x > 0 ? x : 0.0;
    case EltOp::LeakyRelu: return x >= 0 ? x : a * x;
    case EltOp::Elu: return x >= 0 ? x : a * (std::exp(x) - 1.0);
    case EltOp::Selu: return x > 0 ? b * x : b * (a * std::exp(x) - a);
    case EltOp::Celu: return std::max(0.0, x) + std::min(0.0, a * (std::exp(x / a) - 1.0));
    case EltOp::Sigmoid: return sigmoid(x);
    case EltOp::HardSigmoid: return std::max(0.0, std::min(1.0, a * x + b));
    case EltOp::HardSwish: return x * std::max(0.0, std::min(1.0, x / 6.0 + 0.5));
    case EltOp::SiLU: return x * sigmoid(x);
    case EltOp::Tanh: return std::tanh(x);
    case EltOp::Softplus: return softplus(x);
    case EltOp::Softsign: return x / (1.0 + std::fabs(x));
    case EltOp::Clip: return x < a ? a : (x > b ? b : x);
    case EltOp::Exp: return std::exp(x);
    case EltOp::Log: return std::log(x);
    case EltOp::Sqrt: return std::sqrt(x);
    case EltOp::Abs: return std::fabs(x);
    case EltOp::Neg: return -x;
    case EltOp::Reciprocal: return 1.0 / x;
    case EltOp::Floor: return std::floor(x);
    case EltOp::Ceil: return std::ceil(x);
    case EltOp::Round: return std::nearbyint(x);  // default rounding mode: half to even
    case EltOp::Sign: return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0);
    case EltOp::Erf: return std::erf(x);
    case EltOp::Sin: return std::sin(x);
    case EltOp::Cos: return std::cos(x);
    case EltOp::Tan: return std::tan(x);
    case EltOp::Asin: return std::asin(x);
    case EltOp::Acos: return std::acos(x);
    case EltOp::Atan: return std::atan(x);
    case EltOp::Sinh: return std::sinh(x);
    case EltOp::Cosh: return std::cosh(x);
    case EltOp::Asinh: return std::asinh(x);
    case EltOp::Acosh: return std::acosh(x);
    case EltOp::Atanh: return std::atanh(x);
    case EltOp::ThresholdedRelu: return x > a ? x : 0.0;
    case EltOp::Shrink: return x < -a ? x + b : (x > a ? x - b : 0.0);
    case EltOp::Mish: return x * std::tanh(softplus(x));
    case EltOp::Invalid: break;
  }
  throw Error("eltwise_apply: invalid op");
}

float eltwise_scalar(const std::string& op, float x, float alpha, float beta) {
  EltOp k = eltwise_kind(op);
  if (k == EltOp::Invalid) throw Error("unsupported element-wise op '" + op + "'");
  return float(eltwise_apply(k, x, alpha, beta));
}

template <class T>
static void apply_one(const Node& n, const PostOp& p, const std::vector<Tensor>& in, Tensor& out) {
  T* y = out.data<T>();
  int64_t cnt = out.numel();
  if (p.kind == PostOp::Sum) {
    if (p.input_index < 0 || size_t(p.input_index) >= in.size() || !in[size_t(p.input_index)].defined())
      node_error(n, "Sum post-op refers to missing input " + std::to_string(p.input_index));
    const Tensor& s = in[size_t(p.input_index)];
    if (s.shape == out.shape) {
      for (int64_t i = 0; i < cnt; ++i) y[i] = T(double(y[i]) + s.get_f64(i));
    } else {
      if (!broadcastable_to(s.shape, out.shape))
        node_error(n, "Sum post-op input shape " + shape_str(s.shape) + " does not match output " +
                          shape_str(out.shape));
      auto idx = broadcast_index(s.shape, out.shape);
      for (int64_t i = 0; i < cnt; ++i) y[i] = T(double(y[i]) + s.get_f64(idx[size_t(i)]));
    }
    return;
  }
  EltOp k = eltwise_kind(p.op);
  if (k == EltOp::Invalid) node_error(n, "unsupported post-op '" + p.op + "'");
  double a = p.alpha, b = p.beta;
  for (int64_t i = 0; i < cnt; ++i) y[i] = T(eltwise_apply(k, double(y[i]), a, b));
}

void apply_post_ops(const Node& n, const std::vector<Tensor>& in, Tensor& out) {
  if (n.post_ops.empty()) return;
  for (const PostOp& p : n.post_ops) {
    if (out.dtype == DType::F32) apply_one<float>(n, p, in, out);
    else if (out.dtype == DType::F64) apply_one<double>(n, p, in, out);
    else node_error(n, std::string("post-ops need a float output, got ") + dtype_name(out.dtype));
  }
}

size_t max_inputs_with_post_ops(const Node& n, size_t base_max) {
  size_t m = base_max;
  for (const PostOp& p : n.post_ops)
    if (p.kind == PostOp::Sum && p.input_index >= 0) m = std::max(m, size_t(p.input_index) + 1);
  return m;
}

void check_post_ops(const Node& n, const std::vector<TypeShape>& in, const TypeShape& out) {
  for (const PostOp& p : n.post_ops) {
    if (p.kind == PostOp::Sum) {
      if (p.input_index < 0 || size_t(p.input_index) >= in.size() || !in[size_t(p.input_index)].present())
        node_error(n, "Sum post-op refers to missing input " + std::to_string(p.input_index));
      const TypeShape& s = in[size_t(p.input_index)];
      if (!broadcastable_to(s.shape, out.shape))
        node_error(n, "Sum post-op input shape " + shape_str(s.shape) + " does not match output " + shape_str(out.shape));
    } else if (eltwise_kind(p.op) == EltOp::Invalid) {
      node_error(n, "unsupported post-op '" + p.op + "'");
    }
  }
  if (!n.post_ops.empty() && out.dtype != DType::F32 && out.dtype != DType::F64 && out.dtype != DType::F16)
    node_error(n, std::string("post-ops need a float output, got ") + dtype_name(out.dtype));
}

}  // namespace c8
