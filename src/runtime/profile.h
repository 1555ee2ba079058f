#pragma once
// Per-node execution profile of a Session (SessionOptions::profile) and the
// arithmetic cost of a shape-specialised graph.
#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace c8 {

struct NodeProfile {
  std::string node, op, impl;
  double total_ms = 0;  // summed over all profiled runs
  int64_t calls = 0;
  double reorder_ms = 0;  // part of total_ms spent converting inputs to the kernel's layout
};

struct Profile {
  std::vector<NodeProfile> nodes;  // execution order
  int64_t runs = 0;
  double total_ms() const;
};

// True for impls that are data movement or slow fallbacks: "ref" kernels,
// view+reorder, and kernels that report an internal reorder ("+reorder").
bool is_reorder_impl(const std::string& impl);
bool is_ref_impl(const std::string& impl);

// q-quantile (0..1) of latency samples, linear between order statistics; 0 if empty.
double percentile(std::vector<double> v, double q);

// Human-readable report: nodes sorted by time (top `limit`, 0 = all), with op,
// impl, % of total, then totals by op / impl class.
std::string format_profile(const Profile& p, size_t limit = 0);

// 2 * multiply-accumulates of Conv / ConvTranspose / Gemm / MatMul nodes of a
// graph whose shapes are known (e.g. Session::planned_graph()), in GFLOP.
double graph_gflop(const Graph& g);

}  // namespace c8
