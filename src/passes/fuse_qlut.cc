// fuse_qdq step 4d: an island of element-wise float ops whose only inputs are
// one or two per-tensor DequantizeLinear'd 8-bit tensors (and scalar
// constants), and whose only output goes to one QuantizeLinear, becomes
// calibr8::QLut(aq[, bq], table): the island's quantized result for every
// input code, 256 entries for one input, 65536 for two (index a * 256 + b).
//
// The table is computed here by running the island's own reference kernels
// on a tensor that enumerates the codes, so the node is exact by
// construction: element-wise ops compute each element alone, the same
// function of the same inputs at any shape. That makes a float island such
// as DQ, DQ -> Add -> HardSigmoid, Mul (HardSwish) -> Q -- which the INT8
// kernels cannot fuse and which costs two dequantizing passes, three float
// ops and a quantizing pass -- one byte lookup per element. (ONNX Runtime
// runs its quantized unary activations, QLinearSigmoid / QLinearLeakyRelu,
// through such 256-entry tables; this extends the idea to two inputs and to
// whole chains.)
//
// A bare DQ -> Q with different parameters (a requantization; equal ones
// cancel in step 2) is the one-op case of the same thing.
//
// Left alone: islands with more than two quantized inputs, with inputs of
// different shapes (broadcasting) or non-scalar constants, any op outside
// the element-wise list below, an intermediate value read outside the
// island, and more than kMaxNodes ops. An Add -> Relu/Clip -> Q island is
// already a calibr8::QAdd (step 4b runs first) -- cheaper on large tensors,
// and foldable into its producing conv (4c).
#include <map>
#include <set>

#include "passes/pass_util.h"
#include "passes/qdq_util.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

constexpr size_t kMaxNodes = 16;

bool elementwise(const Node& n) {
  static const std::set<std::string> ops = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Relu", "Clip", "LeakyRelu",
                                            "Elu", "Selu", "HardSigmoid", "HardSwish", "Sigmoid", "Tanh", "Softplus",
                                            "Neg", "Abs", "Erf", "Exp"};
  return n.domain.empty() && ops.count(n.op) && n.outputs.size() == 1 && n.outputs[0] >= 0;
}

struct Island {
  std::vector<int> nodes;            // island op nodes
  std::vector<QParams> in;           // the quantized inputs (QParams::q = value)
  std::map<int, size_t> dq_input;    // DQ node -> index into `in`
};

// Collects the island that ends at QuantizeLinear q_node; false if there is none.
bool collect(const Graph& g, const std::vector<std::vector<int>>& cons, int q_node, Island& isl) {
  const int out = g.nodes[size_t(q_node)].inputs[0];
  if (!single_use(g, cons, out)) return false;
  std::set<int> seen, members;
  std::vector<int> todo{out};
  while (!todo.empty()) {
    const int v = todo.back();
    todo.pop_back();
    if (v < 0 || !seen.insert(v).second) continue;
    if (g.is_const(v)) {
      if (!scalar_const(g, v)) return false;
      continue;
    }
    QParams p;
    const int d = dq_of(g, v, p);
    if (d >= 0) {
      if (g.is_const(p.q)) return false;
      size_t k = 0;
      while (k < isl.in.size() && isl.in[k].q != p.q) ++k;
      if (k == isl.in.size()) {
        if (isl.in.size() == 2) return false;
        isl.in.push_back(p);
      } else if (isl.in[k].scale != p.scale || isl.in[k].zp != p.zp || isl.in[k].type != p.type) {
        return false;
      }
      isl.dq_input[d] = k;
      continue;
    }
    const int pi = g.values[size_t(v)].producer;
    if (pi < 0) return false;  // a float graph input
    const Node& n = g.nodes[size_t(pi)];
    if (n.dead || !elementwise(n) || members.size() >= kMaxNodes) return false;
    if (members.insert(pi).second)
      for (int x : n.inputs) todo.push_back(x);
  }
  if (isl.in.empty()) return false;  // (no ops at all: DQ -> Q with other parameters, a requantization)
  // Nothing but the island (and Q, for `out`) may read its values.
  for (int ni : members) {
    const int o = g.nodes[size_t(ni)].outputs[0];
    if (o == out) continue;
    if (is_graph_output(g, o)) return false;
    for (int c : cons[size_t(o)])
      if (!members.count(c)) return false;
  }
  isl.nodes.assign(members.begin(), members.end());
  return true;
}

