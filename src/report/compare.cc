#include "report/compare.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include "report/precision.h"
#include "base/error.h"
#include "runtime/profile.h"

namespace c8 {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

uint64_t file_size_or_zero(const std::string& p) {
  std::error_code ec;
  auto n = std::filesystem::file_size(p, ec);
  return ec ? 0 : uint64_t(n);
}

}  // namespace

std::pair<size_t, size_t> parse_image_range(const std::string& spec, size_t n) {
  if (spec.empty()) throw Error("--range is empty; expected A:B");
  auto num = [&](const std::string& s, size_t def) -> size_t {
    if (s.empty()) return def;
    if (s.size() > 18) throw Error("--range '" + spec + "': number too large");
    for (char ch : s)
      if (ch < '0' || ch > '9') throw Error("--range '" + spec + "': expected A:B with non-negative integers");
    return size_t(std::stoull(s));
  };
  size_t colon = spec.find(':');
  size_t a = colon == std::string::npos ? 0 : num(spec.substr(0, colon), 0);
  size_t b = colon == std::string::npos ? num(spec, n) : num(spec.substr(colon + 1), n);
  b = std::min(b, n);
  if (a >= b) throw Error("--range '" + spec + "' selects no images (data set has " + std::to_string(n) + ")");
  return {a, b};
}

void LatencyStats::finish(int64_t batch) {
  if (ms.empty()) return;
  median_ms = percentile(ms, 0.5);
  p90_ms = percentile(ms, 0.9);
  double sum = 0;
  for (double x : ms) sum += x;
  mean_ms = sum / double(ms.size());
  min_ms = *std::min_element(ms.begin(), ms.end());
  throughput_ips = sum > 0 ? double(ms.size()) * double(batch) / (sum * 1e-3) : 0;
}

std::vector<LayerRow> compare_layers(const Graph& a, const Graph& b, const std::vector<Tensor>& inputs, int threads,
                                     const CompareProgress& progress) {
  // Rows: B's compute layers in execution order, then B's graph outputs.
  std::vector<LayerRow> rows;
  std::set<std::string> seen;
  for (int ni : b.topo_order()) {
    const Node& n = b.nodes[size_t(ni)];
    if (!is_layer_op(n) || n.outputs.empty() || n.outputs[0] < 0) continue;
    LayerRow r;
    r.name = b.values[size_t(n.outputs[0])].name;
    r.node = n.name;
    r.op = n.op;
    if (seen.insert(r.name).second) rows.push_back(r);
  }
  for (int v : b.outputs) {
    LayerRow r;
    r.name = b.values[size_t(v)].name;
    int p = b.values[size_t(v)].producer;
    r.node = p >= 0 ? b.nodes[size_t(p)].name : "";
    r.op = p >= 0 ? b.nodes[size_t(p)].op : "(input)";
    if (seen.insert(r.name).second) rows.push_back(r);
  }
  std::unordered_map<std::string, size_t> row_of;
  for (size_t i = 0; i < rows.size(); ++i) row_of[rows[i].name] = i;
  for (LayerRow& r : rows)
    if (a.find_value(r.name) < 0) r.note = "no value of this name in A";

  SessionOptions so;
  so.threads = threads;
  so.optimize = false;
  Session sa(a, so), sb(b, so);
  std::vector<std::map<std::string, Tensor>> got(2);
  auto hook = [&](Session& s, std::map<std::string, Tensor>& dst, const Tensor& x) {
    std::vector<Shape> shapes{x.shape};
    s.prepare(shapes);
    const Graph& pg = s.planned_graph();
    auto ids = std::make_shared<std::unordered_map<int, std::string>>();
    for (size_t v = 0; v < pg.values.size(); ++v)
      if (row_of.count(pg.values[v].name)) (*ids)[int(v)] = pg.values[v].name;
    s.observer = [ids, &dst](int id, const Tensor& t) {
      auto it = ids->find(id);
      if (it != ids->end()) dst[it->second] = t.cast(DType::F32).clone();
    };
    std::vector<Tensor> outs = s.run({x});
    // Graph outputs (and values folded to constants) are not always observed.
    for (size_t k = 0; k < outs.size() && k < s.graph().outputs.size(); ++k) {
      const std::string& nm = s.graph().values[size_t(s.graph().outputs[k])].name;
      if (row_of.count(nm) && !dst.count(nm)) dst[nm] = outs[k].cast(DType::F32).clone();
    }
    for (size_t v = 0; v < pg.values.size(); ++v)
      if (pg.values[v].constant && row_of.count(pg.values[v].name) && !dst.count(pg.values[v].name))
        dst[pg.values[v].name] = pg.values[v].constant->cast(DType::F32).clone();
  };
  std::vector<double> sum_cos(rows.size(), 0), sum_nmse(rows.size(), 0);
  for (size_t in = 0; in < inputs.size(); ++in) {
    const Tensor& x = inputs[in];
    got[0].clear();
    got[1].clear();
    hook(sa, got[0], x);
    hook(sb, got[1], x);
    int64_t n = x.shape.empty() ? 1 : x.shape[0];
    for (size_t ri = 0; ri < rows.size(); ++ri) {
      LayerRow& r = rows[ri];
      auto ia = got[0].find(r.name), ib = got[1].find(r.name);
      if (ia == got[0].end() || ib == got[1].end()) {
        if (r.note.empty()) r.note = ia == got[0].end() ? "not observed in A" : "not observed in B";
        continue;
      }
      const Tensor &ta = ia->second, &tb = ib->second;
      if (ta.shape != tb.shape) {
        r.note = "shape " + shape_str(ta.shape) + " in A vs " + shape_str(tb.shape) + " in B";
        continue;
      }
      int64_t parts = (n > 1 && !ta.shape.empty() && ta.shape[0] == n) ? n : 1;
      size_t per = size_t(ta.numel() / parts);
      for (int64_t p = 0; p < parts; ++p) {
        double c, e, m;
        similarity(ta.data<float>() + size_t(p) * per, tb.data<float>() + size_t(p) * per, per, c, e, m);
        sum_cos[ri] += c;
        sum_nmse[ri] += e;
        r.nmse_max = std::max(r.nmse_max, e);
        r.max_abs = std::max(r.max_abs, m);
        r.images++;
      }
    }
    if (progress) progress("layers", in + 1, inputs.size());
  }
  for (size_t ri = 0; ri < rows.size(); ++ri) {
    LayerRow& r = rows[ri];
    r.matched = r.images > 0 && r.note.empty();
    if (r.images > 0) {
      r.cosine = sum_cos[ri] / r.images;
      r.nmse = sum_nmse[ri] / r.images;
    }
  }
  return rows;
}

