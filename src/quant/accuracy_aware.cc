#include "quant/accuracy_aware.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "base/error.h"
#include "eval/agreement.h"
#include "ir/onnx_export.h"
#include "runtime/session.h"

namespace c8 {

void output_similarity(const ImageOutputs& ref, const ImageOutputs& x, double& cosine, double& nmse) {
  cosine = 1;
  nmse = 0;
  if (ref.empty()) return;
  double cs = 0, e = 0;
  for (size_t o = 0; o < ref.size(); ++o) {
    if (o >= x.size() || ref[o].shape != x[o].shape) {
      e += 1;
      continue;
    }
    const Tensor a = ref[o].cast(DType::F32), b = x[o].cast(DType::F32);
    double c1 = 0, e1 = 0, max_abs = 0;
    similarity(a.data<float>(), b.data<float>(), size_t(a.numel()), c1, e1, max_abs);
    cs += c1;
    // at most 1, as a wholly different output: an output that is all zeros in
    // FP32 (a zero-padded box list) would otherwise divide by ~0 and drown the rest
    e += std::min(e1, 1.0);
  }
  cosine = cs / double(ref.size());
  nmse = e / double(ref.size());
}

double layer_macs(const Graph& g, const std::string& layer) {
  for (const Node& n : g.nodes) {
    if (n.dead || n.name != layer || n.outputs.empty() || n.outputs[0] < 0) continue;
    const Shape& out = g.values[size_t(n.outputs[0])].shape;
    auto known_product = [&](size_t from, size_t to) {
      double p = 1;
      for (size_t i = from; i < to && i < out.size(); ++i) p *= out[i] > 0 ? double(out[i]) : 1.0;
      return p;
    };
    const int w = n.inputs.size() > 1 ? n.inputs[1] : -1;
    if (!g.is_const(w)) return known_product(1, out.size());
    const double weights = double(g.const_of(w).numel());
    // Conv: every weight once per output pixel; Gemm / MatMul: once per row.
    if (n.op == "Conv") return weights * known_product(2, out.size());
    return weights * (out.size() > 2 ? known_product(1, out.size() - 1) : 1.0);
  }
  return 0;
}

namespace {

// Metrics are ratios of counts: a drop exactly at the bound must count as
// within it despite the rounding of fp32 - max_drop.
constexpr double kTol = 1e-9;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double nmse(const ImageOutputs& ref, const ImageOutputs& x) {
  double cosine = 0, e = 0;
  output_similarity(ref, x, cosine, e);
  return e;
}

double mean_nmse(const std::vector<ImageOutputs>& ref, const std::vector<ImageOutputs>& x) {
  double s = 0;
  for (size_t i = 0; i < ref.size(); ++i) s += nmse(ref[i], x[i]);
  return ref.empty() ? 0 : s / double(ref.size());
}

std::vector<ImageOutputs> pick(const std::vector<ImageOutputs>& all, const std::vector<size_t>& at) {
  std::vector<ImageOutputs> r;
  for (size_t i : at) r.push_back(all[i]);
  return r;
}

// Milliseconds per run of each node (by name), median-free: the mean of a
// few profiled runs after a warm-up; enough to order layers by cost.
std::map<std::string, double> measure_node_times(const Graph& g, const Tensor& x, int threads, Tune tune) {
  SessionOptions so;
  so.threads = threads;
  so.tune = tune;
  so.profile = true;
  Session s(g, so);
  s.run({x});
  s.reset_profile();
  constexpr int kRuns = 10;
  for (int i = 0; i < kRuns; ++i) s.run({x});
  std::map<std::string, double> t;
  const Profile p = s.profile();
  for (const NodeProfile& n : p.nodes) t[n.node] += n.total_ms / double(std::max<int64_t>(1, p.runs));
  return t;
}

// The FP32 tensor a layer's input quantizer reads and its grid, in a QDQ
// graph: layer <- DequantizeLinear <- QuantizeLinear(x, scale, zero point).
struct InputQuantizer {
  int x = -1;
  double lo = 0, hi = 0;  // values outside saturate at the grid's ends
};

InputQuantizer input_quantizer(const Graph& g, const std::string& layer) {
  InputQuantizer q;
  for (const Node& n : g.nodes) {
    if (n.dead || n.name != layer || n.inputs.empty() || n.inputs[0] < 0) continue;
    const int dq = g.values[size_t(n.inputs[0])].producer;
    if (dq < 0 || g.nodes[size_t(dq)].op != "DequantizeLinear") return q;
    const Node& d = g.nodes[size_t(dq)];
    const int qn = d.inputs.empty() || d.inputs[0] < 0 ? -1 : g.values[size_t(d.inputs[0])].producer;
    if (qn < 0 || g.nodes[size_t(qn)].op != "QuantizeLinear") return q;
    const Node& Q = g.nodes[size_t(qn)];
    if (Q.inputs.size() < 2 || !g.is_const(Q.inputs[1])) return q;
    const Tensor sc = g.const_of(Q.inputs[1]).cast(DType::F32);
    if (sc.numel() != 1) return q;
    const double scale = sc.data<float>()[0];
    double zp = 0, qmin = 0, qmax = 255;
    if (Q.inputs.size() > 2 && g.is_const(Q.inputs[2])) {
      const Tensor& z = g.const_of(Q.inputs[2]);
      if (z.dtype == DType::I8) qmin = -128, qmax = 127;
      zp = z.cast(DType::F32).data<float>()[0];
    }
    // x rounds to the grid's ends from half a step beyond them
    q.lo = (qmin - zp - 0.5) * scale;
    q.hi = (qmax - zp + 0.5) * scale;
    q.x = Q.inputs[0];
    return q;
  }
  return q;
}

// One layer quantized alone (g): the model outputs' cosine and NMSE against
// FP32 on the ranking images, and the share of the FP32 values its input
// quantizer reads that saturate. The quantizer's input is read as an extra
// model output, a few images at a time.
nlohmann::json sensitivity_of(const Graph& g_in, const std::string& layer, const Validation& v,
                              const std::vector<size_t>& rows, const std::vector<ImageOutputs>& ref) {
  Graph g = g_in;
  const InputQuantizer iq = input_quantizer(g, layer);
  const size_t n_out = g.outputs.size();
  if (iq.x >= 0) {
    int x = iq.x;
    if (g.values[size_t(x)].producer < 0) {  // a graph input: read it through an Identity
      const int y = g.add_value(g.unique_name(g.values[size_t(x)].name + "_observed"), g.values[size_t(x)].dtype);
      g.add_node("Identity", {x}, {y}, g.unique_name(layer + "_observe_input"));
      x = y;
    }
    g.outputs.push_back(x);
  }
  double cos_sum = 0, nmse_sum = 0;
  size_t images = 0;
  uint64_t values = 0, over = 0;
  constexpr size_t kChunk = 16;
  for (size_t first = 0; first < rows.size(); first += kChunk) {
    const std::vector<size_t> part(rows.begin() + long(first), rows.begin() + long(std::min(rows.size(), first + kChunk)));
    std::vector<ImageOutputs> outs = v.run(g, part);
    for (size_t k = 0; k < outs.size(); ++k) {
      ImageOutputs& o = outs[k];
      if (iq.x >= 0 && o.size() > n_out) {
        const Tensor t = o[n_out].cast(DType::F32);
        const float* p = t.data<float>();
        for (int64_t i = 0; i < t.numel(); ++i) over += p[i] < iq.lo || p[i] > iq.hi;
        values += uint64_t(t.numel());
        o.resize(n_out);
      }
      double cs = 0, e = 0;
      output_similarity(ref[first + k], o, cs, e);
      cos_sum += cs;
      nmse_sum += e;
      ++images;
    }
  }
  nlohmann::json j = {{"layer", layer},
                      {"cosine", images ? cos_sum / double(images) : 1.0},
                      {"nmse", images ? nmse_sum / double(images) : 0.0}};
  j["overflow_rate"] = values ? nlohmann::json(double(over) / double(values)) : nlohmann::json();
  return j;
}

// measure_node_times, kept per machine and model in the kernel tuning cache
// (runtime/tuning.h) as kernel choices are: timings differ from run to run,
// so without it two performance-ranked runs of one model could give back
// different layers. With --tune cached a second run reads the first run's
// times and makes the same choices; full measures again (and stores); off
// measures and keeps nothing.
std::map<std::string, double> node_times(const Graph& g, const Tensor& x, int threads, Tune tune) {
  if (tune == Tune::Off) return measure_node_times(g, x, threads, tune);
  const std::string machine = machine_signature() + "|threads " + std::to_string(threads);
  const std::string key = std::string("accuracy-aware node times|") +
                          std::to_string(std::hash<std::string>{}(onnx_bytes(g))) + "|" + shape_str(x.shape);
  TuneRecord r;
  if (tune == Tune::Cached && tuning_cache::find(machine, key, &r) && !r.ms.empty()) return r.ms;
  r.winner = "";
  r.ms = measure_node_times(g, x, threads, tune);
  tuning_cache::put(machine, key, r);
  tuning_cache::save();
  return r.ms;
}

}  // namespace

AccuracyAwareResult accuracy_aware_quantize(const Graph& fp32, const CalibSource& calib, const CalibSettings& s,
                                            const Validation& v, const AccuracyAwareSettings& a,
                                            const AccuracyAwareProgress& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!v.run || !v.metric || v.images == 0) throw Error("accuracy-aware: no validation images");
  if (!(a.max_drop >= 0) || !std::isfinite(a.max_drop)) throw Error("--max-drop must be a non-negative number");
  AccuracyAwareResult R;
  const std::set<size_t> held(a.holdout.begin(), a.holdout.end());
  std::vector<size_t> rows;  // the decision images
  for (size_t i = 0; i < v.images; ++i)
    if (!held.count(i)) rows.push_back(i);
  if (rows.empty()) throw Error("accuracy-aware: --holdout leaves no images to decide on");

