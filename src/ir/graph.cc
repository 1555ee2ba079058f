#include "ir/graph.h"
#include "base/error.h"

#include <algorithm>
#include <queue>
#include <set>
#include <stdexcept>
#include <unordered_map>

namespace c8 {

int64_t Node::attr_i(const std::string& a, int64_t def) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? def : it->second.i;
}
float Node::attr_f(const std::string& a, float def) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? def : it->second.f;
}
std::string Node::attr_s(const std::string& a, const std::string& def) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? def : it->second.s;
}
std::vector<int64_t> Node::attr_ints(const std::string& a, std::vector<int64_t> def) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? def : it->second.ints;
}
std::vector<float> Node::attr_floats(const std::string& a, std::vector<float> def) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? def : it->second.floats;
}
void Node::set_i(const std::string& a, int64_t v) {
  Attribute at; at.kind = Attribute::Int; at.i = v; attrs[a] = at;
}
void Node::set_f(const std::string& a, float v) {
  Attribute at; at.kind = Attribute::Float; at.f = v; attrs[a] = at;
}
void Node::set_s(const std::string& a, const std::string& v) {
  Attribute at; at.kind = Attribute::String; at.s = v; attrs[a] = at;
}
void Node::set_ints(const std::string& a, std::vector<int64_t> v) {
  Attribute at; at.kind = Attribute::Ints; at.ints = std::move(v); attrs[a] = at;
}
void Node::set_floats(const std::string& a, std::vector<float> v) {
  Attribute at; at.kind = Attribute::Floats; at.floats = std::move(v); attrs[a] = at;
}

int Graph::add_value(const std::string& n, DType dt) {
  Value v;
  v.name = n;
  v.dtype = dt;
  values.push_back(std::move(v));
  return int(values.size()) - 1;
}

int Graph::add_constant(const std::string& n, Tensor t) {
  int id = add_value(n, t.dtype);
  Value& v = values[size_t(id)];
  v.shape = t.shape;
  v.has_shape = true;
  v.constant = std::move(t);
  return id;
}

int Graph::add_node(const std::string& op, std::vector<int> in, std::vector<int> out,
                    const std::string& nm) {
  Node n;
  n.op = op;
  n.name = nm;
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  int id = int(nodes.size());
  for (int o : n.outputs)
    if (o >= 0) values[size_t(o)].producer = id;
  nodes.push_back(std::move(n));
  return id;
}

int Graph::find_value(const std::string& n) const {
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i].name == n) return int(i);
  return -1;
}

std::string Graph::unique_name(const std::string& base) const {
  std::set<std::string> names;
  for (const auto& v : values) names.insert(v.name);
  for (const auto& n : nodes) names.insert(n.name);
  if (!names.count(base)) return base;
  for (int k = 1;; ++k) {
    std::string c = base + "_" + std::to_string(k);
    if (!names.count(c)) return c;
  }
}

std::vector<std::vector<int>> Graph::consumers() const {
  std::vector<std::vector<int>> c(values.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].dead) continue;
    for (int v : nodes[i].inputs)
      if (v >= 0 && (c[size_t(v)].empty() || c[size_t(v)].back() != int(i))) c[size_t(v)].push_back(int(i));
  }
  return c;
}

std::vector<int> Graph::topo_order() const {
  // Kahn's algorithm, always taking the lowest ready id so the stored order is kept
  // where it is already valid.
  std::vector<int> producer(values.size(), -1);
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].dead) continue;
    for (int o : nodes[i].outputs)
      if (o >= 0) producer[size_t(o)] = int(i);
  }
  std::vector<int> indeg(nodes.size(), 0);
  std::vector<std::vector<int>> succ(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].dead) continue;
    std::set<int> preds;
    for (int v : nodes[i].inputs)
      if (v >= 0 && producer[size_t(v)] >= 0 && producer[size_t(v)] != int(i)) preds.insert(producer[size_t(v)]);
    indeg[i] = int(preds.size());
    for (int p : preds) succ[size_t(p)].push_back(int(i));
  }
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (!nodes[i].dead && indeg[i] == 0) ready.push(int(i));
  std::vector<int> order;
  while (!ready.empty()) {
    int n = ready.top();
    ready.pop();
    order.push_back(n);
    for (int s : succ[size_t(n)])
      if (--indeg[size_t(s)] == 0) ready.push(s);
  }
  return order;  // shorter than the live node count when there is a cycle
}

void Graph::replace_uses(int from, int to) {
  for (auto& n : nodes) {
    if (n.dead) continue;
    for (int& v : n.inputs)
      if (v == from) v = to;
  }
  for (int& v : outputs)
    if (v == from) v = to;
}