void assign_layer_precision(std::vector<LayerRow>& rows, const Graph& b, const Session& b_fast) {
  std::unordered_map<std::string, int> node_of;  // output name -> node id
  for (int ni : b.topo_order())
    for (int o : b.nodes[size_t(ni)].outputs)
      if (o >= 0) node_of[b.values[size_t(o)].name] = ni;
  for (LayerRow& r : rows) {
    auto it = node_of.find(r.name);
    if (it == node_of.end()) {
      r.precision = "FP32";
      r.weights = "-";
      continue;
    }
    const Node& n = b.nodes[size_t(it->second)];
    if (!is_layer_op(n)) {
      r.precision = "FP32";
      r.weights = "-";
    } else {
      LayerPrecision lp = static_precision(b, n);
      r.precision = lp.input;
      r.weights = lp.weights + (lp.weight_quant.empty() ? "" : " " + lp.weight_quant);
    }
    RanAs ran = find_kernel_for_layer(b, it->second, b_fast);
    if (ran.found) {
      r.impl = ran.impl;
      std::string kp = kernel_precision(ran.impl, ran.in_dtype);
      if (!kp.empty()) {
        r.int8_kernel = true;
        r.precision = kp;
      } else if (ran.in_dtype == DType::U8 || ran.in_dtype == DType::I8) {
        r.precision = precision_name(ran.in_dtype);  // fused node reading 8-bit data, float arithmetic
      }
    }
  }
}

