#include "runtime/ref_executor.h"

namespace c8 {

RefExecutor::RefExecutor(const Graph& g) : g_(g), order_(g.topo_order()) {}

std::vector<std::string> unsupported_nodes(const Graph& g) {
  std::vector<std::string> r;
  for (const Node& n : g.nodes)
    if (!n.dead && !find_op(n.op, n.domain)) r.push_back("'" + n.name + "' (" + (n.domain.empty() ? "" : n.domain + ".") + n.op + ")");
  return r;
}

std::vector<Tensor> RefExecutor::run(const std::vector<Tensor>& inputs) {
  if (inputs.size() != g_.inputs.size())
    throw Error("expected " + std::to_string(g_.inputs.size()) + " inputs, got " + std::to_string(inputs.size()));
  std::vector<Tensor> vals(g_.values.size());
  for (size_t v = 0; v < g_.values.size(); ++v)
    if (g_.values[v].constant) vals[v] = *g_.values[v].constant;
  for (size_t i = 0; i < inputs.size(); ++i) vals[size_t(g_.inputs[i])] = inputs[i];
  // Free each value after its last reader so memory stays bounded.
  std::vector<int> last_use(g_.values.size(), -1);
  for (size_t k = 0; k < order_.size(); ++k)
    for (int v : g_.nodes[size_t(order_[k])].inputs)
      if (v >= 0) last_use[size_t(v)] = int(k);
  for (int v : g_.outputs) last_use[size_t(v)] = int(order_.size());
  for (size_t k = 0; k < order_.size(); ++k) {
    const Node& n = g_.nodes[size_t(order_[k])];
    const OpDef* def = find_op(n.op, n.domain);
    if (!def || !def->ref) throw Error(node_label(n) + ": unsupported operator");
    std::vector<Tensor> in;
    in.reserve(n.inputs.size());
    for (int v : n.inputs) in.push_back(v >= 0 ? vals[size_t(v)] : Tensor());
    std::vector<Tensor> out(n.outputs.size());
    try {
      def->ref(n, in, out);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(node_label(n) + ": " + e.what());
    }
    for (size_t o = 0; o < n.outputs.size(); ++o) {
      int v = n.outputs[o];
      if (v < 0) continue;
      if (o < out.size()) vals[size_t(v)] = std::move(out[o]);
      if (observer) observer(v, vals[size_t(v)]);
    }
    for (int v : n.inputs)
      if (v >= 0 && last_use[size_t(v)] == int(k) && !g_.values[size_t(v)].constant) vals[size_t(v)] = Tensor();
  }
  std::vector<Tensor> res;
  for (int v : g_.outputs) res.push_back(vals[size_t(v)]);
  return res;
}

}  // namespace c8
