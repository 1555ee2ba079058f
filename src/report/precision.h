#pragma once
// Precision of the compute layers (Conv, ConvTranspose, Gemm, MatMul and their
// quantized forms) of a model: what the graph says (static_precision: a Conv
// fed by DequantizeLinear of a uint8 tensor is a U8 layer, weights from
// DequantizeLinear of an int8 constant are I8, per-channel when the scale has
// more than one element) and what actually ran (kernel_precision: the impl
// string of the kernel the fast runtime chose, e.g. "...u8s8..." -> U8).
#include <string>
#include <vector>

#include "ir/graph.h"
#include "runtime/session.h"

namespace c8 {

// Conv, ConvTranspose, Gemm, MatMul, QLinearConv, QLinearMatMul, ConvInteger,
// MatMulInteger, and ops of the "calibr8" domain whose name starts with 'Q'
// (fused INT8 kernels such as QConv, QGemm).
bool is_layer_op(const Node& n);

struct LayerPrecision {
  std::string input = "FP32";    // activation input: "U8", "I8" or "FP32"
  std::string weights = "FP32";  // "I8", "U8" or "FP32" ("-" when the second operand is not constant)
  std::string weight_quant;      // "per-channel", "per-tensor" or "" (not quantized)
  int weight_axis = -1;          // per-channel axis
};

// The dtype of the quantized tensor a DequantizeLinear node reads: its zero
// point's dtype, else the dtype of its input value, else (input produced by
// QuantizeLinear) that node's zero point dtype or uint8. Undefined if unknown.
DType dq_input_dtype(const Graph& g, const Node& dq);

// Short name for a quantized dtype: U8 -> "U8", I8 -> "I8", otherwise "FP32".
std::string precision_name(DType t);

// From the graph structure alone (works for FP32, QDQ and QOperator models).
LayerPrecision static_precision(const Graph& g, const Node& n);

// From the impl string of the kernel that ran: "U8" / "I8" when it computes in
// 8-bit integer arithmetic ("... u8s8->u8", "... s8s8->f32"), "" when it
// computes in floating point (including "f32(u8->u8: reason)" fallbacks of the
// INT8 kernels: parenthesised text is ignored). `in_dtype` is the dtype of the
// node's first input in the planned graph (used when the impl only says "int8").
std::string kernel_precision(const std::string& impl, DType in_dtype);

// What ran for one layer of `g` (the graph given to the session) in the
// session's last plan: the kernel record of the planned node that carries the
// layer's name, or produces its output, or (fused INT8 kernels) produces the
// QuantizeLinear / DequantizeLinear of its output. found=false if none.
struct RanAs {
  bool found = false;
  std::string node, op, impl;
  DType in_dtype = DType::Undefined, out_dtype = DType::Undefined;
};
RanAs find_kernel_for_layer(const Graph& g, int node_id, const Session& s);

}  // namespace c8
