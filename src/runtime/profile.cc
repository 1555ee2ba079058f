#include "runtime/profile.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace c8 {

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  double pos = q * double(v.size() - 1);
  size_t lo = size_t(pos);
  size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - double(lo));
}

double Profile::total_ms() const {
  double t = 0;
  for (const auto& n : nodes) t += n.total_ms;
  return t;
}

bool is_ref_impl(const std::string& impl) {
  return impl == "ref" || impl.rfind("ref", 0) == 0 || impl.find(":ref") != std::string::npos;
}

bool is_reorder_impl(const std::string& impl) { return impl.find("reorder") != std::string::npos; }

std::string format_profile(const Profile& p, size_t limit) {
  std::string out;
  char buf[512];
  double total = p.total_ms();
  double runs = double(std::max<int64_t>(p.runs, 1));
  std::vector<size_t> idx(p.nodes.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return p.nodes[a].total_ms > p.nodes[b].total_ms; });
  std::snprintf(buf, sizeof buf, "profile: %lld runs, %.3f ms/run summed over nodes\n", (long long)p.runs, total / runs);
  out += buf;
  std::snprintf(buf, sizeof buf, "  %8s %6s %6s  %-16s %-40s %s\n", "ms/run", "%", "cum%", "op", "node", "impl");
  out += buf;
  double cum = 0;
  size_t shown = 0;
  for (size_t i : idx) {
    if (limit && shown++ >= limit) break;
    const NodeProfile& n = p.nodes[i];
    cum += n.total_ms;
    std::snprintf(buf, sizeof buf, "  %8.3f %6.2f %6.2f  %-16s %-40s %s\n", n.total_ms / runs,
                  total > 0 ? 100 * n.total_ms / total : 0, total > 0 ? 100 * cum / total : 0, n.op.c_str(),
                  n.node.substr(0, 40).c_str(), n.impl.c_str());
    out += buf;
  }
  std::map<std::string, std::pair<double, int>> by_op, by_impl;
  double reorder = 0, ref = 0, reorder_inside = 0;
  int n_reorder = 0, n_ref = 0;
  for (const auto& n : p.nodes) {
    by_op[n.op].first += n.total_ms;
    by_op[n.op].second++;
    by_impl[n.impl].first += n.total_ms;
    by_impl[n.impl].second++;
    if (is_reorder_impl(n.impl)) { reorder += n.total_ms; ++n_reorder; }
    reorder_inside += n.reorder_ms;
    if (is_ref_impl(n.impl)) { ref += n.total_ms; ++n_ref; }
  }
  auto dump = [&](const char* title, const std::map<std::string, std::pair<double, int>>& m) {
    std::vector<std::pair<std::string, std::pair<double, int>>> v(m.begin(), m.end());
    std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.second.first > b.second.first; });
    out += title;
    for (auto& [k, t] : v) {
      std::snprintf(buf, sizeof buf, "  %8.3f %6.2f  x%-4d %s\n", t.first / runs, total > 0 ? 100 * t.first / total : 0,
                    t.second, k.c_str());
      out += buf;
    }
  };
  dump("by op:\n", by_op);
  dump("by impl:\n", by_impl);
  std::snprintf(buf, sizeof buf, "reorders (view+reorder / +reorder kernels): %.3f ms/run (%.2f %%, %d nodes)\n",
                reorder / runs, total > 0 ? 100 * reorder / total : 0, n_reorder);
  out += buf;
  std::snprintf(buf, sizeof buf, "  of which layout conversion (timed): %.3f ms/run (%.2f %%)\n", reorder_inside / runs,
                total > 0 ? 100 * reorder_inside / total : 0);
  out += buf;
  std::snprintf(buf, sizeof buf, "reference kernels: %.3f ms/run (%.2f %%, %d nodes)\n", ref / runs,
                total > 0 ? 100 * ref / total : 0, n_ref);
  out += buf;
  return out;
}

static int64_t numel_known(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) {
    if (d < 0) return -1;
    n *= d;
  }
  return n;
}

double graph_gflop(const Graph& g) {
  double flop = 0;
  for (const Node& n : g.nodes) {
    if (n.dead || n.inputs.size() < 2 || n.outputs.empty() || n.outputs[0] < 0) continue;
    // INT8 layers count as the op they replaced (QConv = Conv, QGemm = Gemm without transA).
    std::string op = n.domain.empty() ? n.op : n.domain == "calibr8" && n.op == "QConv" ? "Conv"
                                             : n.domain == "calibr8" && n.op == "QGemm" ? "MatMul" : "";
    if (n.inputs[0] < 0 || n.inputs[1] < 0) continue;
    const Value& x = g.values[size_t(n.inputs[0])];
    const Value& w = g.values[size_t(n.inputs[1])];
    const Value& y = g.values[size_t(n.outputs[0])];
    if (!x.has_shape || !w.has_shape || !y.has_shape) continue;
    if (op == "Conv") {
      // each output element: C/group * prod(k) MACs; W is [M, C/g, k...]
      int64_t out = numel_known(y.shape), per = numel_known(w.shape);
      if (out < 0 || per < 0 || w.shape.empty() || w.shape[0] <= 0) continue;
      flop += 2.0 * double(out) * double(per / w.shape[0]);
    } else if (op == "ConvTranspose") {
      // each input element scatters into M/g * prod(k) outputs; W is [C, M/g, k...]
      int64_t in = numel_known(x.shape), per = numel_known(w.shape);
      if (in < 0 || per < 0 || w.shape.empty() || w.shape[0] <= 0 || x.shape.size() < 2 || x.shape[1] <= 0) continue;
      flop += 2.0 * double(in) * double(per / w.shape[0]);
    } else if (op == "Gemm") {
      if (x.shape.size() != 2 || y.shape.size() != 2) continue;
      int64_t K = n.attr_i("transA", 0) ? x.shape[0] : x.shape[1];
      int64_t out = numel_known(y.shape);
      if (out < 0 || K < 0) continue;
      flop += 2.0 * double(out) * double(K);
    } else if (op == "MatMul") {
      if (x.shape.empty()) continue;
      int64_t K = x.shape.back(), out = numel_known(y.shape);
      if (out < 0 || K < 0) continue;
      flop += 2.0 * double(out) * double(K);
    }
  }
  return flop * 1e-9;
}

}  // namespace c8