  // FP32 reference, once: its outputs are the ranking's yardstick.
  const std::vector<ImageOutputs> ref = v.run(fp32, rows);
  R.fp32 = v.metric(ref, rows);
  R.bound = a.relative ? R.fp32 * (1 - a.max_drop) : R.fp32 - a.max_drop;
  ++R.evaluations;

  // Every calibration below differs from the others only in ignored layers
  // (and maybe the preset): statistics and bias shifts are measured once and
  // reused (quant/calibrate.h CalibCache), so a revert costs a graph rebuild,
  // not two FP32 passes over the calibration images.
  CalibCache cache;
  CalibSettings base = s;
  base.cache = &cache;
  size_t all_layers = 0;  // known after the Default calibration
  // The Default calibration runs the FP32 passes and reports their progress;
  // the rest reuse them.
  auto calibrate = [&](const std::vector<std::string>& reverted, const PassProgress& passes = {}) {
    if (all_layers > 0 && reverted.size() >= all_layers) {  // nothing left to quantize: the FP32 model itself
      CalibResult f;
      f.graph = fp32;
      return f;
    }
    CalibSettings c = base;
    c.ignore.insert(c.ignore.end(), reverted.begin(), reverted.end());
    if (!a.revert_reason.empty())
      for (const std::string& l : reverted) c.ignore_reasons[l] = a.revert_reason;
    ++R.calibrations;
    return calibrate_graph(fp32, calib, c, passes);
  };
  auto evaluate = [&](const Graph& g, std::vector<ImageOutputs>* outs = nullptr) {
    std::vector<ImageOutputs> o = v.run(g, rows);
    ++R.evaluations;
    const double m = v.metric(o, rows);
    if (outs) *outs = std::move(o);
    return m;
  };

