// Fuzz target: the ONNX importer and what every command does next with a
// model (the checks of `info` and the others, then the fast runtime's plan and
// one run on zero inputs when the inputs are small). Seeds: the repo's models
// and ONNX's conformance models (scripts/fuzz.sh).
#include <cstdint>
#include <vector>

#include "fuzz_util.h"
#include "ir/onnx_import.h"
#include "base/error.h"
#include "runtime/ref_executor.h"
#include "runtime/session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    c8::Graph g = c8::load_onnx_bytes(data, size, "fuzz.onnx", "");
    if (!c8::unsupported_nodes(g).empty()) return 0;
    // Run only models whose inputs are fully known and small: the point is
    // the planner and kernels on odd graphs, not the machine's memory.
    std::vector<c8::Tensor> inputs;
    int64_t total = 0;
    for (int id : g.inputs) {
      const c8::Value& v = g.values[id];
      if (!v.has_shape || v.dtype == c8::DType::Undefined) return 0;
      int64_t n = 1;
      for (int64_t d : v.shape) {
        if (d < 1 || d > 4096) return 0;
        n *= d;
        if (n > (1 << 16)) return 0;
      }
      total += n;
      if (total > (1 << 16)) return 0;
      inputs.emplace_back(v.dtype, v.shape);
    }
    if (g.nodes.size() > 64) return 0;
    c8::Session s(std::move(g));
    s.run(inputs);
  } catch (const c8::Error&) {
    // the expected way out for a bad model
  }
  return 0;
}
