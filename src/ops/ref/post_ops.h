#pragma once
// Fused post-ops (Node::post_ops) and the scalar element-wise functions shared
// by the unary activation kernels, so a fused Relu and a standalone Relu are
// the same code.
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ops/op_registry.h"

namespace c8 {

enum class EltOp {
  Invalid, Identity, Relu, LeakyRelu, Elu, Selu, Celu, Sigmoid, HardSigmoid, HardSwish, SiLU,
  Tanh, Softplus, Softsign, Clip, Exp, Log, Sqrt, Abs, Neg, Reciprocal, Floor, Ceil, Round,
  Sign, Erf, Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh, ThresholdedRelu,
  Shrink, Mish,
};

// Maps an ONNX op name (or "SiLU"/"Swish") to EltOp::Invalid if unknown.
EltOp eltwise_kind(const std::string& op);
// Default (alpha, beta) of an op when its attributes are absent, e.g. LeakyRelu 0.01,
// HardSigmoid 0.2/0.5, Selu alpha/gamma, Clip -inf/+inf.
void eltwise_defaults(EltOp k, float& alpha, float& beta);
// y = op(x). Meaning of alpha/beta: LeakyRelu/Elu/Celu/ThresholdedRelu alpha;
// Selu alpha, gamma=beta; HardSigmoid alpha, beta; Clip min=alpha, max=beta;
// Shrink lambd=alpha, bias=beta.
double eltwise_apply(EltOp k, double x, double alpha, double beta);
// String form (throws c8::Error for unknown ops).
float eltwise_scalar(const std::string& op, float x, float alpha, float beta);

// Applies n.post_ops in order to the node's main output `out` (float32/64).
// Eltwise post-ops use PostOp::op/alpha/beta as above; Sum adds
// in[input_index] (same shape as out, or broadcastable to it).
void apply_post_ops(const Node& n, const std::vector<Tensor>& in, Tensor& out);

// Number of node inputs an op with `base_max` inputs of its own may have once
// Sum post-ops reference extra inputs (max(base_max, 1 + largest input_index)).
size_t max_inputs_with_post_ops(const Node& n, size_t base_max);
// Shape inference for post-ops: checks op names and that Sum inputs are
// present and broadcastable to the output. Throws node_error.
void check_post_ops(const Node& n, const std::vector<TypeShape>& in, const TypeShape& out);

}  // namespace c8
