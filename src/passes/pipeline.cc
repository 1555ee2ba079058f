#include "passes/passes.h"

namespace c8 {

// Order matters: fold first so BN parameters and shapes are constants, fold
// BN before fusing activations (the activation follows the BN), and fuse the
// residual sum before the activation that follows the Add.
void optimize_graph(Graph& g) {
  convert_fp16_to_fp32(g);
  annotate_opset(g);
  remove_identity(g);
  fold_constants(g);
  fuse_qdq(g);  // before the FP32 fusions: QDQ Conv->Relu->Q chains become INT8 nodes
  fold_batchnorm(g);
  fuse_silu_hardswish(g);
  fuse_activation(g);
  fuse_sum(g);
  fuse_activation(g);
}

}  // namespace c8
