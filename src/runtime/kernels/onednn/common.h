#pragma once
// Shared helpers for the oneDNN fast kernels (src/runtime/kernels/onednn/*.cc).
#include <dnnl.hpp>

#include <memory>
#include <string>
#include <vector>

#include "runtime/kernel.h"

namespace c8::dnnlk {

using md_t = dnnl::memory::desc;
using dims_t = dnnl::memory::dims;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

inline bool is_f32(const ValueInfo& v) { return v.dtype == DType::F32; }
inline std::string impl_of(const dnnl::primitive_desc_base& pd) { return std::string("dnnl:") + pd.impl_info_str(); }
inline dims_t to_dims(const Shape& s) { return dims_t(s.begin(), s.end()); }

// One eltwise primitive / post-op: ONNX ops map to one or two of these
// (HardSigmoid = linear + clip).
struct EltStep {
  dnnl::algorithm alg;
  float alpha = 0.f, beta = 0.f;
};
// Steps of ONNX eltwise op `op`. Standalone node (node != nullptr): reads the
// node's attributes with ONNX defaults. Post-op (po != nullptr): uses po's
// alpha/beta. Returns false when not mapped.
bool eltwise_steps(const std::string& op, const Node* node, const PostOp* po, std::vector<EltStep>& out);

// Appends the node's post_ops to `ops` (eltwise and at most one Sum, whose
// node input index is returned in *sum_input, -1 if none). False if any
// post-op cannot be expressed.
bool append_post_ops(const Node& n, dnnl::post_ops& ops, int* sum_input);

// Descriptor with the same layout as `like` (stride order and inner blocks)
// but other dims (same rank). Returns a zero md when `like` is not blocked.
md_t md_like(const md_t& like, const dims_t& dims);

// Same md with a different data type (layout kept).
md_t with_dtype(const md_t& md, dt t);

// Constant tensor -> dnnl::memory of `want` layout, reordered once at build
// time (`from` describes the constant's plain layout).
// The reordered copy's buffer is appended to `owned` (the kernel's
// Kernel::owned), which must outlive the returned memory.
dnnl::memory const_to_memory(const dnnl::engine& eng, const Tensor& t, const md_t& from, const md_t& want,
                             std::vector<OwnedBlock>& owned);

// Keeps a dnnl::memory object over another memory's buffer with a different
// descriptor (same bytes, e.g. rank-padded plain views).
class View {
 public:
  View() = default;
  View(const dnnl::engine& eng, const md_t& md) : mem_(md, eng, nullptr) {}
  dnnl::memory& of(const dnnl::memory& m) {
    mem_.set_data_handle(m.get_data_handle());
    return mem_;
  }
 private:
  dnnl::memory mem_;
};

// Brings an input into a wanted md: optional reorder (arriving md -> plain
// of the same dims or the wanted md), then a reinterpretation when the
// wanted md has other dims (rank padding). All plan-time.
class InputPrep {
 public:
  InputPrep() = default;
  // Returns false when it cannot be done (e.g. dims mismatch with a
  // non-plain target).
  bool init(const dnnl::engine& eng, const md_t& arriving, const md_t& want);
  bool needs_copy() const { return ad_.needed(); }
  dnnl::memory get(dnnl::stream& s, const dnnl::memory& m);
 private:
  LayoutAdapter ad_;
  bool view_ = false;
  View v_;
};

// Post-ops applied after the primitive as separate in-place primitives on dst
// (for primitives without attr post-op support: pool, lrn, bn, softmax, ...).
class PostChain {
 public:
  bool init(const BuildCtx& ctx, const md_t& dst_md);
  bool empty() const { return steps_.empty(); }
  void run(dnnl::stream& s, KernelIO& io, dnnl::memory& dst);
 private:
  struct Step {
    bool sum = false;
    dnnl::primitive prim;
    int input = -1;
    InputPrep prep;
  };
  std::vector<Step> steps_;
};

// Copies or reorders node input `idx` into dst before a primitive that has a
// sum post-op (skips when they share the buffer).
class SumInput {
 public:
  bool init(const dnnl::engine& eng, const ValueInfo& in, const md_t& dst_md, int idx);
  bool active() const { return idx_ >= 0; }
  void run(dnnl::stream& s, KernelIO& io, dnnl::memory& dst);
 private:
  int idx_ = -1;
  bool reorder_ = false;
  dnnl::reorder prim_;
  size_t bytes_ = 0;
};

// True when md is dense N, C[/blk], spatial... [, c%blk] (NCHW when *blk = 1,
// nChw8c / nChw16c otherwise) with C a multiple of the block (no padding):
// then the elements of one image form one contiguous run, channel block by
// channel block (concat along C = memcpy, see concat.cc).
bool is_nc_dense(const md_t& md, int64_t* blk);
// True if md is channels-last and dense (NHWC, NWC, NDHWC: dim 1 has
// stride 1, then the spatial dims innermost-first, then dim 0), ndims >= 3;
// *channels = dims[1].
bool is_channels_last_dense(const md_t& md, int64_t* channels);

// True when md's buffer holds exactly its elements, in any blocked order (no
// padding): element-wise kernels can run over it as a flat array.
bool is_flat_dense(const md_t& md);

// A node's fused post-ops when they are at most one Relu or Clip, as clamp
// bounds [lo, hi] for values in units of x * inv (Clip bounds times inv, as
// qconv.cc scales them into the output domain; Relu is lo = 0). False for
// anything else (other activations, a residual sum, several post-ops).
// after_sum: the post-ops must be a Sum followed by at most one Relu/Clip
// (a QConv that took over a residual add), whose bounds are returned.
bool relu_clip_bounds(const Node& n, float inv, float& lo, float& hi, bool after_sum = false);

// Without VNNI, u8s8 kernels add two u8*s8 products along the reduction axis
// in 16 bits (vpmaddubsw), which saturates when the two weights have
// |w0| + |w1| > 128. Checks int8 weights laid out as w[r * row_stride +
// k * k_stride + i] for rows r, reduction index k (pairs k, k+1 from 0) and
// inner index i < inner (inner stride 1).
bool u8s8_pairs_may_saturate(const int8_t* w, int64_t rows, int64_t K, int64_t row_stride, int64_t k_stride,
                             int64_t inner);

// Whether the oneDNN INT8 implementation named `impl` (impl_info_str) sums
// u8*s8 products exactly for any int8 weights: VNNI / AMX kernels do; one
// named for an ISA without them (jit_uni_int8:avx2, jit_int8:avx512_core,
// which a VNNI CPU offers too) pairs them in 16 bits; an unnamed ISA
// (the x64:gemm_s8u8s32:jit convolution, gemm:jit matmul) follows the CPU's.
bool impl_sums_u8s8_exactly(const std::string& impl);

// Normalises an axis attribute into [0, rank).
inline int norm_axis(int64_t a, int rank) { return int(a < 0 ? a + rank : a); }

int node_opset(const BuildCtx& ctx);

// ONNX pooling attributes (kernel, strides, dilations, pads, auto_pad,
// ceil_mode via the output shape, count_include_pad) as oneDNN pooling
// arguments, shared by the FP32 and the u8 pooling kernels. `op` is the ONNX
// op name (MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool). False when
// oneDNN cannot express it exactly.
struct PoolGeometry {
  dnnl::algorithm alg = dnnl::algorithm::pooling_max;
  dims_t kernel, strides, dil, pl, pr;  // dil is oneDNN's (ONNX dilation - 1)
  bool is_max = true, global = false;
};
bool pool_geometry(const Node& n, const std::string& op, const Shape& xs, const Shape& ys, PoolGeometry& g);

// ONNX Conv attributes (group, strides, dilations, pads, auto_pad) checked
// against the input/weight/output shapes and turned into oneDNN dims; shared
// by the FP32 and the INT8 convolution kernels. False when oneDNN cannot
// express the node exactly.
struct ConvGeom {
  int sp = 0;  // spatial rank
  int64_t group = 1, M = 0, C = 0;
  dims_t src, wei, wei_user_plain /* ONNX [M, C/g, k...] */, dst, bias;
  dims_t strides, dil, pl, pr;  // oneDNN conventions (dilation - 1)
};
bool conv_geom(const BuildCtx& ctx, ConvGeom& g);
// Row-major descriptor of dims `d`.
md_t plain_dims(const dims_t& d, dt t);

}  // namespace c8::dnnlk