void bench_interleaved(const std::vector<Session*>& ss, const std::vector<Tensor>& inputs, double seconds, int warmup,
                       std::vector<LatencyStats>& stats, int* rounds) {
  const size_t m = ss.size();
  stats.assign(m, LatencyStats{});
  if (m == 0) return;
  for (int i = 0; i < std::max(1, warmup); ++i)
    for (Session* s : ss) s->run(inputs);
  auto once = [&](Session& s) {
    double t = now_s();
    s.run(inputs);
    return now_s() - t;
  };
  // Blocks of about 10 ms of each model, the order rotated every round.
  std::vector<int> n(m);
  for (size_t k = 0; k < m; ++k) n[k] = int(std::clamp(0.01 / std::max(once(*ss[k]), 1e-6), 1.0, 1000.0));
  double t0 = now_s();
  int r = 0;
  while (r < 2 || now_s() - t0 < seconds) {
    for (size_t j = 0; j < m; ++j) {
      // two models: A B, B A, ... (each round swaps); more: rotated
      const size_t k = m == 2 ? (r % 2 == 0 ? j : 1 - j) : (j + size_t(r)) % m;
      for (int i = 0; i < n[k]; ++i) stats[k].ms.push_back(once(*ss[k]) * 1e3);
    }
    ++r;
  }
  int64_t batch = inputs.empty() || inputs[0].shape.empty() ? 1 : inputs[0].shape[0];
  for (LatencyStats& l : stats) l.finish(batch);
  if (rounds) *rounds = r;
}

void bench_interleaved(Session& a, Session& b, const std::vector<Tensor>& inputs, double seconds, int warmup,
                       LatencyStats& la, LatencyStats& lb, int* rounds) {
  std::vector<LatencyStats> st;
  bench_interleaved({&a, &b}, inputs, seconds, warmup, st, rounds);
  la = std::move(st[0]);
  lb = std::move(st[1]);
}

