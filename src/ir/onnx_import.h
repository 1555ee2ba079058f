#pragma once
// ONNX -> calibr8 IR import.
//
// Every failure throws c8::Error with one line that starts with the file (or
// display name) and names the node / tensor at fault. Non-fatal findings (ONNX
// checker complaints, renamed duplicate node names, ...) are stored one per
// line in g.metadata["c8.warnings"].
#include <cstddef>
#include <string>

#include "ir/graph.h"
#include "ir/tensor.h"

namespace onnx {
class TensorProto;
}

namespace c8 {

// Loads a .onnx file. External data is resolved relative to the file's folder.
Graph load_onnx(const std::string& path);

// Loads a serialized ModelProto held in memory. `display_name` prefixes error
// messages; `base_dir` is the folder external data is resolved against (empty:
// external data is refused).
Graph load_onnx_bytes(const void* data, size_t size, const std::string& display_name,
                      const std::string& base_dir);

// Converts one TensorProto (every numeric data type, raw or typed fields, or
// external data under base_dir). Throws c8::Error "tensor '<name>': ..." (no
// file prefix: callers add it).
Tensor tensor_from_proto(const onnx::TensorProto& tp, const std::string& base_dir);

// Loads a file holding one serialized TensorProto (ONNX test data input_0.pb).
Tensor load_tensor_pb(const std::string& path);

// The warnings recorded by the importer (empty when none).
std::string import_warnings(const Graph& g);

}  // namespace c8
