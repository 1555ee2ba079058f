#pragma once
// The fast runtime. A Session owns an optimised graph; for each distinct set
// of input shapes it builds (and caches) a Plan: the graph specialised to
// those shapes (shape sub-graphs folded to constants), one Kernel per node
// (oneDNN where a fast kernel accepts the node, the reference kernel
// otherwise), and buffers reused by liveness.
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "runtime/kernel.h"
#include "runtime/profile.h"
#include "runtime/tuning.h"

namespace c8 {

struct SessionOptions {
  int threads = 1;        // OpenMP threads for oneDNN primitives
  bool optimize = true;   // run the graph passes (fusions, folding)
  bool fast = true;       // false: every node uses its reference kernel (oracle)
  bool profile = false;   // time every step (Session::profile()); no cost when off
  std::string name;       // the model's file: prefixes every error the session throws
  Tune tune = Tune::Off;  // kernel choice by measurement (runtime/tuning.h); off = fixed rules
  // Node name -> factory name: that node runs that candidate, untimed, when
  // it keeps the node's contract (the tests run every candidate tuning may
  // pick, to prove each gives the numbers its contract promises).
  std::map<std::string, std::string> force_kernel;
};

struct KernelRecord {
  std::string node, op, impl;  // impl as reported by the kernel that ran
  // When the kernel was chosen by measurement: every candidate's ms per call
  // (factory name -> ms; from the tuning cache when `cached`).
  std::map<std::string, double> tuned_ms;
  std::string factory;  // the winner's factory name (with tuned_ms)
  bool cached = false;
};

class Plan;

class Session {
 public:
  Session(Graph g, SessionOptions opts = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // One tensor per graph input (Graph::inputs order); returns one plain tensor
  // per graph output (owned copies).
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);

  // Called after each node with each produced value as a plain FP32/any-dtype
  // tensor (a temporary view: copy what you keep). Slows execution; for
  // statistics collection and per-layer comparison.
  std::function<void(int value_id, const Tensor&)> observer;
  // When non-empty, the observer sees only values with these names: the rest
  // are not copied to plain layout (that copy is most of an observer's cost).
  std::set<std::string> observed;
  // The layout the observer accepts:
  // - Plain: every value as a plain (NCHW...) tensor; blocked ones are copied.
  // - AnyOrder: each sample's values in any order (min / max / histograms): a
  //   blocked value whose samples are contiguous and unpadded is handed over in
  //   its own layout, without a copy. The tensor's shape is then the logical
  //   one but its elements within a sample are permuted.
  // - ChannelBlocked: for per-channel observers that can read channels-last /
  //   channel-blocked 4-D data (NHWC, nChw8c, nChw16c, unpadded): such values
  //   are handed over in their own layout, which observed_blocking()
  //   describes; the rest are plain copies.
  enum class ObservedLayout { Plain, AnyOrder, ChannelBlocked };
  ObservedLayout observed_layout = ObservedLayout::Plain;
  struct ChannelBlocking {
    int64_t block = 0;  // channels per block (0: the tensor is plain NCHW / any plain layout)
    int64_t s_block = 0, s_h = 0, s_w = 0, s_n = 0;  // element strides; a channel c sits at
                                                     // (c / block) * s_block + c % block
  };
  // How the tensor handed to the observer for `value` (of the plan that is
  // running) is laid out. Valid inside the observer callback.
  ChannelBlocking observed_blocking(int value) const;

  const Graph& graph() const { return g_; }
  const SessionOptions& options() const { return opts_; }
  // Kernels of the most recently used plan, in execution order.
  std::vector<KernelRecord> kernels() const;
  // Build (without running) the plan for these input shapes; returns it for inspection.
  const Plan& prepare(const std::vector<Shape>& input_shapes);
  // The graph as specialised for the last plan (after folding).
  const Graph& planned_graph() const;
  // Per-node times of the last plan accumulated over the runs since it was
  // built or reset (empty unless options().profile).
  Profile profile() const;
  void reset_profile();

 private:
  Graph g_;
  SessionOptions opts_;
  std::map<std::vector<Shape>, std::unique_ptr<Plan>> plans_;
  Plan* last_ = nullptr;
};

}  // namespace c8