namespace {

// Both models over the same images in one pass: the task's accuracy of each
// when the data set is annotated, and always how far B's outputs are from
// A's (eval/agreement.h). Without annotations (or with a task the data set
// cannot score) accuracy is skipped with a note, and the rest goes on.
void evaluate_both(Session& sa, Session& sb, const Graph& a, const Graph& b, const Dataset& ds,
                   const std::vector<size_t>& idx, int batch, const CompareConfig& c, CompareResult& res,
                   const CompareProgress& progress) {
  const int64_t fixed = c.fixed_batch;
  const std::vector<Shape> outs = output_shapes(sa, c.input, batch);
  const Shape out = outs.empty() ? Shape{} : outs[0];
  // --label-ids counts as naming the task (detection): refused in one line where it does not fit
  const bool flags = !c.task.empty() || !c.adapter.empty() || !c.pre.label_ids.empty();
  std::string missing;
  const bool labelled = has_annotations(ds, idx, &missing);
  if (labelled || flags) {
    try {
      res.task = choose_task(ds, c.path_a, outs, c.task, c.adapter, c.pre.label_ids);
      res.has_task = true;
    } catch (const Error& e) {
      if (flags) throw;  // what the user named does not fit: say so
      missing = e.what();  // e.g. no decoder for this output: the outputs are still compared
    }
  } else if (out.size() == 2) {  // [N, classes]: top-1 agreement needs no labels
    res.task = {Task::Classify, "topk", "output [N, classes]"};
    res.has_task = true;
  }
  // Accuracy only where the annotations score the chosen task (class labels
  // do not score a detector run with --task detect).
  Task ann_task;
  res.annotated = labelled && res.has_task && annotation_task(ds, ann_task) && ann_task == res.task.task;
  if (labelled && res.has_task && !res.annotated)
    missing = std::string("the data set's annotations score ") + task_name(ann_task) + ", not " +
              task_name(res.task.task);
  if (!res.annotated)
    res.accuracy_note = ds.root() + ": " + (missing.empty() ? "data set has no annotations" : missing) +
                        "; accuracy needs labels (labels.txt, class folders, IDX) or list.txt with VOC XML boxes / "
                        "PNG masks. Comparing the outputs only" +
                        (res.has_task ? "" : " (--task detect|segment adds box / pixel agreement)") + ".";
  // B's outputs in A's order, matched by name when both name the same set
  // (an exporter may reorder them); else by position.
  std::vector<size_t> order_b;
  {
    std::map<std::string, size_t> pos_b;
    for (size_t i = 0; i < b.outputs.size(); ++i) pos_b[b.values[size_t(b.outputs[i])].name] = i;
    for (int v : a.outputs) {
      auto it = pos_b.find(a.values[size_t(v)].name);
      if (it == pos_b.end() || a.outputs.size() != b.outputs.size()) {
        order_b.clear();
        break;
      }
      order_b.push_back(it->second);
    }
    if (order_b.empty())
      for (size_t i = 0; i < std::min(a.outputs.size(), b.outputs.size()); ++i) order_b.push_back(i);
  }
  std::vector<std::string> names;
  for (int v : a.outputs) names.push_back(a.values[size_t(v)].name);
  names.resize(order_b.size());
  AgreementScorer agree(names, res.has_task ? &res.task : nullptr, c.pre, c.input, ds.class_names().size());
  std::unique_ptr<TaskScorer> score_a, score_b;
  if (res.annotated) {
    score_a = std::make_unique<TaskScorer>(ds, res.task, c.pre, c.input, names);
    score_b = std::make_unique<TaskScorer>(ds, res.task, c.pre, c.input, names);
  }
  const size_t step = size_t(std::max(1, batch));
  for (size_t first = 0; first < idx.size(); first += step) {
    const size_t n = std::min(step, idx.size() - first);
    std::vector<size_t> rows(idx.begin() + long(first), idx.begin() + long(first + n));
    if (fixed > 0 && n < step) rows.resize(step, idx.back());  // fixed-batch models: repeat the last image
    std::vector<std::pair<int, int>> sizes;
    Tensor x = make_batch(ds, rows, 0, rows.size(), c.pre, c.input, nullptr, &sizes);
    const std::vector<Tensor> ya = sa.run({x}), yb = sb.run({x});
    for (size_t k = 0; k < n; ++k) {
      std::vector<Tensor> pa, pb;
      for (size_t i = 0; i < order_b.size(); ++i) {
        pa.push_back(per_image(ya.at(i), i, int64_t(k), int64_t(rows.size())));
        pb.push_back(per_image(yb.at(order_b[i]), i, int64_t(k), int64_t(rows.size())));
      }
      agree.add(pa, pb, sizes[k].first, sizes[k].second);
      if (score_a) {
        score_a->add(rows[k], pa, sizes[k].first, sizes[k].second);
        score_b->add(rows[k], pb, sizes[k].first, sizes[k].second);
      }
    }
    if (progress) progress("evaluate", first + n, idx.size());
  }
  res.agreement_json = agree.result();
  res.images = idx.size();
  if (res.has_task && res.task.task == Task::Classify) {
    res.agree = res.agreement_json.value("agree_images", size_t(0));
    const nlohmann::json& t1 = res.agreement_json["top1_agreement"];
    res.agreement = t1.is_number() ? t1.get<double>() : 0.0;
  }
  if (!score_a) return;
  const TaskMetrics ma = score_a->result(), mb = score_b->result();
  res.metric = ma.metric;
  res.a.metrics = ma.metrics;
  res.b.metrics = mb.metrics;
  res.a.images = ma.images;
  res.b.images = mb.images;
  if (res.task.task == Task::Classify) {
    res.a.top1 = ma.metrics["top1"];
    res.a.top5 = ma.metrics["top5"];
    res.b.top1 = mb.metrics["top1"];
    res.b.top5 = mb.metrics["top5"];
  }
}

}  // namespace

