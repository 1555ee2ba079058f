// calibr8._core: the Python binding (pybind11) over the same library the CLI
// uses. The Python-facing shape (Dataset, calibrate, Session, load) follows
// NNCF's: the user's own iterable and transform feed the calibration
// (nncf.Dataset(data_source, transform_func) -> nncf.quantize(model, dataset)).
// The pure-Python layer is src/python/calibr8/__init__.py; this file holds
// what needs C++: models, calibration, sessions, image decoding.
//
// The GIL is released while C++ works (calibration passes, inference); the
// calibration's samples are copied out of the Python objects before that, so
// no C++ thread touches a Python object without the GIL. A Python progress
// callback is called with the GIL re-acquired.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/atomic_file.h"
#include "base/error.h"
#include "cli/common.h"
#include "cli/outputs.h"
#include "eval/image.h"
#include "eval/preprocess.h"
#include "eval/subset.h"
#include "ir/onnx_export.h"
#include "eval/task_eval.h"
#include "quant/accuracy_aware.h"
#include "report/compare.h"
#include "report/report.h"
#include "quant/calibrate.h"
#include "quant/fidelity.h"
#include "runtime/session.h"
#include "runtime/tuning.h"

namespace py = pybind11;

namespace c8 {
namespace {

// nlohmann::json <-> Python objects (dicts, lists, numbers, strings, None) by
// way of the json module: reports and settings cross as plain Python values.
py::object to_python(const nlohmann::json& j) {
  return py::module_::import("json").attr("loads")(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}
nlohmann::json from_python(const py::handle& o) {
  const std::string text = py::str(py::module_::import("json").attr("dumps")(o));
  return nlohmann::json::parse(text);
}

// A model held by Python: the graph, where it came from, and what calibr8
// recorded about its preprocessing.
struct Model {
  Graph graph;
  std::string path;  // "" for a model made in memory
  Preprocess preprocess;
  bool has_preprocess = false;
  nlohmann::json report;  // a calibration's report (null otherwise)
};

std::shared_ptr<Model> load(const std::string& path) {
  if (path.empty()) throw Error("load: the path is empty");
  LoadedModel m = load_model_arg(path);
  auto out = std::make_shared<Model>();
  out->graph = std::move(m.graph);
  out->path = m.path;
  out->preprocess = m.preprocess;
  out->has_preprocess = out->graph.metadata.count("calibr8.preprocess") > 0 || m.is_default;
  return out;
}

// One value's description, as `calibr8 info --json` names its fields.
py::list values(const Graph& g, const std::vector<int>& ids) {
  py::list l;
  for (int id : ids) {
    const Value& v = g.values[size_t(id)];
    py::dict d;
    d["name"] = v.name;
    d["shape"] = v.has_shape ? py::cast(v.shape) : py::none();
    d["dtype"] = dtype_name(v.dtype);
    l.append(d);
  }
  return l;
}

DType dtype_of(const py::array& a) {
  if (a.dtype().is(py::dtype::of<float>())) return DType::F32;
  if (a.dtype().is(py::dtype::of<uint8_t>())) return DType::U8;
  if (a.dtype().is(py::dtype::of<int8_t>())) return DType::I8;
  if (a.dtype().is(py::dtype::of<int32_t>())) return DType::I32;
  if (a.dtype().is(py::dtype::of<int64_t>())) return DType::I64;
  throw Error("unsupported array dtype " + std::string(py::str(a.dtype())) + " (float32, uint8, int8, int32, int64)");
}

// An owned tensor handed to numpy without a copy: the array's base keeps it alive.
py::array to_numpy(Tensor t) {
  auto* held = new Tensor(std::move(t));
  py::capsule owner(held, [](void* p) { delete static_cast<Tensor*>(p); });
  std::vector<py::ssize_t> shape(held->shape.begin(), held->shape.end());
  switch (held->dtype) {
    case DType::F32: return py::array_t<float>(shape, held->data<float>(), owner);
    case DType::U8: return py::array_t<uint8_t>(shape, held->data<uint8_t>(), owner);
    case DType::I8: return py::array_t<int8_t>(shape, held->data<int8_t>(), owner);
    case DType::I32: return py::array_t<int32_t>(shape, held->data<int32_t>(), owner);
    case DType::I64: return py::array_t<int64_t>(shape, held->data<int64_t>(), owner);
    default: throw Error(std::string("output of type ") + dtype_name(held->dtype) + " cannot become a numpy array");
  }
}

// The calibration samples: one C-contiguous float32 array per image, in the
// model input's shape without its batch dimension; copied, so that the passes
// run without the GIL.
std::vector<Tensor> copy_samples(const py::list& samples, const InputGeometry& geo) {
  const Shape want = geo.nhwc ? Shape{geo.height, geo.width, geo.channels} : Shape{geo.channels, geo.height, geo.width};
  std::vector<Tensor> out;
  out.reserve(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    py::array a = py::array::ensure(samples[i]);
    if (!a) throw Error("sample " + std::to_string(i) + ": not an array");
    if (!a.dtype().is(py::dtype::of<float>()))
      throw Error("sample " + std::to_string(i) + ": dtype " + std::string(py::str(a.dtype())) + "; the model takes float32");
    Shape s(a.shape(), a.shape() + a.ndim());
    if (s != want)
      throw Error("sample " + std::to_string(i) + ": shape " + shape_str(s) + "; input '" + geo.name + "' takes " + shape_str(want) +
                  " per image");
    py::array_t<float, py::array::c_style | py::array::forcecast> c(a);
    Tensor t(DType::F32, s);
    std::memcpy(t.raw(), c.data(), t.nbytes());
    const float* f = t.data<float>();
    for (int64_t k = 0; k < t.numel(); ++k)
      if (!std::isfinite(f[k])) throw Error("sample " + std::to_string(i) + ": holds NaN or Inf values (element " + std::to_string(k) + ")");
    out.push_back(std::move(t));
  }
  return out;
}

// Batches as the CLI's dataset_source makes them: `batch` images per batch,
// the last one padded by repeating its last image when the model's batch is
// fixed (padding is not counted in the statistics).
CalibSource memory_source(std::shared_ptr<std::vector<Tensor>> samples, std::vector<size_t> idx, int batch, bool fixed_batch) {
  CalibSource src;
  src.images = idx.size();
  src.batches = (idx.size() + size_t(batch) - 1) / size_t(batch);
  auto order = std::make_shared<std::vector<size_t>>(std::move(idx));
  src.get = [samples, order, batch, fixed_batch](size_t b, size_t& n_valid) {
    const size_t first = b * size_t(batch);
    const size_t n = std::min(size_t(batch), order->size() - first);
    n_valid = n;
    const size_t slots = fixed_batch ? size_t(batch) : n;
    const Tensor& one = (*samples)[(*order)[first]];
    Shape s = one.shape;
    s.insert(s.begin(), int64_t(slots));
    Tensor x(DType::F32, s);
    const size_t per = size_t(one.numel());
    for (size_t k = 0; k < slots; ++k)
      std::memcpy(x.data<float>() + k * per, (*samples)[(*order)[first + std::min(k, n - 1)]].data<float>(), per * sizeof(float));
    return x;
  };
  return src;
}

Estimator estimator(const std::string& s) { return parse_estimator(s); }

// One sample as a batch of nb (a fixed-batch model's input: the sample repeated).
Tensor repeated(const Tensor& one, int64_t nb) {
  Shape sh = one.shape;
  sh.insert(sh.begin(), nb);
  Tensor x(DType::F32, sh);
  for (int64_t k = 0; k < nb; ++k) std::memcpy(x.data<float>() + size_t(k) * size_t(one.numel()), one.data<float>(), one.nbytes());
  return x;
}

// AccuracyAware from Python: candidates run on the validation samples (batch
// 1, or the model's fixed batch padded), and `metric(row, outputs)` -- the
// user's per-sample score, averaged over the rows -- judges them (NNCF's
// validation_fn, per sample so that the method can rank on a subset).
Validation python_validation(const Graph& fp32, const std::vector<Tensor>& rows_in, const InputGeometry& geo, int threads,
                             Tune tune, const std::vector<std::string>& names, const py::object& metric,
                             std::shared_ptr<std::vector<ImageOutputs>> fp32_cache) {
  Validation v;
  v.images = rows_in.size();
  v.metric_name = "metric";
  const int64_t nb = geo.batch > 0 ? geo.batch : 1;
  auto run_rows = [&rows_in, threads, tune, nb](const Graph& g, const std::vector<size_t>& rows) {
    SessionOptions so;
    so.threads = threads;
    so.tune = tune;
    Session sess(g, so);
    std::vector<ImageOutputs> outs;
    for (size_t i : rows) {
      const std::vector<Tensor> y = sess.run({repeated(rows_in[i], nb)});
      ImageOutputs o;
      for (size_t j = 0; j < y.size(); ++j) o.push_back(per_image(y[j], j, 0, nb));
      outs.push_back(std::move(o));
    }
    return outs;
  };
  const Graph* fp32_ptr = &fp32;
  v.run = [run_rows, fp32_ptr, fp32_cache, n = rows_in.size()](const Graph& g, const std::vector<size_t>& rows) {
    if (&g != fp32_ptr) return run_rows(g, rows);
    if (fp32_cache->empty()) {  // the reference, once
      std::vector<size_t> all(n);
      for (size_t i = 0; i < n; ++i) all[i] = i;
      *fp32_cache = run_rows(g, all);
    }
    std::vector<ImageOutputs> r;
    for (size_t i : rows) r.push_back((*fp32_cache)[i]);
    return r;
  };
  v.metric = [names, metric](const std::vector<ImageOutputs>& outs, const std::vector<size_t>& rows) {
    py::gil_scoped_acquire gil;
    double sum = 0;
    for (size_t k = 0; k < rows.size(); ++k) {
      py::dict d;
      for (size_t j = 0; j < outs[k].size() && j < names.size(); ++j) d[py::str(names[j])] = to_numpy(outs[k][j].clone());
      const py::object r = metric(rows[k], d);
      double x = 0;
      try {
        x = r.cast<double>();
      } catch (const py::cast_error&) {
        throw Error("metric: returned " + std::string(py::str(r.get_type().attr("__name__"))) + " for sample " +
                    std::to_string(rows[k]) + "; it must return a number");
      }
      if (!std::isfinite(x)) throw Error("metric: returned " + std::to_string(x) + " for sample " + std::to_string(rows[k]));
      sum += x;
    }
    return rows.empty() ? 0.0 : sum / double(rows.size());
  };
  v.sample_input = [&rows_in, nb]() { return repeated(rows_in[0], nb); };
  return v;
}

nlohmann::json accuracy_aware_report(const AccuracyAwareResult& R) {
  nlohmann::json steps = nlohmann::json::array();
  for (const AccuracyAwareStep& st : R.steps)
    steps.push_back({{"action", st.action}, {"layer", st.layer}, {"metric", st.metric}, {"drop", st.drop}, {"kept", st.kept}});
  return {{"met", R.met}, {"fp32", R.fp32}, {"default", R.start}, {"final", R.final_metric}, {"bound", R.bound},
          {"reverted", R.reverted}, {"layers", R.layers}, {"evaluations", R.evaluations},
          {"ranking_evaluations", R.ranking_evaluations}, {"calibrations", R.calibrations}, {"preset", R.preset},
          {"steps", steps}, {"ranking", R.ranking}, {"sensitivity", R.sensitivity}, {"holdout", R.holdout},
          {"seconds", R.seconds}};
}

// Option `k` of a Python options dict as T; a value of the wrong type or range
// is a calibr8.Error naming the option (not pybind's "Unable to cast").
struct Options {
  const py::dict& d;
  py::object get(const char* k) const { return d.contains(k) ? py::reinterpret_borrow<py::object>(d[k]) : py::object(py::none()); }
  template <class T>
  T as(const char* k, const char* what) const {
    try {
      return get(k).cast<T>();
    } catch (const py::cast_error&) {
      throw Error(std::string(k) + ": expected " + what + ", got " + std::string(py::repr(get(k))));
    }
  }
};

std::shared_ptr<Model> calibrate(const Model& model, const py::list& samples, const py::dict& opt, const py::object& progress,
                                 const py::object& validation, const py::object& metric) {
  const Options o{opt};
  auto get = [&](const char* k) { return o.get(k); };
  auto str = [&](const char* k, const std::string& def) { return get(k).is_none() ? def : o.as<std::string>(k, "a string"); };
  const std::string display = model.path.empty() ? "model" : model.path;
  refuse_quantized(model.graph, display);
  Preprocess p = model.preprocess;
  bool record = model.has_preprocess;
  if (!get("preprocess").is_none()) {
    p = preprocess_from_json(from_python(get("preprocess")));
    record = true;
  }
  Graph g = prepare_for_calibration(model.graph);
  InputGeometry geo = input_geometry(g, p);
  validate_preprocess(p, geo.channels);
  std::vector<Tensor> copied = copy_samples(samples, geo);
  if (copied.empty()) throw Error("the data set gave no samples");
  std::vector<size_t> idx = choose_subset(copied.size(), str("subset", ""), get("seed").is_none() ? 0 : o.as<uint64_t>("seed", "an integer >= 0"));
  const int batch = !get("batch").is_none() ? o.as<int>("batch", "an integer 1..4096") : (geo.batch > 0 ? int(geo.batch) : 32);
  if (batch < 1 || batch > 4096) throw Error("batch: 1..4096");
  if (geo.batch > 0 && batch != geo.batch)
    throw Error(display + ": input '" + geo.name + "' has a fixed batch of " + std::to_string(geo.batch) + "; batch " +
                std::to_string(batch) + " is not possible");
  CalibSettings s;
  s.preset = str("preset", "performance");
  if (s.preset != "performance" && s.preset != "mixed") throw Error("preset: performance or mixed, not '" + s.preset + "'");
  s.act_estimator = estimator(str("act_estimator", "mean_minmax"));
  s.weight_estimator = estimator(str("weight_estimator", "minmax"));
  const std::string gran = str("weight_granularity", "per-channel");
  if (gran != "per-channel" && gran != "per-tensor") throw Error("weight_granularity: per-channel or per-tensor, not '" + gran + "'");
  s.weight_per_tensor = gran == "per-tensor";
  s.saturation_fix = str("saturation_fix", "auto");
  s.target = str("target", "auto");
  s.bias_correction = get("bias_correction").is_none() || o.as<bool>("bias_correction", "True or False");
  s.equalize = !get("equalize").is_none() && o.as<bool>("equalize", "True or False");
  if (!get("bias_images").is_none()) s.bias_images = o.as<size_t>("bias_images", "an integer >= 0");
  if (!get("ignore").is_none()) s.ignore = o.as<std::vector<std::string>>("ignore", "a list of node names or op types");
  if (!get("threads").is_none()) s.threads = o.as<int>("threads", "an integer 1..256");
  if (s.threads < 1 || s.threads > 256) throw Error("threads: 1..256");

  auto shared = std::make_shared<std::vector<Tensor>>(std::move(copied));
  CalibSource src = memory_source(shared, idx, batch, geo.batch > 0);
  PassProgress show;
  if (!progress.is_none())
    show = [&progress](const std::string& pass, size_t done, size_t total) {
      py::gil_scoped_acquire gil;
      progress(pass, done, total);
    };
  CalibResult r;
  nlohmann::json aa_report, fidelity;
  const std::string method = str("method", "default");
  if (method == "default") {
    // The CLI's Default: with the output fidelity guard (quant/fidelity.h).
    FidelitySettings fs;
    fs.min_cosine = get("min_cosine").is_none() ? fs.min_cosine : o.as<double>("min_cosine", "a number 0..1");
    if (!(fs.min_cosine >= 0 && fs.min_cosine <= 1)) throw Error("min_cosine: 0..1");
    fs.threads = s.threads;
    py::gil_scoped_release nogil;
    FidelityResult fr = calibrate_with_fidelity(g, src, s, fs, show);
    r = std::move(fr.model);
    fidelity = std::move(fr.report);
  } else if (method == "accuracy-aware") {
    if (validation.is_none() || metric.is_none()) throw Error("accuracy-aware needs validation samples and a metric");
    std::vector<Tensor> val = copy_samples(validation.cast<py::list>(), geo);
    if (val.empty()) throw Error("accuracy-aware: the validation data set gave no samples");
    AccuracyAwareSettings as;
    as.max_drop = get("max_drop").is_none() ? 0.01 : o.as<double>("max_drop", "a number");
    const std::string drop_type = str("drop_type", "absolute");
    if (drop_type != "absolute" && drop_type != "relative") throw Error("drop_type: absolute or relative, not '" + drop_type + "'");
    as.relative = drop_type == "relative";
    if (!(as.max_drop >= 0) || (as.relative && as.max_drop > 1))
      throw Error("max_drop: >= 0 in metric units (absolute), or a fraction 0..1 of the FP32 metric (relative)");
    const std::string ranking = str("ranking", "accuracy");
    if (ranking != "accuracy" && ranking != "performance") throw Error("ranking: accuracy or performance, not '" + ranking + "'");
    as.performance_aware = ranking == "performance";
    as.try_mixed = !get("try_mixed").is_none() && o.as<bool>("try_mixed", "True or False");
    as.sensitivity = get("sensitivity").is_none() || o.as<bool>("sensitivity", "True or False");
    as.threads = s.threads;
    as.tune = parse_tune(str("tune", "cached"));
    const size_t held = get("holdout").is_none() ? 0 : o.as<size_t>("holdout", "a count >= 0");
    if (held >= val.size()) throw Error("holdout: " + std::to_string(held) + " of " + std::to_string(val.size()) + " validation samples leaves none to decide on");
    // Held-out rows spread evenly (as the CLI's --holdout).
    for (size_t k = 0; k < held; ++k) as.holdout.push_back(size_t((double(k) + 0.5) * double(val.size()) / double(held)));
    std::vector<std::string> names;
    for (int id : g.outputs) names.push_back(g.values[size_t(id)].name);
    auto cache = std::make_shared<std::vector<ImageOutputs>>();
    Validation v = python_validation(g, val, geo, s.threads, as.tune, names, metric, cache);
    AccuracyAwareResult R;
    {
      py::gil_scoped_release nogil;
      R = accuracy_aware_quantize(g, src, s, v, as, show);
    }
    r = std::move(R.model);
    aa_report = accuracy_aware_report(R);
  } else {
    throw Error("method: default or accuracy-aware, not '" + method + "'");
  }
  if (record) record_model_defaults(r.graph, p, "");
  auto out = std::make_shared<Model>();
  out->graph = std::move(r.graph);
  out->preprocess = p;
  out->has_preprocess = record;
  out->report = r.report;
  out->report["images"] = {{"count", idx.size()}, {"indices", idx}};
  out->report["batch"] = batch;
  if (!fidelity.is_null()) out->report["fidelity"] = fidelity;
  if (!aa_report.is_null()) {
    out->report["accuracy_aware"] = aa_report;
    out->report["settings"]["method"] = "accuracy-aware";
  }
  return out;
}

// An inference session on a model (the runtime the CLI's run / bench use).
struct PySession {
  std::shared_ptr<Model> model;
  std::unique_ptr<Session> s;
  std::vector<std::string> inputs, outputs;
  // One call at a time: a Session keeps its plans and buffers between runs
  // (take one Session per thread to run in parallel).
  std::mutex busy;
  PySession(std::shared_ptr<Model> m, int threads, const std::string& tune) : model(std::move(m)) {
    if (!model) throw Error("Session: no model (got None)");
    if (threads < 1 || threads > 256) throw Error("threads: 1..256");
    SessionOptions o;
    o.threads = threads;
    o.tune = parse_tune(tune);
    o.name = model->path.empty() ? "model" : model->path;
    for (int id : model->graph.inputs) inputs.push_back(model->graph.values[size_t(id)].name);
    for (int id : model->graph.outputs) outputs.push_back(model->graph.values[size_t(id)].name);
    s = std::make_unique<Session>(model->graph, o);
  }
  // inputs: one array (single-input models) or {name: array}. Arrays are
  // read in place when C-contiguous (no copy); outputs are handed over
  // without a copy.
  py::dict run(const py::object& feed) {
    std::vector<py::array> keep;
    std::vector<Tensor> in;
    auto add = [&](const std::string& name, const py::handle& h) {
      py::array a = py::array::ensure(h, py::array::c_style);
      if (!a) throw Error("input '" + name + "': not an array");
      keep.push_back(a);
      // Checked against the model's declaration, as ONNX Runtime does: the
      // runtime would otherwise re-plan for any shape its ops accept.
      const Value& v = model->graph.values[size_t(model->graph.inputs[in.size()])];
      const DType dt = dtype_of(a);
      const Shape shape(a.shape(), a.shape() + a.ndim());
      if (v.dtype != DType::Undefined && dt != v.dtype)
        throw Error("input '" + name + "': dtype " + dtype_name(dt) + "; the model takes " + dtype_name(v.dtype));
      bool fits = !v.has_shape || v.shape.size() == shape.size();
      for (size_t k = 0; fits && v.has_shape && k < shape.size(); ++k) fits = v.shape[k] < 0 || v.shape[k] == shape[k];
      if (!fits) throw Error("input '" + name + "': shape " + shape_str(shape) + "; the model takes " + shape_str(v.shape));
      in.push_back(Tensor::wrap(dt, shape, const_cast<void*>(a.data())));  // read only
    };
    if (py::isinstance<py::dict>(feed)) {
      py::dict d = feed.cast<py::dict>();
      for (auto item : d) {
        const std::string k = py::str(item.first);
        if (std::find(inputs.begin(), inputs.end(), k) == inputs.end()) throw Error("the model has no input '" + k + "'");
      }
      for (const std::string& name : inputs) {
        if (!d.contains(name)) throw Error("input '" + name + "' is missing");
        add(name, d[py::str(name)]);
      }
    } else {
      if (inputs.size() != 1) throw Error("the model has " + std::to_string(inputs.size()) + " inputs: pass a dict {name: array}");
      add(inputs[0], feed);
    }
    std::vector<Tensor> out;
    {
      py::gil_scoped_release nogil;  // first: a thread holding `busy` may need the GIL back
      std::lock_guard<std::mutex> lk(busy);
      out = s->run(in);
    }
    py::dict r;
    for (size_t i = 0; i < out.size(); ++i) r[py::str(outputs[i])] = to_numpy(std::move(out[i]));
    return r;
  }
};

// Latency of run(x) on this session, as `calibr8 bench --json` reports it
// (median / mean / min / p90 ms, runs, throughput in images a second).
py::dict bench(PySession& ps, const py::object& feed, double seconds, int warmup) {
  if (!(seconds > 0 && seconds <= 3600)) throw Error("seconds: 0..3600");
  if (warmup < 0 || warmup > 1000) throw Error("warmup: 0..1000");
  ps.run(feed);  // checks the inputs, plans
  std::vector<py::array> keep;
  std::vector<Tensor> in;
  auto add = [&](const py::handle& h) {
    py::array a = py::array::ensure(h, py::array::c_style);
    if (!a) throw Error("bench: the inputs are not arrays");
    keep.push_back(a);
    in.push_back(Tensor::wrap(dtype_of(a), Shape(a.shape(), a.shape() + a.ndim()), const_cast<void*>(a.data())));
  };
  if (py::isinstance<py::dict>(feed))
    for (const std::string& n : ps.inputs) add(feed.cast<py::dict>()[py::str(n)]);
  else
    add(feed);
  std::vector<double> ms;
  {
    py::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lk(ps.busy);
    for (int i = 0; i < warmup; ++i) ps.s->run(in);
    const auto t0 = std::chrono::steady_clock::now();
    while (ms.size() < 3 || std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < seconds) {
      const auto a = std::chrono::steady_clock::now();
      ps.s->run(in);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
      if (ms.size() >= 1000000) break;
    }
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (double x : ms) sum += x;
  const double median = sorted.size() % 2 ? sorted[sorted.size() / 2] : 0.5 * (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]);
  const int64_t batch = in.empty() || in[0].shape.empty() ? 1 : in[0].shape[0];
  py::dict d;
  d["batch"] = batch;
  d["threads"] = ps.s->options().threads;
  d["runs"] = ms.size();
  d["median_ms"] = median;
  d["mean_ms"] = sum / double(ms.size());
  d["min_ms"] = sorted.front();
  d["p90_ms"] = sorted[std::min(sorted.size() - 1, size_t(0.9 * double(sorted.size())))];
  d["throughput_ips"] = double(batch) * 1000.0 / median;
  return d;
}

// `calibr8 compare A B --dataset DIR --json` from Python: the same report
// (accuracy or output agreement, speed, the per-layer table) as a dict.
py::object compare(const Model& a, const Model& b, const std::string& dataset, const py::dict& opt, const py::object& progress) {
  const Options o{opt};
  auto get = [&](const char* k) { return o.get(k); };
  if (dataset.empty()) throw Error("compare: give the data set folder (annotated for accuracy, or any images)");
  Preprocess p = a.has_preprocess ? a.preprocess : b.preprocess;
  if (!get("preprocess").is_none()) p = preprocess_from_json(from_python(get("preprocess")));
  InputGeometry ga = input_geometry(a.graph, p), gb = input_geometry(b.graph, p);
  const bool batch_ok = ga.batch == gb.batch || ga.batch < 0 || gb.batch < 0;
  if (ga.channels != gb.channels || ga.height != gb.height || ga.width != gb.width || !batch_ok)
    throw Error("compare: the models' image inputs differ (" + std::to_string(ga.channels) + "x" + std::to_string(ga.height) + "x" +
                std::to_string(ga.width) + " against " + std::to_string(gb.channels) + "x" + std::to_string(gb.height) + "x" +
                std::to_string(gb.width) + ")");
  validate_preprocess(p, ga.channels);
  CompareConfig c;
  c.path_a = a.path.empty() ? "model A (in memory)" : a.path;
  c.path_b = b.path.empty() ? "model B (in memory)" : b.path;
  if (a.path.empty()) c.bytes_a = onnx_bytes(a.graph).size();
  if (b.path.empty()) c.bytes_b = onnx_bytes(b.graph).size();
  c.dataset = dataset;
  c.pre = p;
  c.input = ImageInput{ga.channels, ga.height, ga.width, ga.nhwc};
  c.fixed_batch = std::max(ga.batch, gb.batch);
  if (!get("limit").is_none()) c.limit = o.as<int>("limit", "an integer >= 0");
  if (c.limit < 0) throw Error("limit: an integer >= 0");
  if (!get("range").is_none()) c.range = o.as<std::string>("range", "\"A:B\"");
  if (!get("batch").is_none()) c.batch = o.as<int>("batch", "an integer 1..4096");
  if (!get("threads").is_none()) c.threads = o.as<int>("threads", "an integer 1..256");
  if (c.threads < 1 || c.threads > 256) throw Error("threads: 1..256");
  c.tune = parse_tune(get("tune").is_none() ? "cached" : o.as<std::string>("tune", "off, cached or full"));
  if (!get("seconds").is_none()) c.seconds = o.as<double>("seconds", "a number of seconds");
  if (!(c.seconds >= 0 && c.seconds <= 3600)) throw Error("seconds: 0..3600 (0 skips the latency measurement)");
  if (!get("layer_images").is_none()) c.layer_images = o.as<int>("layer_images", "an integer >= 0");
  if (c.layer_images < 0 || c.layer_images > 100000) throw Error("layer_images: 0..100000");
  c.speed = c.seconds > 0;
  c.layers = c.layer_images > 0;
  if (!get("task").is_none()) c.task = o.as<std::string>("task", "classify, detect or segment");
  if (!get("adapter").is_none()) c.adapter = o.as<std::string>("adapter", "an adapter name");
  CompareProgress show;
  if (!progress.is_none())
    show = [&progress](const std::string& stage, size_t done, size_t total) {
      py::gil_scoped_acquire gil;
      progress(stage, done, total);
    };
  nlohmann::json j;
  {
    py::gil_scoped_release nogil;
    CompareResult r = compare_models(a.graph, b.graph, c, show);
    j = report_json(r, b.report.is_null() ? nlohmann::json(nullptr) : b.report);
  }
  return to_python(j);
}

py::array read_image(const std::string& path) {
  Image img = load_image(path);
  Tensor t(DType::U8, {img.height, img.width, img.channels});
  std::memcpy(t.raw(), img.pixels.data(), img.pixels.size());
  return to_numpy(std::move(t));
}

}  // namespace
}  // namespace c8

PYBIND11_MODULE(_core, m) {
  using namespace c8;
  m.doc() = "calibr8's C++ engine (use the calibr8 package, not this module)";
  static py::exception<Error> error(m, "Error");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      error(e.what());
    }
  });

  py::class_<Model, std::shared_ptr<Model>>(m, "Model")
      .def_property_readonly("path", [](const Model& x) { return x.path; })
      .def_property_readonly("inputs", [](const Model& x) { return values(x.graph, x.graph.inputs); })
      .def_property_readonly("outputs", [](const Model& x) { return values(x.graph, x.graph.outputs); })
      .def_property_readonly("report", [](const Model& x) { return x.report.is_null() ? py::object(py::none()) : to_python(x.report); })
      .def_property_readonly("op_histogram", [](const Model& x) { return to_python(nlohmann::json(x.graph.op_histogram())); })
      .def("to_bytes", [](const Model& x) { return py::bytes(onnx_bytes(x.graph)); })
      .def("save", [](const Model& x, const std::string& path) {
        if (path.empty()) throw Error("save: the path is empty");
        // The CLI's rules for -o: an existing folder, never a folder, a device or a read-only file.
        check_outputs({}, {{"save", path}});
        std::string bytes = onnx_bytes(x.graph);
        write_file_atomic(path, bytes);
      }, py::arg("path"));
  m.def("load", &load, py::arg("path"));
  m.def("calibrate", &calibrate, py::arg("model"), py::arg("samples"), py::arg("options"), py::arg("progress") = py::none(),
        py::arg("validation") = py::none(), py::arg("metric") = py::none());
  py::class_<PySession>(m, "Session")
      .def(py::init<std::shared_ptr<Model>, int, std::string>(), py::arg("model"), py::arg("threads") = 1, py::arg("tune") = "cached")
      .def_readonly("input_names", &PySession::inputs)
      .def_readonly("output_names", &PySession::outputs)
      .def("run", &PySession::run, py::arg("inputs"))
      .def("bench", &bench, py::arg("inputs"), py::arg("seconds") = 1.0, py::arg("warmup") = 5);
  m.def("read_image", &read_image, py::arg("path"));
  m.def("compare", &compare, py::arg("a"), py::arg("b"), py::arg("dataset"), py::arg("options"), py::arg("progress") = py::none());
}
