// An activation that is the only reader of a Conv/Gemm output becomes an
// eltwise post-op of that node (oneDNN applies it while the output is still
// in registers / cache). Also fuses after a sum post-op (Conv+Add+Relu).
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace c8 {

bool activation_as_post_op(const Graph& g, const Node& a, PostOp& p) {
  p = PostOp();
  p.kind = PostOp::Eltwise;
  p.op = a.op;
  if (!a.domain.empty()) return false;
  if (a.op == "Relu" || a.op == "Sigmoid" || a.op == "Tanh" || a.op == "HardSwish" || a.op == "Softplus" ||
      a.op == "SiLU")
    return true;
  if (a.op == "LeakyRelu") { p.alpha = a.attr_f("alpha", 0.01f); return true; }
  if (a.op == "Elu") { p.alpha = a.attr_f("alpha", 1.f); return true; }
  if (a.op == "HardSigmoid") { p.alpha = a.attr_f("alpha", 0.2f); p.beta = a.attr_f("beta", 0.5f); return true; }
  if (a.op == "Clip") {
    float lo = -3.4028235e38f, hi = 3.4028235e38f;
    if (a.has("min")) lo = a.attr_f("min", lo);
    if (a.has("max")) hi = a.attr_f("max", hi);
    if (a.input(1) >= 0) {
      if (!g.is_const(a.inputs[1])) return false;
      lo = float(g.const_of(a.inputs[1]).get_f64(0));
    }
    if (a.input(2) >= 0) {
      if (!g.is_const(a.inputs[2])) return false;
      hi = float(g.const_of(a.inputs[2]).get_f64(0));
    }
    p.alpha = lo;
    p.beta = hi;
    return true;
  }
  return false;
}

int fuse_activation(Graph& g) {
  int n = 0;
  auto cons = g.consumers();
  for (size_t pi = 0; pi < g.nodes.size(); ++pi) {
    Node& p = g.nodes[pi];
    if (p.dead || !p.domain.empty() || (p.op != "Conv" && p.op != "Gemm")) continue;
    if (p.outputs.empty()) continue;
    int y = p.outputs[0];
    if (!single_use(g, cons, y)) continue;
    Node& a = g.nodes[size_t(cons[size_t(y)][0])];
    if (a.inputs.empty() || a.inputs[0] != y || a.outputs.empty()) continue;
    PostOp op;
    if (!activation_as_post_op(g, a, op)) continue;
    p.post_ops.push_back(op);
    p.outputs[0] = a.outputs[0];
    g.values[size_t(a.outputs[0])].producer = int(pi);
    a.dead = true;
    cons = g.consumers();
    ++n;
  }
  if (n) g.compact();
  return n;
}

}  // namespace c8
