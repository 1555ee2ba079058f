#include "quant/placement.h"

#include <algorithm>
#include <functional>
#include <map>
#include <numeric>

namespace c8 {

namespace {

const std::set<std::string>& agnostic_ops() {
  static const std::set<std::string> s{"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Reshape",
                                       "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity", "DepthToSpace",
                                       "SpaceToDepth"};
  return s;
}

// A seed pattern: which inputs of a matched node need INT8 data.
struct Seed {
  std::vector<int> act_inputs;
  int weight_input = -1, weight_axis = 0;
  std::string name;
};

// Same shape, every dimension known except possibly the batch (dim 0 of a
// dynamic-batch model, where both are "?"): an element-wise Add without
// broadcasting, i.e. a residual connection.
bool same_known_shape(const Value& a, const Value& b) {
  if (!a.has_shape || !b.has_shape || a.shape != b.shape) return false;
  for (size_t i = 1; i < a.shape.size(); ++i)
    if (a.shape[i] < 0) return false;
  return true;
}

// Seed pattern table (the "hardware config": ops with INT8 kernels).
bool match_seed(const Graph& g, const Node& n, Seed& s) {
  if (!n.domain.empty()) return false;
  auto var = [&](int k) { return n.input(size_t(k)) >= 0 && !g.is_const(n.input(size_t(k))); };
  auto cst = [&](int k) { return n.input(size_t(k)) >= 0 && g.is_const(n.input(size_t(k))); };
  if (n.op == "Conv") {
    if (!var(0) || !cst(1)) return false;
    s = {{0}, 1, 0, "Conv"};
    return true;
  }
  if (n.op == "Gemm") {
    if (!var(0) || !cst(1) || g.const_of(n.input(1)).rank() != 2) return false;
    s = {{0}, 1, n.attr_i("transB", 0) ? 0 : 1, "Gemm"};
    return true;
  }
  if (n.op == "MatMul") {
    if (var(0) && cst(1) && g.const_of(n.input(1)).rank() == 2) {
      s = {{0}, 1, 1, "MatMul"};
      return true;
    }
    if (var(0) && var(1)) {
      s = {{0, 1}, -1, 0, "MatMul (activations)"};
      return true;
    }
    return false;
  }
  if (n.op == "Add") {
    if (n.inputs.size() != 2 || !var(0) || !var(1)) return false;
    if (!same_known_shape(g.values[size_t(n.inputs[0])], g.values[size_t(n.inputs[1])])) return false;
    s = {{0, 1}, -1, 0, "residual Add"};
    return true;
  }
  return false;
}

}  // namespace

bool is_ignored(const Node& n, const PlacementOptions& o) {
  for (const auto& s : o.ignore)
    if (s == n.name || s == n.op) return true;
  return false;
}

bool produced_nonneg(const Graph& g, int v) {
  if (v < 0) return false;
  int p = g.values[size_t(v)].producer;
  if (p < 0) return false;
  const Node& n = g.nodes[size_t(p)];
  if (n.op == "Relu" || n.op == "Sigmoid" || n.op == "Softmax" || n.op == "Softplus") return true;
  if (n.op == "Clip") {
    if (n.input(1) >= 0 && g.is_const(n.input(1))) return g.const_of(n.input(1)).get_f64(0) >= 0;
    if (n.has("min")) return n.attr_f("min", -1) >= 0;
    return false;
  }
  if (agnostic_ops().count(n.op) && n.op != "Identity") return produced_nonneg(g, n.input(0));
  return false;
}

int QuantPlacement::act_index(int value) const {
  for (size_t i = 0; i < acts.size(); ++i)
    if (acts[i].value == value) return int(i);
  return -1;
}

QuantPlacement place_quantizers(const Graph& g, const PlacementOptions& o) {
  QuantPlacement P;
  const auto cons = g.consumers();
  const std::vector<int> order = g.topo_order();
  std::map<int, int> act_of;  // value -> act index
  std::vector<int> parent;    // union-find over act indices

  std::function<int(int)> find = [&](int a) { return parent[size_t(a)] == a ? a : parent[size_t(a)] = find(parent[size_t(a)]); };
  auto unite = [&](int a, int b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[size_t(std::max(a, b))] = std::min(a, b);
  };
  std::vector<int> work;
  auto request = [&](int v, const std::string& why) -> int {
    auto it = act_of.find(v);
    if (it != act_of.end()) return it->second;
    int idx = int(P.acts.size());
    ActQuantizer a;
    a.value = v;
    a.reason = why;
    a.nonneg_hint = produced_nonneg(g, v);
    P.acts.push_back(a);
    parent.push_back(idx);
    act_of[v] = idx;
    work.push_back(idx);
    return idx;
  };

  // 1. Seed patterns.
  std::set<int> int8_nodes;
  for (int ni : order) {
    const Node& n = g.nodes[size_t(ni)];
    if (is_ignored(n, o)) continue;
    Seed s;
    if (!match_seed(g, n, s)) continue;
    int8_nodes.insert(ni);
    for (int k : s.act_inputs) request(n.inputs[size_t(k)], "input of " + s.name + " '" + n.name + "'");
    if (s.weight_input >= 0) {
      P.weights.push_back({ni, s.weight_input, s.weight_axis});
      P.layers.push_back(ni);
    }
  }

  // 2. Propagate upwards through agnostic ops / Concat, unifying scales.
  while (!work.empty()) {
    int a = work.back();
    work.pop_back();
    int v = P.acts[size_t(a)].value;
    int p = g.values[size_t(v)].producer;
    if (p < 0) continue;
    const Node& n = g.nodes[size_t(p)];
    if (n.dead || is_ignored(n, o) || !n.domain.empty()) continue;
    if (agnostic_ops().count(n.op)) {
      int in = n.input(0);
      if (in < 0 || g.is_const(in)) continue;
      int b = request(in, "input of " + n.op + " '" + n.name + "' (kept INT8)");
      unite(a, b);
      int8_nodes.insert(p);
    } else if (n.op == "Concat") {
      for (int in : n.inputs) {
        if (in < 0 || g.is_const(in)) continue;
        int b = request(in, "input of Concat '" + n.name + "' (shared scale)");
        unite(a, b);
      }
      int8_nodes.insert(p);
    }
  }

  // Groups (ordered by their smallest act index) and consumers.
  std::map<int, int> root_group;
  for (size_t i = 0; i < P.acts.size(); ++i) {
    int r = find(int(i));
    auto it = root_group.find(r);
    if (it == root_group.end()) {
      it = root_group.emplace(r, int(P.groups.size())).first;
      P.groups.emplace_back();
    }
    P.acts[i].group = it->second;
    P.groups[size_t(it->second)].push_back(int(i));
    for (int c : cons[size_t(P.acts[i].value)])
      if (!is_ignored(g.nodes[size_t(c)], o)) P.acts[i].consumers.push_back(c);
  }
  for (int ni : order)
    if (!int8_nodes.count(ni)) P.fp32_nodes.push_back(ni);
  return P;
}

QuantPlacement without_groups(const Graph& g, const QuantPlacement& P, const std::set<int>& drop, std::vector<int>& kept,
                              std::vector<int>& demoted) {
  QuantPlacement R;
  kept.clear();
  demoted.clear();
  std::set<int> lost_input, became_fp32;
  std::map<int, int> group_of;  // old group -> new group
  for (size_t i = 0; i < P.acts.size(); ++i) {
    const ActQuantizer& a = P.acts[i];
    if (drop.count(a.group)) {
      for (int c : a.consumers) lost_input.insert(c);
      const int p = g.values[size_t(a.value)].producer;
      if (p >= 0) became_fp32.insert(p);  // a Concat / agnostic op kept in the group for its output's scale
      continue;
    }
    auto it = group_of.find(a.group);
    if (it == group_of.end()) {
      it = group_of.emplace(a.group, int(R.groups.size())).first;
      R.groups.emplace_back();
    }
    ActQuantizer b = a;
    b.group = it->second;
    R.groups[size_t(b.group)].push_back(int(R.acts.size()));
    R.acts.push_back(b);
    kept.push_back(int(i));
  }
  // Only producers whose own output was in a dropped group (a Conv's output
  // quantized for its reader is not the Conv's INT8-ness).
  for (auto it = became_fp32.begin(); it != became_fp32.end();) {
    const std::string& op = g.nodes[size_t(*it)].op;
    it = (op == "Concat" || agnostic_ops().count(op)) ? std::next(it) : became_fp32.erase(it);
  }
  for (const WeightQuantizer& w : P.weights)
    if (!lost_input.count(w.node)) R.weights.push_back(w);
  for (int l : P.layers) {
    if (lost_input.count(l)) {
      demoted.push_back(l);
      became_fp32.insert(l);
    } else {
      R.layers.push_back(l);
    }
  }
  R.fp32_nodes = P.fp32_nodes;
  const std::set<int> already(P.fp32_nodes.begin(), P.fp32_nodes.end());
  for (int ni : g.topo_order())
    if (became_fp32.count(ni) && !already.count(ni)) R.fp32_nodes.push_back(ni);
  return R;
}

}  // namespace c8
