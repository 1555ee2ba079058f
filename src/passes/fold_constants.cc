// Nodes whose inputs are all constant are evaluated once with their
// reference kernel (ONNX Runtime's constant folding does the same).
#include "passes/passes.h"
#include "ops/op_registry.h"

namespace c8 {

int fold_constants(Graph& g) {
  int n = 0;
  for (int ni : g.topo_order()) {
    Node& node = g.nodes[size_t(ni)];
    if (node.op.rfind("Random", 0) == 0 || node.op == "Multinomial" || node.op == "Bernoulli") continue;
    if (!node.post_ops.empty()) continue;
    bool all_const = true;
    for (int v : node.inputs) all_const &= v < 0 || g.is_const(v);
    if (!all_const) continue;
    // DequantizeLinear of weights stays: quantized models keep INT8 weights.
    if (node.op == "DequantizeLinear" || node.op == "QuantizeLinear") continue;
    const OpDef* def = find_op(node.op, node.domain);
    if (!def || !def->ref) continue;
    std::vector<Tensor> in;
    for (int v : node.inputs) in.push_back(v >= 0 ? g.const_of(v) : Tensor());
    std::vector<Tensor> out(node.outputs.size());
    try {
      def->ref(node, in, out);
    } catch (const std::exception&) {
      continue;  // leave it to run time, where the error names the node
    }
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      int v = node.outputs[k];
      if (v < 0) continue;
      Value& val = g.values[size_t(v)];
      val.constant = out[k];
      val.dtype = out[k].dtype;
      val.shape = out[k].shape;
      val.has_shape = true;
      val.producer = -1;
    }
    node.dead = true;
    ++n;
  }
  if (n) g.compact();
  return n;
}

}  // namespace c8
