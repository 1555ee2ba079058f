#pragma once
// Graph transforms, one per file, each a function of Graph& that returns the
// number of rewrites it made (0 = nothing to do). Each is tested alone.
#include <vector>

#include "ir/graph.h"

namespace c8 {

int convert_fp16_to_fp32(Graph& g);   // FP16 initializers/values run as FP32
int annotate_opset(Graph& g);         // records the model opset on ops whose semantics changed (Softmax <13)
int remove_identity(Graph& g);        // Identity, Dropout (inference), Cast to the same type
int fold_constants(Graph& g);         // nodes whose inputs are all constant -> constants
int fold_batchnorm(Graph& g);         // Conv/Gemm -> BatchNormalization into the weights
int fuse_activation(Graph& g);        // Conv/Gemm -> Relu/Clip/... as an eltwise post-op
int fuse_sum(Graph& g);               // Conv + Add(residual) as a sum post-op
int fuse_silu_hardswish(Graph& g);    // x*Sigmoid(x) -> SiLU, x*HardSigmoid(x) -> HardSwish
int fuse_qdq(Graph& g);               // QDQ patterns -> calibr8::QConv/QGemm/QAveragePool, u8 pools/views

// Replaces shapes of graph inputs by `input_shapes`, infers every value's
// dtype/shape and folds nodes whose inputs are all constant (Shape of a known
// shape included) when their outputs hold at most max_fold_elements (and
// never above 16 M). Throws c8::Error naming the node at fault.
void specialize(Graph& g, const std::vector<Shape>& input_shapes, int64_t max_fold_elements = int64_t(1) << 24);

// Applies the standard passes above in order (pipeline.cc).
void optimize_graph(Graph& g);

}  // namespace c8