// Runs the island's reference kernels on every input code: the table.
bool build_table(const Graph& g, const Island& isl, const Node& q, Tensor& table) {
  const int64_t n = isl.in.size() == 1 ? 256 : 65536;
  std::map<int, Tensor> val;
  const OpDef* dq_def = find_op("DequantizeLinear");
  for (const auto& [d, k] : isl.dq_input) {
    const Node& dn = g.nodes[size_t(d)];
    Tensor codes(isl.in[k].type, {n});
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = n == 256 ? i : k == 0 ? i >> 8 : i & 255;
      if (isl.in[k].type == DType::U8) codes.data<uint8_t>()[i] = uint8_t(c);
      else codes.data<int8_t>()[i] = int8_t(uint8_t(c));
    }
    std::vector<Tensor> in{codes};
    for (size_t j = 1; j < dn.inputs.size(); ++j) in.push_back(dn.inputs[j] >= 0 ? g.const_of(dn.inputs[j]) : Tensor());
    std::vector<Tensor> out(1);
    dq_def->ref(dn, in, out);
    val[dn.outputs[0]] = out[0];
  }
  auto input = [&](int v, Tensor& t) {
    if (v < 0) return true;
    if (g.is_const(v)) {
      t = g.const_of(v);
      return true;
    }
    auto it = val.find(v);
    if (it == val.end()) return false;
    t = it->second;
    return true;
  };
  // Dependency order: evaluate whatever has all its inputs, until done.
  std::vector<int> left = isl.nodes;
  while (!left.empty()) {
    bool progress = false;
    for (size_t i = 0; i < left.size();) {
      const Node& nd = g.nodes[size_t(left[i])];
      std::vector<Tensor> in(nd.inputs.size());
      bool ready = true;
      for (size_t j = 0; j < nd.inputs.size() && ready; ++j) ready = input(nd.inputs[j], in[j]);
      if (!ready) {
        ++i;
        continue;
      }
      const OpDef* def = find_op(nd.op);
      if (!def) return false;
      std::vector<Tensor> out(1);
      def->ref(nd, in, out);
      if (out[0].dtype != DType::F32 || out[0].numel() != n) return false;
      val[nd.outputs[0]] = out[0];
      left.erase(left.begin() + std::ptrdiff_t(i));
      progress = true;
    }
    if (!progress) return false;
  }
  std::vector<Tensor> in(q.inputs.size());
  for (size_t j = 0; j < q.inputs.size(); ++j)
    if (!input(q.inputs[j], in[j])) return false;
  std::vector<Tensor> out(1);
  find_op("QuantizeLinear")->ref(q, in, out);
  if (out[0].numel() != n) return false;
  table = out[0];
  return true;
}

}  // namespace

int fuse_qlut(Graph& g) {
  int fused = 0;
  auto cons = g.consumers();
  LazyShapes shapes(g);
  for (size_t qi = 0; qi < g.nodes.size(); ++qi) {
    if (g.nodes[qi].dead || g.nodes[qi].op != "QuantizeLinear") continue;
    QParams qp;
    if (!per_tensor_params(g, g.nodes[qi], qp)) continue;
    Island isl;
    if (!collect(g, cons, int(qi), isl)) continue;
    // Same shapes: no broadcasting between the two inputs.
    if (isl.in.size() == 2 && !shapes.same(isl.in[0].q, isl.in[1].q)) continue;
    Tensor table;
    try {
      if (!build_table(g, isl, g.nodes[qi], table)) continue;
    } catch (const std::exception&) {
      continue;  // an op the reference kernels reject here: leave the island as it is
    }
    const int tv = g.add_constant(g.unique_name(g.nodes[qi].name + "_table"), table);
    Node& qn = g.nodes[qi];
    qn.op = "QLut";
    qn.domain = "calibr8";
    qn.inputs.clear();
    for (const QParams& p : isl.in) qn.inputs.push_back(p.q);
    qn.inputs.push_back(tv);
    qn.attrs.clear();
    qn.set_i("y_type", int64_t(qp.type));
    for (int ni : isl.nodes) g.nodes[size_t(ni)].dead = true;
    cons = g.consumers();
    ++fused;
  }
  return fused;
}

}  // namespace c8