  if (progress) progress("default", 0, 1);
  R.model = calibrate({}, progress);
  R.default_model = R.model.graph;
  R.seconds_stats = R.model.seconds_stats;
  R.seconds_bias = R.model.seconds_bias;
  all_layers = R.model.layer_names.size();
  std::vector<ImageOutputs> cur_out;
  double cur = evaluate(R.model.graph, &cur_out);
  const double perf_start = cur;
  if (cur < R.bound - kTol && a.try_mixed && base.preset == "performance") {
    // POT's preset step: asymmetric activations may recover what the
    // symmetric grid loses, before any layer is given up.
    if (progress) progress("mixed preset", 0, 1);
    base.preset = "mixed";
    CalibResult m = calibrate({});
    std::vector<ImageOutputs> m_out;
    const double mm = evaluate(m.graph, &m_out);
    R.steps.push_back({"", cur, R.fp32 - cur, true, "default"});
    const bool better = mm > cur + kTol;
    R.steps.push_back({"", mm, R.fp32 - mm, better, "mixed preset"});
    if (better) {
      R.model = std::move(m);
      R.default_model = R.model.graph;
      cur = mm;
      cur_out = std::move(m_out);
    } else {
      base.preset = "performance";
    }
  }
  R.preset = base.preset;
  R.start = perf_start;
  if (R.steps.empty()) R.steps.push_back({"", cur, R.fp32 - cur, true, "default"});
  const std::vector<std::string> layers = R.model.layer_names;
  R.layers = layers.size();

