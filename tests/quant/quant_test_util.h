#pragma once
// Small hand-built graphs for the quantization tests.
#include <algorithm>
#include <string>
#include <vector>

#include "eval/subset.h"
#include "ir/graph.h"
#include "quant/calibrate.h"

namespace c8test {

inline c8::Tensor randn_like(c8::Shape s, uint64_t seed, float scale = 1.f) {
  c8::SplitMix64 r(seed);
  c8::Tensor t(c8::DType::F32, s);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<float>()[i] = scale * (float(double(r.next() >> 11) * (1.0 / 9007199254740992.0)) * 2.f - 1.f);
  return t;
}

// Calibration images for the [N, 3, 8, 8] toy graphs: uniform in [-2, 2],
// `batch` per batch (the last one partial), batch b seeded seed + b.
inline c8::CalibSource random_source(size_t images, size_t batch, uint64_t seed) {
  c8::CalibSource s;
  s.images = images;
  s.batches = (images + batch - 1) / batch;
  s.get = [=](size_t b, size_t& nv) {
    nv = std::min(batch, images - b * batch);
    return randn_like({int64_t(nv), 3, 8, 8}, seed + b, 2.f);
  };
  return s;
}

struct GraphBuilder {
  c8::Graph g;
  uint64_t seed = 1;
  int input(const std::string& name, c8::Shape s) {
    int v = g.add_value(name, c8::DType::F32);
    g.values[size_t(v)].shape = s;
    g.values[size_t(v)].has_shape = true;
    g.inputs.push_back(v);
    return v;
  }
  int val(const std::string& name, c8::Shape s = {}) {
    int v = g.add_value(name, c8::DType::F32);
    if (!s.empty()) {
      g.values[size_t(v)].shape = s;
      g.values[size_t(v)].has_shape = true;
    }
    return v;
  }
  // Conv with a 3x3 (pads 1) or 1x1 kernel and a bias.
  int conv(const std::string& name, int x, int cin, int cout, int k, c8::Shape out_shape = {}) {
    int w = g.add_constant(name + ".w", randn_like({cout, cin, k, k}, seed++, 0.5f));
    int b = g.add_constant(name + ".b", randn_like({cout}, seed++, 0.1f));
    int y = val(name + ".out", out_shape);
    int n = g.add_node("Conv", {x, w, b}, {y}, name);
    g.nodes[size_t(n)].set_ints("kernel_shape", {k, k});
    if (k == 3) g.nodes[size_t(n)].set_ints("pads", {1, 1, 1, 1});
    return y;
  }
  int op(const std::string& type, const std::string& name, std::vector<int> ins, c8::Shape out_shape = {}) {
    int y = val(name + ".out", out_shape);
    g.add_node(type, ins, {y}, name);
    return y;
  }
  int node_id(const std::string& name) const {
    for (size_t i = 0; i < g.nodes.size(); ++i)
      if (g.nodes[i].name == name) return int(i);
    return -1;
  }
};

}  // namespace c8test
