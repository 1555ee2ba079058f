#pragma once
// calibr8 IR -> ONNX export. Failures throw c8::Error with one line naming the
// file / node at fault.
#include <string>

#include "ir/graph.h"
#include "ir/tensor.h"

namespace onnx {
class ModelProto;
class TensorProto;
}  // namespace onnx

namespace c8 {

// Builds the ModelProto: opset imports, ir_version (8 for opset <= 17, newer
// as the opset requires), typed inputs/outputs, initializers for constants read
// by live nodes or returned as outputs (raw_data, dtype kept), value_info for
// intermediates of known dtype, live nodes in topological order. Throws for
// nodes with fused post-ops and subgraph attributes (not representable).
void graph_to_proto(const Graph& g, onnx::ModelProto& model);

// Serialises a tensor as raw_data with the given name.
void tensor_to_proto(const Tensor& t, const std::string& name, onnx::TensorProto& tp);

// The serialized model (what save_onnx writes).
std::string onnx_bytes(const Graph& g);

// Writes the model atomically: temp file in the same folder, fsync, rename.
// Never leaves a partial file at `path`; on failure the temp file is removed.
void save_onnx(const Graph& g, const std::string& path);

}  // namespace c8
