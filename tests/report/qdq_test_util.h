#pragma once
// Test helper: a simple QDQ version of an FP32 model, independent of src/quant.
// Before every Conv, the activation input goes through QuantizeLinear (uint8,
// min/max of a few images, asymmetric) + DequantizeLinear, and the weights are
// quantized per output channel to int8 (symmetric, max |w| / 127) behind a
// DequantizeLinear(axis 0). Conv output names are unchanged.
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/graph.h"
#include "runtime/session.h"

namespace c8test {

inline c8::Graph make_qdq_model(const c8::Graph& fp32, const std::vector<c8::Tensor>& calib) {
  using namespace c8;
  Graph g = fp32;
  std::map<std::string, std::pair<float, float>> range;  // activation name -> (min, max)
  std::vector<std::string> wanted;
  for (const Node& n : g.nodes)
    if (!n.dead && n.op == "Conv") wanted.push_back(g.values[size_t(n.inputs[0])].name);
  auto add_range = [&](const std::string& nm, const Tensor& t) {
    Tensor f = t.cast(DType::F32);
    auto& r = range.emplace(nm, std::make_pair(0.f, 0.f)).first->second;  // range always includes 0
    const float* d = f.data<float>();
    for (int64_t i = 0; i < f.numel(); ++i) r.first = std::min(r.first, d[i]), r.second = std::max(r.second, d[i]);
  };
  SessionOptions so;
  so.optimize = false;
  Session s(g, so);
  for (const Tensor& x : calib) {
    s.prepare({x.shape});
    const Graph& pg = s.planned_graph();
    auto ids = std::make_shared<std::unordered_map<int, std::string>>();
    for (size_t v = 0; v < pg.values.size(); ++v)
      if (std::find(wanted.begin(), wanted.end(), pg.values[v].name) != wanted.end()) (*ids)[int(v)] = pg.values[v].name;
    s.observer = [&, ids](int id, const Tensor& t) {
      auto it = ids->find(id);
      if (it != ids->end()) add_range(it->second, t);
    };
    s.run({x});
    add_range(g.values[size_t(g.inputs[0])].name, x);  // graph inputs are not observed
  }
  std::map<int, int> dq_of;  // activation value -> its DequantizeLinear output
  size_t n0 = g.nodes.size();
  for (size_t ni = 0; ni < n0; ++ni) {
    if (g.nodes[ni].dead || g.nodes[ni].op != "Conv") continue;
    std::string base = g.nodes[ni].name.empty() ? "conv" + std::to_string(ni) : g.nodes[ni].name;
    int x = g.nodes[ni].inputs[0];
    if (!dq_of.count(x)) {
      auto r = range.at(g.values[size_t(x)].name);
      float scale = (r.second - r.first) / 255.f;
      if (!(scale > 0)) scale = 1.f;
      int zp = std::clamp(int(std::lround(-r.first / scale)), 0, 255);
      Tensor zt(DType::U8, {});
      zt.data<uint8_t>()[0] = uint8_t(zp);
      int sc = g.add_constant(g.unique_name(base + "_x_scale"), Tensor::scalar_f32(scale));
      int zpv = g.add_constant(g.unique_name(base + "_x_zp"), zt);
      int q = g.add_value(g.unique_name(base + "_x_q"), DType::U8);
      int dq = g.add_value(g.unique_name(base + "_x_dq"), DType::F32);
      g.add_node("QuantizeLinear", {x, sc, zpv}, {q}, base + "_x_QuantizeLinear");
      g.add_node("DequantizeLinear", {q, sc, zpv}, {dq}, base + "_x_DequantizeLinear");
      dq_of[x] = dq;
    }
    g.nodes[ni].inputs[0] = dq_of[x];
    const Tensor w = g.const_of(g.nodes[ni].inputs[1]).cast(DType::F32);
    int64_t oc = w.shape[0], per = w.numel() / oc;
    Tensor wq(DType::I8, w.shape), ws(DType::F32, {oc}), wz(DType::I8, {oc});
    for (int64_t o = 0; o < oc; ++o) {
      float m = 0;
      for (int64_t i = 0; i < per; ++i) m = std::max(m, std::fabs(w.data<float>()[o * per + i]));
      float sc = m > 0 ? m / 127.f : 1.f;
      ws.data<float>()[o] = sc;
      for (int64_t i = 0; i < per; ++i)
        wq.data<int8_t>()[o * per + i] =
            int8_t(std::clamp(std::nearbyint(w.data<float>()[o * per + i] / sc), -127.f, 127.f));
    }
    int wqv = g.add_constant(g.unique_name(base + "_w_q"), wq);
    int wsv = g.add_constant(g.unique_name(base + "_w_scale"), ws);
    int wzv = g.add_constant(g.unique_name(base + "_w_zp"), wz);
    int wdq = g.add_value(g.unique_name(base + "_w_dq"), DType::F32);
    int dn = g.add_node("DequantizeLinear", {wqv, wsv, wzv}, {wdq}, base + "_w_DequantizeLinear");
    g.nodes[size_t(dn)].set_i("axis", 0);
    g.nodes[ni].inputs[1] = wdq;
  }
  g.compact();
  return g;
}

}  // namespace c8test
