// Identity and inference-mode Dropout only rename a value; consumers are
// pointed at the source. When the renamed value is a graph output, the
// output name must survive, so the source is renamed instead when it is an
// intermediate (not a graph input or output).
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace c8 {

int remove_identity(Graph& g) {
  int n = 0;
  for (Node& node : g.nodes) {
    if (node.dead || !node.domain.empty()) continue;
    bool identity = node.op == "Identity";
    if (node.op == "Dropout") identity = node.outputs.size() < 2 || node.outputs[1] < 0;
    if (node.op == "Cast" && node.inputs.size() == 1 && node.inputs[0] >= 0)
      identity = int64_t(g.values[size_t(node.inputs[0])].dtype) == node.attr_i("to", -1);
    if (!identity || node.inputs.empty() || node.inputs[0] < 0 || node.outputs.empty()) continue;
    int src = node.inputs[0], dst = node.outputs[0];
    bool src_is_io = is_graph_output(g, src);
    for (int i : g.inputs) src_is_io |= i == src;
    if (is_graph_output(g, dst)) {
      if (src_is_io || g.values[size_t(src)].constant) continue;  // keep: both names are visible
      g.values[size_t(src)].name = g.values[size_t(dst)].name;
    }
    node.dead = true;
    g.replace_uses(dst, src);
    ++n;
  }
  if (n) g.compact();
  return n;
}

}  // namespace c8
