// Exporters spell SiLU as x * Sigmoid(x) and (opset < 14) HardSwish as
// x * HardSigmoid(x, 1/6, 0.5). Recognising them gives one eltwise op that
// fuses into the producing conv like any activation.
#include <cmath>

#include "passes/pass_util.h"
#include "passes/passes.h"

namespace c8 {

int fuse_silu_hardswish(Graph& g) {
  int n = 0;
  auto cons = g.consumers();
  for (size_t mi = 0; mi < g.nodes.size(); ++mi) {
    Node& mul = g.nodes[mi];
    if (mul.dead || mul.op != "Mul" || !mul.domain.empty() || mul.inputs.size() != 2) continue;
    for (int side = 0; side < 2; ++side) {
      int x = mul.inputs[size_t(side)], s = mul.inputs[size_t(1 - side)];
      if (x < 0 || s < 0 || g.values[size_t(s)].producer < 0) continue;
      Node& act = g.nodes[size_t(g.values[size_t(s)].producer)];
      if (act.dead || act.inputs.empty() || act.inputs[0] != x || !single_use(g, cons, s)) continue;
      std::string fused;
      if (act.op == "Sigmoid") fused = "SiLU";
      if (act.op == "HardSigmoid" && std::fabs(act.attr_f("alpha", 0.2f) - 1.f / 6) < 1e-6f &&
          std::fabs(act.attr_f("beta", 0.5f) - 0.5f) < 1e-6f)
        fused = "HardSwish";
      if (fused.empty()) continue;
      // Rewrite Mul into the fused unary op reading x; the activation dies.
      mul.op = fused;
      mul.inputs = {x};
      mul.attrs.clear();
      act.dead = true;
      ++n;
      cons = g.consumers();
      break;
    }
  }
  if (n) g.compact();
  return n;
}

}  // namespace c8
