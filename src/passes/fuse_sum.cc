// ResNet-style Add(conv(x), shortcut): the conv accumulates into the
// shortcut through oneDNN's sum post-op, saving a pass over the tensor
// (the residual Add fusion OpenVINO's CPU plugin and ONNX Runtime's DNNL EP do).
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace c8 {

int fuse_sum(Graph& g) {
  int n = 0;
  auto cons = g.consumers();
  for (size_t ai = 0; ai < g.nodes.size(); ++ai) {
    Node& add = g.nodes[ai];
    if (add.dead || add.op != "Add" || !add.domain.empty() || add.inputs.size() != 2) continue;
    // Prefer the operand whose conv runs last, so the other one is ready.
    int best = -1, best_side = -1;
    for (int side = 0; side < 2; ++side) {
      int a = add.inputs[size_t(side)], b = add.inputs[size_t(1 - side)];
      if (a < 0 || b < 0 || a == b || g.values[size_t(a)].producer < 0) continue;
      int pi = g.values[size_t(a)].producer;
      const Node& p = g.nodes[size_t(pi)];
      if (p.op != "Conv" || !p.domain.empty() || !single_use(g, cons, a)) continue;
      bool has_sum = false;
      for (const PostOp& q : p.post_ops) has_sum |= q.kind == PostOp::Sum;
      if (has_sum) continue;
      // Shapes must agree exactly (no broadcasting in the sum post-op); only a
      // shared symbolic batch dim may be unknown.
      const Value& va = g.values[size_t(a)];
      const Value& vb = g.values[size_t(b)];
      if (!va.has_shape || !vb.has_shape || va.shape != vb.shape || vb.dtype != DType::F32) continue;
      bool known = true;
      for (size_t d = 1; d < va.shape.size(); ++d) known &= va.shape[d] >= 0;
      if (!known) continue;
      if (pi > best) { best = pi; best_side = side; }
    }
    if (best < 0) continue;
    Node& p = g.nodes[size_t(best)];
    int b = add.inputs[size_t(1 - best_side)];
    while (p.inputs.size() < 3) p.inputs.push_back(-1);
    p.inputs.push_back(b);
    PostOp s;
    s.kind = PostOp::Sum;
    s.input_index = int(p.inputs.size()) - 1;
    p.post_ops.push_back(s);
    p.outputs[0] = add.outputs[0];
    g.values[size_t(add.outputs[0])].producer = best;
    add.dead = true;
    cons = g.consumers();
    ++n;
  }
  if (n) g.compact();
  return n;
}

}  // namespace c8
