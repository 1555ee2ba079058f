#pragma once
// Fast-path kernels. The planner walks the (optimised, shape-specialised)
// graph in order and, for each node, asks the registered fast-kernel
// factories (highest priority first) to build a Kernel; the generic
// reference-kernel adapter is the last resort.
//
// Layouts: every value has a oneDNN memory descriptor. A factory sees its
// inputs' descriptors as their producers chose them (e.g. NHWC from a conv
// created with format_tag::any) and picks its own output descriptors, so
// blocked layouts flow from primitive to primitive; a kernel that needs
// another layout reorders inside (see LayoutAdapter). Values whose dtype
// oneDNN does not know (int64, bool, ...) are always plain row-major.
#include <dnnl.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ops/op_registry.h"

namespace c8 {

dnnl::memory::data_type to_dnnl(DType t);  // undef when oneDNN has no such type
bool dnnl_supports(DType t);
// True if oneDNN will use a VNNI ISA (AVX-512 VNNI and up, or AVX-VNNI),
// i.e. u8*s8 products accumulate in 32 bits; respects ONEDNN_MAX_CPU_ISA.
bool cpu_has_vnni();
// The ISA checks of calibr8's own kernels go through oneDNN's effective ISA,
// so ONEDNN_MAX_CPU_ISA=AVX2 forces the AVX2 path of the whole runtime on a
// bigger CPU (and tests can cover it there). True if the effective ISA
// includes `isa` (oneDNN's ISA values are nested bit masks).
bool cpu_isa_at_least(dnnl::cpu_isa isa);
// AVX-512 with VNNI (vpdpbusd on ymm/zmm), allowed by the effective ISA.
bool cpu_has_avx512_vnni();
// Row-major descriptor for dims (rank 0 is treated as [1]).
dnnl::memory::desc plain_md(DType t, const Shape& s);
// True if md is laid out exactly as row-major of its dims (so a plain Tensor
// view over its buffer is valid; e.g. NHWC with H=W=1 is).
bool is_plain_md(const dnnl::memory::desc& md);

// Plan-time description of one value.
struct ValueInfo {
  DType dtype = DType::Undefined;
  Shape shape;
  dnnl::memory::desc md;           // physical layout; plain_md(...) for plain values
  const Tensor* constant = nullptr;  // known at plan time (weights, folded shapes)
  int alias_input = -1;  // (outputs) set by a kernel that returns input k's buffer as this output (views)
  bool present() const { return dtype != DType::Undefined; }
};

// Run-time buffers of one node. Plain tensors (`in_t`, `out_t`) are views over
// the same buffers as the memories and are valid only for plain layouts.
struct KernelIO {
  dnnl::stream* stream = nullptr;
  std::vector<dnnl::memory> in, out;  // empty memory for absent inputs or non-dnnl dtypes
  std::vector<Tensor> in_t, out_t;
};

// A buffer a kernel filled at load (reordered weights) and reads on every run.
struct OwnedBlock {
  std::shared_ptr<uint8_t> data;
  size_t bytes = 0;
};

// A vector's bytes, for Kernel::prepared_data().
template <class Vec>
std::pair<const void*, size_t> bytes_of(const Vec& v) {
  return {v.data(), v.size() * sizeof(v[0])};
}

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void execute(KernelIO& io) = 0;
  // What runs, for reports and tests: e.g. "dnnl:brgconv:avx512_core f32" or "ref".
  virtual std::string impl() const = 0;
  // Kernels of one node with the same non-empty contract are interchangeable,
  // and the planner may pick among them by timing (runtime/tuning.h):
  // "int8-exact" = the exact integer result; "f32" = FP32 math that differs
  // only in float rounding (direct vs Winograd convolution): timing picks
  // among those only with a clear margin and the choice is cached per machine,
  // so noise does not flip output bits between runs (session.cc tune_node);
  // calibration never tunes. Empty: this kernel's numbers are its own (an FP32
  // fall-back of an INT8 node), so fixed rules choose it.
  virtual std::string contract() const { return ""; }
  // What this kernel prepared at load and reads on every run: reordered or
  // packed weights. In a model a whole inference passes between two runs of
  // a node, so these come from far caches or memory there; the tuner
  // (runtime/tuning.cc) evicts them before every timed call. The default
  // lists `owned`; kernels that pack into their own vectors add those.
  virtual std::vector<std::pair<const void*, size_t>> prepared_data() const {
    std::vector<std::pair<const void*, size_t>> r;
    for (const OwnedBlock& b : owned) r.emplace_back(b.data.get(), b.bytes);
    return r;
  }
  // Buffers this kernel's oneDNN memories point into (reordered weights,
  // dnnlk::const_to_memory): they live exactly as long as the kernel.
  std::vector<OwnedBlock> owned;
};

struct BuildCtx {
  const dnnl::engine* engine = nullptr;
  const Graph* graph = nullptr;
  const Node* node = nullptr;
  std::vector<ValueInfo> in;   // one per node input (absent: dtype Undefined)
  std::vector<ValueInfo> out;  // dtype/shape pre-filled by shape inference; kernel sets md (defaults to plain)
  int threads = 1;
  // Set while the planner collects candidates to time: a factory then skips
  // the speed rules it would otherwise decide by (keeps its correctness checks).
  bool tuning = false;
};

using KernelFactory = std::function<std::unique_ptr<Kernel>(BuildCtx&)>;  // nullptr = not handled

struct FastKernel {
  int priority;
  std::string name;  // the factory's name: what the tuning cache records
  KernelFactory make;
};
void register_fast_kernel(const std::string& op, int priority, const std::string& name, KernelFactory f);
// Highest priority first.
std::vector<const FastKernel*> fast_kernels_for(const std::string& op);

struct FastKernelRegistrar {
  FastKernelRegistrar(const std::string& op, int priority, const char* name, KernelFactory f) {
    register_fast_kernel(op, priority, name, std::move(f));
  }
};
#define C8_REGISTER_FAST_KERNEL(op, prio, fn) \
  static ::c8::FastKernelRegistrar C8_CONCAT(c8_fk_, __LINE__)(op, prio, #fn, fn)

// Converts an input from whatever layout it arrives in to a layout a kernel
// wants, with a cached reorder primitive and its own scratch buffer; a no-op
// when the layouts already agree.
// While a profiled Session runs a kernel, the time its LayoutAdapters spend
// in reorders is added to *acc (nullptr: not timed). Per thread: the
// executor runs one kernel at a time on its thread.
void set_reorder_timer(double* acc_ms);

class LayoutAdapter {
 public:
  LayoutAdapter() = default;
  LayoutAdapter(const dnnl::engine& eng, const dnnl::memory::desc& from, const dnnl::memory::desc& to);
  bool needed() const { return needed_; }
  // Returns memory in the wanted layout (src itself when no reorder is needed).
  dnnl::memory convert(dnnl::stream& s, const dnnl::memory& src);

 private:
  bool needed_ = false;
  dnnl::reorder prim_;
  dnnl::memory dst_;
};

}  // namespace c8
