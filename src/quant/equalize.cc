#include "quant/equalize.h"

#include <algorithm>
#include <cmath>

namespace c8 {

namespace {

// Clip(0, b) with b > 0 (bounds as inputs, opset >= 11, or attributes).
bool clip_from_zero(const Graph& g, const Node& n) {
  float lo = n.attr_f("min", -INFINITY), hi = n.attr_f("max", INFINITY);
  if (n.input(1) >= 0) {
    if (!g.is_const(n.input(1)) || g.const_of(n.input(1)).numel() != 1) return false;
    lo = float(g.const_of(n.input(1)).get_f64(0));
  }
  if (n.input(2) >= 0) {
    if (!g.is_const(n.input(2)) || g.const_of(n.input(2)).numel() != 1) return false;
    hi = float(g.const_of(n.input(2)).get_f64(0));
  }
  return lo == 0.f && hi > 0.f;
}

bool only_reader(const std::vector<std::vector<int>>& cons, int v, int node) {
  return v >= 0 && cons[size_t(v)].size() == 1 && cons[size_t(v)][0] == node;
}

bool is_output(const Graph& g, int v) { return std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end(); }

// A 2-D convolution with a constant F32 weight [M, C/group, kh, kw].
bool plain_conv(const Graph& g, const Node& n) {
  if (n.op != "Conv" || !n.domain.empty() || n.dead || !g.is_const(n.input(1))) return false;
  const Tensor& w = g.const_of(n.input(1));
  if (w.dtype != DType::F32 || w.rank() != 4) return false;
  if (n.input(2) >= 0 && (!g.is_const(n.input(2)) || g.const_of(n.input(2)).dtype != DType::F32)) return false;
  return true;
}

}  // namespace

std::vector<EqualizeSite> find_equalize_sites(const Graph& g) {
  std::vector<EqualizeSite> sites;
  const auto cons = g.consumers();
  for (size_t di = 0; di < g.nodes.size(); ++di) {
    const Node& d = g.nodes[di];
    if (!plain_conv(g, d)) continue;
    const Tensor& dw = g.const_of(d.input(1));
    const int64_t group = d.attr_i("group", 1);
    // Depthwise: one input channel per group (any channel multiplier). A
    // plain convolution behind would take the factors into its weights'
    // columns, where its per-output-channel scales cannot absorb them: tried on
    // mobilenet_v1_0.25 (factors (R / r_c)^a, a = 0.5 and 1), the INT8 output's
    // cosine moved by -0.0007 / +0.0014, so only depthwise consumers are taken.
    if (group <= 1 || dw.shape[1] != 1 || dw.shape[0] % group != 0) continue;
    int v = d.input(0);
    if (v < 0 || is_output(g, v) || !only_reader(cons, v, int(di)) || !only_reader(cons, d.input(1), int(di))) continue;
    int act = -1, u = v;
    int pn = g.values[size_t(v)].producer;
    if (pn < 0) continue;
    const Node& a = g.nodes[size_t(pn)];
    if (a.op == "Relu" || (a.op == "Clip" && clip_from_zero(g, a))) {
      act = pn;
      u = a.input(0);
      if (u < 0 || is_output(g, u) || !only_reader(cons, u, act)) continue;
      pn = g.values[size_t(u)].producer;
      if (pn < 0) continue;
    }
    const Node& p = g.nodes[size_t(pn)];
    if (!plain_conv(g, p) || !p.post_ops.empty() || !d.post_ops.empty()) continue;
    if (!only_reader(cons, p.input(1), pn) || (p.input(2) >= 0 && !only_reader(cons, p.input(2), pn))) continue;
    const int64_t m = g.const_of(p.input(1)).shape[0];
    if (m != group) continue;
    sites.push_back({pn, act, int(di), v, int(m)});
  }
  return sites;
}

std::vector<double> equalize_factors(const std::vector<float>& channel_max) {
  double R = 0;
  for (float r : channel_max)
    if (std::isfinite(r)) R = std::max(R, double(r));
  std::vector<double> s(channel_max.size(), 1.0);
  if (R <= 0) return s;
  for (size_t c = 0; c < s.size(); ++c) {
    const double r = channel_max[c];
    // A channel that stayed at zero carries nothing to stretch.
    if (!(r > 0) || !std::isfinite(r)) continue;
    s[c] = std::min(R / r, kMaxEqualizeFactor);
  }
  return s;
}

nlohmann::json apply_equalization(Graph& g, const std::vector<EqualizeSite>& sites,
                                  const std::vector<std::vector<float>>& channel_max) {
  nlohmann::json rep = nlohmann::json::array();
  for (size_t i = 0; i < sites.size(); ++i) {
    const EqualizeSite& st = sites[i];
    const std::vector<double> s = equalize_factors(channel_max[i]);
    Node& p = g.nodes[size_t(st.producer)];
    Node& d = g.nodes[size_t(st.consumer)];
    // P's output channel c, bias c: x s_c.
    Tensor pw = g.const_of(p.input(1)).clone();
    const int64_t per_p = pw.numel() / pw.shape[0];
    float* pwd = pw.data<float>();
    for (int64_t c = 0; c < pw.shape[0]; ++c)
      for (int64_t k = 0; k < per_p; ++k) pwd[c * per_p + k] = float(double(pwd[c * per_p + k]) * s[size_t(c)]);
    g.values[size_t(p.input(1))].constant = pw;
    if (p.input(2) >= 0) {
      Tensor pb = g.const_of(p.input(2)).clone();
      float* b = pb.data<float>();
      for (int64_t c = 0; c < pb.numel(); ++c) b[c] = float(double(b[c]) * s[size_t(c)]);
      g.values[size_t(p.input(2))].constant = pb;
    }
    // D's output channel o reads input channel c = o / multiplier: / s_c.
    Tensor dw = g.const_of(d.input(1)).clone();
    const int64_t mult = dw.shape[0] / st.channels, per_d = dw.numel() / dw.shape[0];
    float* dwd = dw.data<float>();
    for (int64_t o = 0; o < dw.shape[0]; ++o)
      for (int64_t k = 0; k < per_d; ++k) dwd[o * per_d + k] = float(double(dwd[o * per_d + k]) / s[size_t(o / mult)]);
    g.values[size_t(d.input(1))].constant = dw;
    double smax = 1, slog = 0;
    for (double f : s) smax = std::max(smax, f), slog += std::log(f);
    rep.push_back({{"producer", p.name},
                   {"consumer", d.name},
                   {"value", g.values[size_t(st.value)].name},
                   {"channels", st.channels},
                   {"max_factor", smax},
                   {"geomean_factor", s.empty() ? 1.0 : std::exp(slog / double(s.size()))}});
  }
  return rep;
}

}  // namespace c8
