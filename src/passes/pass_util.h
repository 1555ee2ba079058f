#pragma once
#include <vector>

#include "ir/graph.h"

namespace c8 {

// True if value v is read by exactly one live node and is not a graph output.
inline bool single_use(const Graph& g, const std::vector<std::vector<int>>& cons, int v) {
  if (v < 0 || cons[size_t(v)].size() != 1) return false;
  for (int o : g.outputs)
    if (o == v) return false;
  int reader = cons[size_t(v)][0];
  int uses = 0;
  for (int x : g.nodes[size_t(reader)].inputs) uses += x == v;
  return uses == 1;
}

inline bool is_graph_output(const Graph& g, int v) {
  for (int o : g.outputs)
    if (o == v) return true;
  return false;
}

// An activation node as an eltwise post-op (Relu, Clip with constant bounds,
// LeakyRelu, Sigmoid, HardSwish, ...); false when it cannot be one.
bool activation_as_post_op(const Graph& g, const Node& act, PostOp& p);

}  // namespace c8
