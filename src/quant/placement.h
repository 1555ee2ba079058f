#pragma once
// Where quantizers go: a graph pattern search in the style of NNCF
// (nncf/common/quantization/quantizer_propagation/solver.py and the hardware
// fusing patterns of nncf/common/graph/patterns): patterns mark the inputs
// that an INT8 kernel needs quantized, then quantizers are propagated upwards
// through quantization-agnostic ops and merged into scale-unification groups.
//
//  1. Seed patterns (non-ignored nodes):
//       Conv / Gemm / MatMul with a constant weight
//                              -> activation input(s) quantized, weight
//                                 quantized per output channel (Conv axis 0,
//                                 Gemm axis 0 if transB else 1, MatMul axis 1)
//       MatMul, both inputs variable -> both inputs quantized (per tensor)
//       Add with two variable inputs of one shape (residual)
//                              -> both inputs quantized, so the runtime can
//                                 add in INT8 (DQ, DQ -> Add -> [Relu] -> Q)
//     Activations following a linear op (Conv -> Relu/Clip/...) form one
//     fused pattern: no quantizer is ever placed between them, because only
//     op inputs are seeded.
//  2. Propagation: a quantized value produced by a quantization-agnostic op
//     (MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, Reshape,
//     Flatten, Transpose, Squeeze, Unsqueeze, Identity, DepthToSpace,
//     SpaceToDepth) also quantizes the op's data input, in the same group
//     (one scale: DQ -> MaxPool -> Q with identical parameters, so the op
//     runs on INT8 data), recursively. Concat quantizes all its variable
//     inputs and its output in one group (one scale for all inputs).
//  3. Every other op stays FP32; where it reads a quantized value it reads the
//     DequantizeLinear output (Q/DQ at the boundary). Ignored nodes (--ignore
//     by node name or op type) request nothing, propagate nothing and always
//     read the original FP32 values.
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace c8 {

struct PlacementOptions {
  std::vector<std::string> ignore;  // node names or op types kept in FP32
};

struct ActQuantizer {
  int value = -1;              // value id in the graph
  int group = -1;              // scale-unification group (index into QuantPlacement::groups)
  std::vector<int> consumers;  // node ids that read the dequantized value
  bool nonneg_hint = false;    // produced by a ReLU-like op (Relu, Clip(min>=0), Sigmoid, ...)
  std::string reason;          // which pattern requested it
};

struct WeightQuantizer {
  int node = -1;   // the Conv / Gemm / MatMul
  int input = 1;   // input index of the constant weight
  int axis = 0;    // output-channel axis of the weight tensor
};

struct QuantPlacement {
  std::vector<ActQuantizer> acts;
  std::vector<WeightQuantizer> weights;
  std::vector<std::vector<int>> groups;  // indices into acts; one scale per group
  std::vector<int> layers;               // quantized Conv/Gemm/MatMul node ids (topological order)
  std::vector<int> fp32_nodes;           // live nodes left in FP32 (not INT8-capable or ignored)
  int act_index(int value) const;        // -1 if the value is not quantized
};

QuantPlacement place_quantizers(const Graph& g, const PlacementOptions& o = {});

// The placement without the scale groups in `drop` (decided after the
// statistics, e.g. a Concat joining very different ranges): their quantizers
// go, their consumers read FP32 values, a Conv / Gemm / MatMul that loses its
// quantized input keeps FP32 weights too and joins fp32_nodes (so does the
// Concat / agnostic op that produced a dropped group). kept[i] = the index in
// P.acts of the result's act i; demoted = the layers that became FP32.
QuantPlacement without_groups(const Graph& g, const QuantPlacement& P, const std::set<int>& drop, std::vector<int>& kept,
                              std::vector<int>& demoted);

// True if node `n` is ignored by `o` (name or op type match).
bool is_ignored(const Node& n, const PlacementOptions& o);
// True if value v is produced by a ReLU-like op (output provably >= 0).
bool produced_nonneg(const Graph& g, int v);

}  // namespace c8
