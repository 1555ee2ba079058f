#pragma once
// Strict validity of models calibr8 writes, and opset upgrades through ONNX's
// own version converter. Every model is checked before it is written: a file
// that ONNX Runtime would refuse is never left behind.
#include <string>

#include "ir/graph.h"

namespace onnx {
class GraphProto;
class ModelProto;
}

namespace c8 {

// ONNX's shape inference divides by strides (and does size arithmetic with
// kernel sizes, dilations and pads) without checking them: a zero stride was
// a SIGFPE in every command. Must run before any shape inference. Throws
// c8::Error "node 'X' (Conv): attribute strides has 0; ..." (main graph and
// subgraphs, ai.onnx nodes).
void check_window_attributes(const onnx::GraphProto& gp);

// Wraps ONNX's shape inference of the conv and pooling ops (once per
// process) with rank checks its own code lacks: X of rank < 3, W's rank
// differing from X's, or window attributes of the wrong length become a
// shape-inference error instead of a read past the end. Call before InferShapes.
void guard_onnx_shape_inference();

// Checks a model before it is written: strict shape inference (node errors
// thrown, inferred vs declared types checked) on a copy without the weights'
// bytes, then the ONNX checker. Fills the graph input / output shapes calibr8
// did not know from the inference (the checker requires them). Throws
// c8::Error "<who>: not valid ONNX, not written: ..." on the first finding.
// Returns false without checking when the model's opset is newer than this
// ONNX release knows (its checker would reject valid new ops).
bool validate_for_writing(onnx::ModelProto& model, const std::string& who);

// The graph converted to ai.onnx opset `target` (>= its own) by ONNX's
// version converter (axes/split attributes to inputs, Softmax's 2-D coercion
// made explicit, ...), then re-imported. Throws c8::Error naming `who` when
// the converter cannot convert it. Returns the graph unchanged when its opset
// is already >= target.
Graph upgrade_opset(const Graph& g, int64_t target, const std::string& who);

}  // namespace c8
