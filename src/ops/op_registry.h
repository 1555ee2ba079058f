#pragma once
// Per-op definitions shared by every executor:
//  - infer: output dtypes and shapes from input dtypes/shapes (and constant
//    input values where the ONNX op needs them, e.g. Reshape's shape).
//  - ref:   the naive reference kernel on plain row-major tensors. It is the
//           oracle for the fast kernels, the constant folder, and the
//           fallback for ops without a fast kernel.
// Each op family registers its ops from one file in ops/ref/
// (C8_REGISTER_OPS below).
#include <functional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "base/error.h"

namespace c8 {

// What shape inference knows about one input / output.
struct TypeShape {
  DType dtype = DType::Undefined;  // Undefined = omitted optional input
  Shape shape;                     // dims may be -1 (unknown) only if an input's were
  const Tensor* value = nullptr;   // set when the input is a known constant
  bool present() const { return dtype != DType::Undefined; }
};

// Returns one TypeShape per node output. Throws c8::Error with a message
// naming the node when the inputs are invalid for the op.
using InferFn = std::function<std::vector<TypeShape>(const Node&, const std::vector<TypeShape>& in)>;

// Computes the outputs. `in[k]` is undefined (dtype Undefined) for an omitted
// optional input. `out` has one entry per node output; an entry may arrive
// pre-allocated with the inferred dtype/shape (the fast executor hands its
// buffers in) -- then the kernel must write into it -- or undefined, in which
// case the kernel allocates it. Use ref_output() for that.
using RefFn = std::function<void(const Node&, const std::vector<Tensor>& in, std::vector<Tensor>& out)>;

struct OpDef {
  std::string op;
  std::string domain;  // "" = ai.onnx
  int since_opset = 1; // informative
  InferFn infer;
  RefFn ref;
};

void register_op(OpDef def);
const OpDef* find_op(const std::string& op, const std::string& domain = "");
std::vector<std::string> registered_ops();

// Out tensor k with the given dtype/shape: reuses the pre-allocated one when
// it matches, allocates otherwise.
Tensor& ref_output(std::vector<Tensor>& out, size_t k, DType dt, const Shape& shape);

// What shape inference knows about tensors that are all present (a reference
// kernel computing its output shape by calling its own infer function).
std::vector<TypeShape> type_shapes_of(const std::vector<Tensor>& in);

// Helpers for error messages and attribute checks.
std::string node_label(const Node& n);  // "node 'conv1' (Conv)"
[[noreturn]] void node_error(const Node& n, const std::string& what);

struct OpRegistrar {
  explicit OpRegistrar(std::vector<OpDef> defs) {
    for (auto& d : defs) register_op(std::move(d));
  }
};

// Linker note: kernel files are compiled into an OBJECT library, so these
// static registrars are always linked in.
#define C8_CONCAT2(a, b) a##b
#define C8_CONCAT(a, b) C8_CONCAT2(a, b)
#define C8_REGISTER_OPS(...) static ::c8::OpRegistrar C8_CONCAT(c8_ops_, __LINE__)(__VA_ARGS__)

}  // namespace c8
