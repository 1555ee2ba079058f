#pragma once
// Runs a graph node by node with the reference kernels on plain tensors.
// Shapes are discovered while running, so data-dependent shapes work. It is
// the oracle the fast runtime is tested against, and it runs ONNX's
// conformance cases.
#include <functional>
#include <vector>

#include "ir/graph.h"
#include "ops/op_registry.h"

namespace c8 {

class RefExecutor {
 public:
  explicit RefExecutor(const Graph& g);
  // One tensor per graph input (in Graph::inputs order); returns one tensor per
  // graph output. Throws c8::Error naming the node on failure or an
  // unsupported op.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);
  // Called after each node for each output value it produced.
  std::function<void(int value_id, const Tensor&)> observer;

 private:
  const Graph& g_;
  std::vector<int> order_;
};

// Names and types of nodes with no reference kernel ("name (Op)"), in order.
std::vector<std::string> unsupported_nodes(const Graph& g);

}  // namespace c8
