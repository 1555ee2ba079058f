// Softmax, LogSoftmax and Hardmax changed meaning at opset 13 (coerce to 2-D
// vs. one axis); nodes carry the model opset so kernels pick the right one.
#include "passes/passes.h"

namespace c8 {

int annotate_opset(Graph& g) {
  int n = 0;
  for (Node& node : g.nodes) {
    if (node.dead || !node.domain.empty()) continue;
    if (node.op == "Softmax" || node.op == "LogSoftmax" || node.op == "Hardmax") {
      if (!node.has("_opset")) {
        node.set_i("_opset", g.opset);
        ++n;
      }
    }
  }
  return n;
}

}  // namespace c8
