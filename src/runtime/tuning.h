#pragma once
// Kernel choice by measurement (issue "fastest on every CPU").
//
// Where several fast kernels accept a node and promise the same numbers
// (Kernel::contract(): "int8-exact" kernels give the same bits; "f32" ones
// differ only in float rounding), the planner times each on the node's real
// shapes and input layouts, the reorders a kernel does inside included, and
// keeps the fastest. A rule measured on one CPU is a guess on the next
// (oneDNN's INT8 depthwise loses to FP32 on Zen 4 and wins on Zen 5; the
// integer Winograd that wins on AVX2 loses to VNNI convolution), so rules in
// the factories only prune what cannot win; with BuildCtx::tuning set they
// let the measurement decide.
//
// Winners are cached per machine and node in
//   $XDG_CACHE_HOME/calibr8/tuning-1.json   (default ~/.cache/calibr8/tuning-1.json;
//   the file name carries the format, so two calibr8 versions never undo each other)
// {"format": "calibr8-tuning-1", "machines": {MACHINE: {NODE_KEY: {"winner": NAME, "ms": {NAME: ms, ...}}}}}
// MACHINE = CPU model, effective ISA, oneDNN version, timing method; NODE_KEY = op, threads
// and a hash of its attributes, post-ops, input/output types, shapes and
// layouts. A second load reads the winner instead of timing again.
//
// "int8-exact" kernels give the same bits, so any of them may win. "f32" ones
// (direct vs Winograd convolution) differ in float rounding: one displaces the
// fixed rules' kernel only when clearly faster (15 %), so timing noise does
// not flip FP32 output bits between two tunings, and the cache keeps the
// choice for the machine. A calibrated file never depends on timing:
// calibration runs with tuning off.
#include <dnnl.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/kernel.h"

namespace c8 {

// Exact (internal, never from the command line): no timing and no cache;
// each node runs the highest-priority kernel that keeps its numeric contract
// (what any tuning gives bit for bit on an INT8 node), and the fixed rules
// decide elsewhere. For decisions written into a calibrated file, which must
// not depend on timing (quant/fidelity.h).
enum class Tune { Off, Cached, Full, Exact };
// "off" | "cached" | "full"; throws c8::Error otherwise.
Tune parse_tune(const std::string& s);
const char* tune_name(Tune t);

// CPU model, family/model/stepping, oneDNN's effective ISA and version.
std::string machine_signature();
// What decides a kernel's speed on a node (not float attributes such as
// scales), plus the op's factory names and the kernel-switch variables
// (C8_WINOGRAD...): a new candidate or a changed switch means timing again.
std::string node_signature(const BuildCtx& ctx);

// Median-free, noise-tolerant timing: candidates run in turns (round robin),
// each time the best of several calls; returns ms per call for each. Before
// every call the kernel's weights (Kernel::prepared_data) and the node's
// constants are flushed from the caches and its activation inputs read back
// in, as a node finds them in a model.
std::vector<double> time_kernels(const std::vector<Kernel*>& kernels, const std::vector<const BuildCtx*>& ctxs,
                                 const dnnl::engine& eng, dnnl::stream& strm);

struct TuneRecord {
  std::string winner;
  std::map<std::string, double> ms;  // candidate name -> ms per call
};

// The on-disk cache, process-wide and thread-safe: loaded on first use (again
// when $XDG_CACHE_HOME / $HOME point elsewhere), saved when changed.
namespace tuning_cache {
bool find(const std::string& machine, const std::string& key, TuneRecord* out);
void put(const std::string& machine, const std::string& key, TuneRecord r);
void save();         // atomic; a cache that cannot be written is skipped with one warning
std::string path();  // "" when neither variable gives an absolute folder
}  // namespace tuning_cache

}  // namespace c8
