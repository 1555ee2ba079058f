#include "quant/accuracy_aware.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "base/error.h"
#include "eval/agreement.h"
#include "runtime/session.h"

namespace c8 {
namespace {

// Metrics are ratios of counts: a drop exactly at the bound must count as
// within it despite the rounding of fp32 - max_drop.
constexpr double kTol = 1e-9;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// sum (a - b)^2 / sum a^2 of one image's outputs (eval/agreement.h's, as compare reports it).
double nmse(const std::vector<float>& ref, const std::vector<float>& x) {
  double cosine = 0, e = 0, max_abs = 0;
  similarity(ref.data(), x.data(), std::min(ref.size(), x.size()), cosine, e, max_abs);
  return e;
}

double mean_nmse(const std::vector<std::vector<float>>& ref, const std::vector<std::vector<float>>& x) {
  double s = 0;
  for (size_t i = 0; i < ref.size(); ++i) s += nmse(ref[i], x[i]);
  return ref.empty() ? 0 : s / double(ref.size());
}

std::vector<std::vector<float>> pick(const std::vector<std::vector<float>>& all, const std::vector<size_t>& at) {
  std::vector<std::vector<float>> r;
  for (size_t i : at) r.push_back(all[i]);
  return r;
}

// Milliseconds per run of each node (by name), median-free: the mean of a
// few profiled runs after a warm-up; enough to order layers by cost.
std::map<std::string, double> node_times(const Graph& g, const Tensor& x, int threads, Tune tune) {
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
  const std::vector<std::vector<float>> ref = v.run(fp32, rows);
  R.fp32 = v.metric(ref, rows);
  R.bound = a.relative ? R.fp32 * (1 - a.max_drop) : R.fp32 - a.max_drop;
  ++R.evaluations;

  CalibSettings base = s;
  size_t all_layers = 0;  // known after the Default calibration
  auto calibrate = [&](const std::vector<std::string>& reverted) {
    if (all_layers > 0 && reverted.size() >= all_layers) {  // nothing left to quantize: the FP32 model itself
      CalibResult f;
      f.graph = fp32;
      return f;
    }
    CalibSettings c = base;
    c.ignore.insert(c.ignore.end(), reverted.begin(), reverted.end());
    ++R.calibrations;
    return calibrate_graph(fp32, calib, c);
  };
  auto evaluate = [&](const Graph& g, std::vector<std::vector<float>>* outs = nullptr) {
    std::vector<std::vector<float>> o = v.run(g, rows);
    ++R.evaluations;
    const double m = v.metric(o, rows);
    if (outs) *outs = std::move(o);
    return m;
  };

  if (progress) progress("default", 0, 1);
  R.model = calibrate({});
  R.default_model = R.model.graph;
  all_layers = R.model.layer_names.size();
  std::vector<std::vector<float>> cur_out;
  double cur = evaluate(R.model.graph, &cur_out);
  const double perf_start = cur;
  if (cur < R.bound - kTol && a.try_mixed && base.preset == "performance") {
    // POT's preset step: asymmetric activations may recover what the
    // symmetric grid loses, before any layer is given up.
    if (progress) progress("mixed preset", 0, 1);
    base.preset = "mixed";
    CalibResult m = calibrate({});
    std::vector<std::vector<float>> m_out;
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

  if (cur < R.bound - kTol && !layers.empty()) {
    // ---- ranking subset: the images where INT8 and FP32 differ most ----
    std::vector<size_t> order(rows.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::vector<double> err(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) err[i] = nmse(ref[i], cur_out[i]);
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return err[x] > err[y]; });
    size_t k = a.ranking_images ? a.ranking_images : std::max<size_t>(50, rows.size() / 3);
    k = std::min(k, rows.size());
    order.resize(k);
    std::sort(order.begin(), order.end());
    std::vector<size_t> rank_rows;
    for (size_t i : order) rank_rows.push_back(rows[i]);
    const std::vector<std::vector<float>> rank_ref = pick(ref, order);
    const double base_err = mean_nmse(rank_ref, pick(cur_out, order));

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
    };
    std::vector<Cand> cands;
    for (size_t li = 0; li < layers.size(); ++li) {
      if (progress) progress("ranking layers", li, layers.size());
      const CalibResult c = calibrate({layers[li]});
      const std::vector<std::vector<float>> o = v.run(c.graph, rank_rows);
      ++R.ranking_evaluations;
      Cand cd;
      cd.layer = layers[li];
      cd.gain = base_err - mean_nmse(rank_ref, o);
      if (!t_fp32.empty()) {
        auto f = t_fp32.find(cd.layer), q = t_int8.find(cd.layer);
        // a layer the INT8 model runs no faster costs nothing to revert
        cd.cost_ms = (f != t_fp32.end() && q != t_int8.end()) ? std::max(0.0, f->second - q->second) : 0.0;
      }
      cands.push_back(cd);
    }
    if (progress) progress("ranking layers", layers.size(), layers.size());
    // Score: accuracy gain per millisecond given back (a floor of 1 % of the
    // model's INT8 time keeps free reverts from dividing by zero).
    double total_int8 = 0;
    for (const auto& [n, ms] : t_int8) total_int8 += ms;
    const double floor_ms = std::max(1e-4, 0.01 * total_int8);
    for (Cand& c : cands) c.score = a.performance_aware && !t_fp32.empty() ? c.gain / (c.cost_ms + floor_ms) : c.gain;
    std::stable_sort(cands.begin(), cands.end(), [](const Cand& x, const Cand& y) { return x.score > y.score; });
    R.ranking = nlohmann::json::array();
    for (const Cand& c : cands)
      R.ranking.push_back({{"layer", c.layer}, {"nmse_gain", c.gain}, {"revert_cost_ms", c.cost_ms}, {"score", c.score}});

    // ---- revert in rank order until the bound is met ----
    std::vector<std::string> reverted;
    std::vector<double> bought;  // what each kept revert added to the metric
    for (size_t ci = 0; ci < cands.size() && cur < R.bound - kTol; ++ci) {
      if (progress) progress("reverting layers", ci, cands.size());
      if (cands[ci].gain <= 0) break;  // nothing left that brings the output closer to FP32
      std::vector<std::string> trial = reverted;
      trial.push_back(cands[ci].layer);
      CalibResult c = calibrate(trial);
      const double m = evaluate(c.graph);
      const bool keep = m >= cur - kTol;  // POT: a revert that lowers accuracy is undone
      R.steps.push_back({cands[ci].layer, m, R.fp32 - m, keep});
      if (!keep) continue;
      reverted = std::move(trial);
      bought.push_back(m - cur);
      cur = m;
      R.model = std::move(c);
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
        reverted = std::move(trial);
        bought.erase(bought.begin() + long(k));
        cur = m;
        R.model = std::move(c);
      }
    R.reverted = reverted;
  }
  R.final_metric = cur;
  R.met = cur >= R.bound - kTol;

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