CompareResult compare_models(const Graph& a, const Graph& b, const CompareConfig& c, const CompareProgress& progress) {
  CompareResult res;
  res.config = c;
  res.a.path = c.path_a;
  res.b.path = c.path_b;
  res.a.file_bytes = c.bytes_a ? c.bytes_a : file_size_or_zero(c.path_a);
  res.b.file_bytes = c.bytes_b ? c.bytes_b : file_size_or_zero(c.path_b);
  res.a.parameters = a.parameter_count();
  res.b.parameters = b.parameter_count();
  auto ds = open_dataset(c.dataset);
  res.dataset_format = ds->format();
  std::vector<size_t> idx;
  size_t n = ds->size();
  if (c.limit > 0 && size_t(c.limit) < n) n = size_t(c.limit);
  size_t first = 0;
  if (!c.range.empty()) std::tie(first, n) = parse_image_range(c.range, n);
  for (size_t i = first; i < n; ++i) idx.push_back(i);
  int64_t fixed = c.fixed_batch;
  int batch = c.batch ? c.batch : (fixed > 0 ? int(fixed) : 8);
  if (fixed > 0 && batch != fixed)
    throw Error("the models' input has a fixed batch of " + std::to_string(fixed) + "; --batch " + std::to_string(batch) +
                " is not possible");

  SessionOptions so, sob;
  so.threads = c.threads;
  so.tune = c.tune;
  sob = so;
  so.name = c.path_a;
  sob.name = c.path_b;
  Session sa(a, so), sb(b, sob);
  if (c.accuracy) evaluate_both(sa, sb, a, b, *ds, idx, batch, c, res, progress);

  int64_t run_batch = fixed > 0 ? fixed : 1;
  auto batch_at = [&](size_t first) {  // run_batch images from idx[first], the last repeated if needed
    std::vector<size_t> sel;
    for (int64_t k = 0; k < run_batch; ++k) sel.push_back(idx[std::min(first + size_t(k), idx.size() - 1)]);
    return make_batch(*ds, sel, 0, sel.size(), c.pre, c.input);
  };
  if (c.layers && c.layer_images > 0) {
    std::vector<Tensor> inputs;
    size_t k = std::min(idx.size(), size_t(c.layer_images));
    for (size_t first = 0; first < k; first += size_t(run_batch)) inputs.push_back(batch_at(first));
    res.layers = compare_layers(a, b, inputs, c.threads, progress);
    for (const LayerRow& r : res.layers) res.layer_images = std::max(res.layer_images, r.images);
    // The same images through the optimised sessions (what is deployed).
    size_t parts = 0;
    for (const Tensor& x : inputs) {
      Tensor ya = sa.run({x}).at(0).cast(DType::F32), yb = sb.run({x}).at(0).cast(DType::F32);
      if (ya.shape != yb.shape) break;
      int64_t nb = x.shape.empty() ? 1 : x.shape[0];
      int64_t np = (nb > 1 && !ya.shape.empty() && ya.shape[0] == nb) ? nb : 1;
      size_t per = size_t(ya.numel() / np);
      for (int64_t p = 0; p < np && parts < k; ++p, ++parts) {
        double cs, e, m;
        similarity(ya.data<float>() + size_t(p) * per, yb.data<float>() + size_t(p) * per, per, cs, e, m);
        res.fast_output_cosine += cs;
        res.fast_output_nmse += e;
      }
    }
    if (parts > 0) {
      res.has_fast_output = true;
      res.fast_output_cosine /= double(parts);
      res.fast_output_nmse /= double(parts);
    }
  }

  std::vector<Tensor> bench_in{batch_at(0)};
  res.bench_batch = run_batch;
  if (c.speed) {
    if (progress) progress("bench", 0, 1);
    bench_interleaved(sa, sb, bench_in, c.seconds, c.warmup, res.a.latency, res.b.latency, &res.rounds);
    res.speedup = res.b.latency.median_ms > 0 ? res.a.latency.median_ms / res.b.latency.median_ms : 0;
    if (progress) progress("bench", 1, 1);
  } else {
    sa.run(bench_in);  // plans at batch 1 so kernels() describes the deployment shape
    sb.run(bench_in);
  }
  for (auto& k : sa.kernels()) res.a.kernels[k.impl]++;
  for (auto& k : sb.kernels()) res.b.kernels[k.impl]++;
  assign_layer_precision(res.layers, b, sb);
  // Why calibration kept a layer FP32 (quant/calibrate.cc writes it into the file).
  auto why = b.metadata.find("calibr8.fp32_reasons");
  // The file may come from anywhere: a note only from well-formed entries of
  // a sane size (anything else is ignored, not fatal).
  if (why != b.metadata.end() && why->second.size() <= (size_t(1) << 20)) {
    const nlohmann::json reasons = nlohmann::json::parse(why->second, nullptr, false);
    std::map<std::string, std::string> by_node;
    if (reasons.is_array())
      for (const nlohmann::json& r : reasons)
        if (r.is_object() && r.contains("node") && r["node"].is_string() && r.contains("reason") &&
            r["reason"].is_string())
          by_node.emplace(r["node"].get<std::string>(), r["reason"].get<std::string>());
    for (LayerRow& row : res.layers) {
      auto it = by_node.find(row.node);
      if (it != by_node.end()) row.note = "kept FP32 by calibration: " + it->second;
    }
  }
  return res;
}

}  // namespace c8