void Graph::compact() {
  std::vector<int> order = topo_order();
  size_t live = 0;
  for (const auto& n : nodes) live += !n.dead;
  if (order.size() != live) throw Error("graph has a cycle");
  // values that are still referenced
  std::vector<char> used(values.size(), 0);
  for (int v : inputs) used[size_t(v)] = 1;
  for (int v : outputs) used[size_t(v)] = 1;
  for (int n : order) {
    for (int v : nodes[size_t(n)].inputs)
      if (v >= 0) used[size_t(v)] = 1;
    for (int v : nodes[size_t(n)].outputs)
      if (v >= 0) used[size_t(v)] = 1;
  }
  std::vector<int> vmap(values.size(), -1);
  std::vector<Value> nv;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!used[i]) continue;
    vmap[i] = int(nv.size());
    nv.push_back(std::move(values[i]));
    nv.back().producer = -1;
  }
  std::vector<Node> nn;
  for (int n : order) {
    Node node = std::move(nodes[size_t(n)]);
    for (int& v : node.inputs)
      if (v >= 0) v = vmap[size_t(v)];
    for (int& v : node.outputs)
      if (v >= 0) {
        v = vmap[size_t(v)];
        nv[size_t(v)].producer = int(nn.size());
      }
    nn.push_back(std::move(node));
  }
  for (int& v : inputs) v = vmap[size_t(v)];
  for (int& v : outputs) v = vmap[size_t(v)];
  values = std::move(nv);
  nodes = std::move(nn);
}

std::string Graph::verify() const {
  auto vname = [&](int v) { return "'" + values[size_t(v)].name + "'"; };
  std::vector<int> producer(values.size(), -1);
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    if (n.dead) continue;
    std::string who = "node '" + n.name + "' (" + n.op + ")";
    for (int v : n.inputs)
      if (v < -1 || v >= int(values.size())) return who + ": input id out of range";
    for (int v : n.outputs) {
      if (v < -1 || v >= int(values.size())) return who + ": output id out of range";
      if (v < 0) continue;
      if (producer[size_t(v)] >= 0)
        return who + ": value " + vname(v) + " already produced by node '" + nodes[size_t(producer[size_t(v)])].name + "'";
      if (values[size_t(v)].constant) return who + ": writes constant " + vname(v);
      producer[size_t(v)] = int(i);
    }
  }
  std::set<int> gin(inputs.begin(), inputs.end());
  for (int v : inputs) {
    if (v < 0 || v >= int(values.size())) return "graph input id out of range";
    if (producer[size_t(v)] >= 0) return "graph input " + vname(v) + " is also produced by a node";
  }
  std::vector<int> order = topo_order();
  size_t live = 0;
  for (const auto& n : nodes) live += !n.dead;
  if (order.size() != live) return "graph has a cycle";
  std::vector<char> defined(values.size(), 0);
  for (size_t v = 0; v < values.size(); ++v)
    if (values[v].constant || gin.count(int(v))) defined[v] = 1;
  for (int ni : order) {
    const Node& n = nodes[size_t(ni)];
    for (int v : n.inputs)
      if (v >= 0 && !defined[size_t(v)])
        return "node '" + n.name + "' (" + n.op + ") reads " + vname(v) + " which nothing produces";
    for (int v : n.outputs)
      if (v >= 0) defined[size_t(v)] = 1;
  }
  for (int v : outputs) {
    if (v < 0 || v >= int(values.size())) return "graph output id out of range";
    if (!defined[size_t(v)]) return "graph output " + vname(v) + " is never produced";
  }
  for (const Node& n : nodes) {
    if (n.dead) continue;
    for (const PostOp& p : n.post_ops)
      if (p.kind == PostOp::Sum && (p.input_index < 0 || p.input_index >= int(n.inputs.size())))
        return "node '" + n.name + "': sum post-op input index out of range";
  }
  return "";
}

std::map<std::string, int> Graph::op_histogram() const {
  std::map<std::string, int> h;
  for (const auto& n : nodes)
    if (!n.dead) h[n.op]++;
  return h;
}

int64_t Graph::parameter_count() const {
  std::set<int> seen;
  int64_t total = 0;
  for (const auto& n : nodes) {
    if (n.dead) continue;
    for (int v : n.inputs) {
      if (v < 0 || !values[size_t(v)].constant || seen.count(v)) continue;
      seen.insert(v);
      DType t = values[size_t(v)].constant->dtype;
      if (t == DType::F32 || t == DType::F16 || t == DType::I8 || t == DType::U8 || t == DType::F64 || t == DType::BF16)
        total += values[size_t(v)].constant->numel();
    }
  }
  return total;
}

}  // namespace c8