  // ---- ranking subset: the images where INT8 and FP32 differ most ----
  std::vector<size_t> rank_rows;
  std::vector<ImageOutputs> rank_ref;
  double base_err = 0;
  if (!layers.empty() && (cur < R.bound - kTol || a.sensitivity)) {
    std::vector<size_t> order(rows.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::vector<double> err(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) err[i] = nmse(ref[i], cur_out[i]);
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return err[x] > err[y]; });
    size_t k = a.ranking_images ? a.ranking_images : std::max<size_t>(50, rows.size() / 3);
    k = std::min(k, rows.size());
    order.resize(k);
    std::sort(order.begin(), order.end());
    for (size_t i : order) rank_rows.push_back(rows[i]);
    rank_ref = pick(ref, order);
    base_err = mean_nmse(rank_ref, pick(cur_out, order));
  }
  if (a.sensitivity && !layers.empty()) {
    // On a copy of the cache: the table's variants must not leave bias
    // shifts the search then reuses, or skipping the table (--no-sensitivity)
    // would change the model the search writes.
    CalibCache table_cache = cache;
    CalibCache* search_cache = base.cache;
    base.cache = &table_cache;
    std::vector<std::string> others;
    R.sensitivity = nlohmann::json::array();
    for (size_t li = 0; li < layers.size(); ++li) {
      if (progress) progress("layer sensitivity", li, layers.size());
      others.clear();
      for (size_t j = 0; j < layers.size(); ++j)
        if (j != li) others.push_back(layers[j]);
      const CalibResult c = calibrate(others);
      --R.calibrations;  // counted apart: the table is a report, not part of the search
      R.sensitivity.push_back(sensitivity_of(c.graph, layers[li], v, rank_rows, rank_ref));
      ++R.sensitivity_passes;
    }
    if (progress) progress("layer sensitivity", layers.size(), layers.size());
    base.cache = search_cache;
    cache.stats_passes = table_cache.stats_passes;  // the passes the table ran count too
    cache.bias_passes = table_cache.bias_passes;
  }

  if (cur < R.bound - kTol && !layers.empty()) {

    // ---- what reverting each layer costs in time ----
    std::map<std::string, double> t_fp32, t_int8;
    if (a.performance_aware && v.sample_input) {
      const Tensor x = v.sample_input();
      t_fp32 = node_times(fp32, x, a.threads, a.tune);
      t_int8 = node_times(R.model.graph, x, a.threads, a.tune);
    }

    // ---- rank: each layer reverted alone ----
    struct Cand {
      std::string layer;
      double gain = 0, cost_ms = 0, score = 0;
      double fp32_ms = -1, int8_ms = -1;  // the layer's measured times (-1: not timed)
    };
    // The compute cap (max_revert_share) and the candidate limit
    // (max_candidates) count each layer's multiply-adds in the FP32 graph.
    std::map<std::string, double> macs;
    double all_macs = 0;
    for (const std::string& l : layers) all_macs += (macs[l] = layer_macs(fp32, l));
    std::vector<std::string> ranked = layers;
    if (a.max_candidates > 0 && ranked.size() > a.max_candidates) {
      std::stable_sort(ranked.begin(), ranked.end(), [&](const std::string& x, const std::string& y) { return macs[x] < macs[y]; });
      ranked.resize(a.max_candidates);
    }
    std::vector<Cand> cands;
    for (size_t li = 0; li < ranked.size(); ++li) {
      if (progress) progress("ranking layers", li, ranked.size());
      const CalibResult c = calibrate({ranked[li]});
      const std::vector<ImageOutputs> o = v.run(c.graph, rank_rows);
      ++R.ranking_evaluations;
      Cand cd;
      cd.layer = ranked[li];
      cd.gain = base_err - mean_nmse(rank_ref, o);
      if (!t_fp32.empty()) {
        auto f = t_fp32.find(cd.layer), q = t_int8.find(cd.layer);
        // a layer the INT8 model runs no faster costs nothing to revert
        cd.cost_ms = (f != t_fp32.end() && q != t_int8.end()) ? std::max(0.0, f->second - q->second) : 0.0;
        if (f != t_fp32.end()) cd.fp32_ms = f->second;
        if (q != t_int8.end()) cd.int8_ms = q->second;
      }
      cands.push_back(cd);
    }
    if (progress) progress("ranking layers", ranked.size(), ranked.size());
    // Score: accuracy gain per millisecond given back (a floor of 1 % of the
    // model's INT8 time keeps free reverts from dividing by zero).
    double total_int8 = 0;
    for (const auto& [n, ms] : t_int8) total_int8 += ms;
    const double floor_ms = std::max(1e-4, 0.01 * total_int8);
    for (Cand& c : cands) c.score = a.performance_aware && !t_fp32.empty() ? c.gain / (c.cost_ms + floor_ms) : c.gain;
    std::stable_sort(cands.begin(), cands.end(), [](const Cand& x, const Cand& y) { return x.score > y.score; });
    R.ranking = nlohmann::json::array();
    for (const Cand& c : cands) {
      R.ranking.push_back({{"layer", c.layer}, {"nmse_gain", c.gain}, {"revert_cost_ms", c.cost_ms}, {"score", c.score}});
      if (c.fp32_ms >= 0) R.ranking.back()["fp32_ms"] = c.fp32_ms;
      if (c.int8_ms >= 0) R.ranking.back()["int8_ms"] = c.int8_ms;
    }

    // ---- revert in rank order until the bound is met ----
    std::vector<std::string> reverted;
    std::vector<double> bought;  // what each kept revert added to the metric
    // POT undoes a revert that lowered accuracy and re-ranks. A revert judged
    // on a few hundred images is often undone by one or two images of noise,
    // and the same layer helps once others are back in FP32: while a pass
    // over the candidates kept something and the bound is not met, the
    // undone ones are tried again, in rank order, from the new state (no new
    // ranking passes; each try is one evaluation).
    std::vector<size_t> todo;
    for (size_t ci = 0; ci < cands.size() && cands[ci].gain > 0; ++ci) todo.push_back(ci);  // gain <= 0: no closer to FP32
    // The compute cap (max_revert_share): each layer's multiply-adds in the
    // FP32 graph, against all quantized layers'.
    double reverted_macs = 0;
    auto within_cap = [&](const std::string& l) {
      return a.max_revert_share >= 1 || reverted_macs + macs[l] <= a.max_revert_share * all_macs;
    };
    for (bool progressed = true; progressed && !todo.empty() && cur < R.bound - kTol;) {
      progressed = false;
      std::vector<size_t> undone;
      for (size_t ti = 0; ti < todo.size(); ++ti) {
        if (cur >= R.bound - kTol) break;
        const size_t ci = todo[ti];
        if (!within_cap(cands[ci].layer)) continue;  // dropped for good: the cap only tightens
        if (progress) progress("reverting layers", ti, todo.size());
        std::vector<std::string> trial = reverted;
        trial.push_back(cands[ci].layer);
        CalibResult c = calibrate(trial);
        const double m = evaluate(c.graph);
        const bool keep = m >= cur - kTol;  // POT: a revert that lowers accuracy is undone
        R.steps.push_back({cands[ci].layer, m, R.fp32 - m, keep});
        if (!keep) {
          undone.push_back(ci);
          continue;
        }
        progressed = true;
        reverted = std::move(trial);
        if (a.max_revert_share < 1) reverted_macs += macs[cands[ci].layer];
        bought.push_back(m - cur);
        cur = m;
        R.model = std::move(c);
      }
      todo = std::move(undone);
    }
    // A kept revert that changed nothing measurable (POT keeps it) costs
    // speed for no accuracy: once the bound is met, each is tried back in
    // INT8, latest first, and stays INT8 if the bound still holds.
    if (cur >= R.bound - kTol)
      for (size_t k = reverted.size(); k-- > 0;) {
        if (bought[k] > kTol) continue;
        std::vector<std::string> trial = reverted;
        trial.erase(trial.begin() + long(k));
        CalibResult c = calibrate(trial);
        const double m = evaluate(c.graph);
        const bool keep = m >= R.bound - kTol;
        R.steps.push_back({reverted[k], m, R.fp32 - m, keep, "restore"});
        if (!keep) continue;
        if (a.max_revert_share < 1) reverted_macs -= macs[reverted[k]];
        reverted = std::move(trial);
        bought.erase(bought.begin() + long(k));
        cur = m;
        R.model = std::move(c);
      }
    R.reverted = reverted;
  }
  R.final_metric = cur;
  R.met = cur >= R.bound - kTol;
  R.statistics_passes = cache.stats_passes;
  R.bias_passes = cache.bias_passes;

  if (!a.holdout.empty()) {
    const std::vector<size_t> h(held.begin(), held.end());
    const double f = v.metric(v.run(fp32, h), h), q = v.metric(v.run(R.model.graph, h), h);
    const double drop = f - q, bound_drop = a.relative ? f * a.max_drop : a.max_drop;
    R.holdout = {{"images", h.size()}, {"fp32", f}, {"int8", q}, {"drop", drop}, {"within_bound", drop <= bound_drop + kTol}};
  }
  R.seconds = seconds_since(t0);
  return R;
}

}  // namespace c8
