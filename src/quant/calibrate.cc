#include "quant/calibrate.h"

#include <algorithm>
#include <cstdio>
#include <chrono>
#include <cmath>
#include <dnnl.hpp>
#ifdef __AVX2__
#include <immintrin.h>
#endif
#include <map>
#include <memory>
#include <set>

#include "ir/onnx_validate.h"
#include "passes/passes.h"
#include "quant/bias_shift.h"
#include "quant/equalize.h"
#include "base/error.h"
#include "base/json_io.h"
#include "runtime/session.h"

namespace c8 {

namespace {

std::string format_g(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

const std::set<std::string>& quant_ops() {
  static const std::set<std::string> s{
      "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger",
      "MatMulInteger", "QLinearAdd", "QLinearMul", "QGemm", "QLinearConcat", "QLinearGlobalAveragePool",
      "QLinearAveragePool", "QLinearSigmoid", "QLinearLeakyRelu", "QLinearSoftmax", "DynamicQuantizeMatMul",
      "MatMulIntegerToFloat", "FakeQuantize"};
  return s;
}

// The preprocessed calibration batches of pass 1, kept in an unlinked
// temporary file for pass 2. Decoding and preprocessing JPEGs a second time
// was about 20 % of calibration on 224x224 inputs; a file (page cache, not
// this process's memory) keeps peak RSS independent of the subset size.
// Best effort: without space for it, pass 2 decodes again.
class BatchSpill {
 public:
  explicit BatchSpill(bool on) : f_(on ? std::tmpfile() : nullptr) {}
  ~BatchSpill() {
    if (f_) std::fclose(f_);
  }
  BatchSpill(const BatchSpill&) = delete;
  BatchSpill& operator=(const BatchSpill&) = delete;
  void put(const Tensor& x, size_t nv) {
    if (!f_ || stopped_) return;
    const size_t bytes = size_t(x.nbytes());
    if (written_ + bytes > kMaxBytes || std::fwrite(x.raw(), 1, bytes, f_) != bytes) {
      stopped_ = true;  // later batches are decoded again
      return;
    }
    entries_.push_back({x.dtype, x.shape, nv, written_});
    written_ += bytes;
  }
  // Batch b as written by put(), if it was.
  bool get(size_t b, Tensor& x, size_t& nv) {
    if (!f_ || b >= entries_.size()) return false;
    if (!flushed_) {
      if (std::fflush(f_) != 0) return false;
      flushed_ = true;
    }
    const Entry& e = entries_[b];
    Tensor t(e.dtype, e.shape);
    if (fseeko(f_, off_t(e.offset), SEEK_SET) != 0 ||
        std::fread(t.raw(), 1, size_t(t.nbytes()), f_) != size_t(t.nbytes()))
      return false;
    x = t;
    nv = e.n_valid;
    return true;
  }

 private:
  static constexpr size_t kMaxBytes = size_t(4) << 30;
  struct Entry {
    DType dtype;
    Shape shape;
    size_t n_valid;
    size_t offset;
  };
  std::FILE* f_;
  std::vector<Entry> entries_;
  size_t written_ = 0;
  bool stopped_ = false, flushed_ = false;
};

}  // namespace

CalibSource dataset_source(const Dataset& ds, std::vector<size_t> idx, const Preprocess& p, const ImageInput& in,
                           int batch, bool fixed_batch) {
  CalibSource src;
  src.images = idx.size();
  src.batches = (idx.size() + size_t(batch) - 1) / size_t(batch);
  auto shared_idx = std::make_shared<std::vector<size_t>>(std::move(idx));
  const Dataset* dsp = &ds;
  src.get = [dsp, shared_idx, p, in, batch, fixed_batch](size_t b, size_t& n_valid) {
    size_t first = b * size_t(batch);
    size_t n = std::min(size_t(batch), shared_idx->size() - first);
    n_valid = n;
    Tensor x = make_batch(*dsp, *shared_idx, first, n, p, in);
    if (!fixed_batch || n == size_t(batch)) return x;
    Shape s = x.shape;
    s[0] = batch;
    Tensor padded(DType::F32, s);
    size_t per = size_t(x.numel()) / n;
    for (size_t k = 0; k < size_t(batch); ++k)
      std::copy(x.data<float>() + std::min(k, n - 1) * per, x.data<float>() + (std::min(k, n - 1) + 1) * per,
                padded.data<float>() + k * per);
    return padded;
  };
  return src;
}

void refuse_quantized(const Graph& g, const std::string& display) {
  std::map<std::string, int> found;
  for (const Node& n : g.nodes)
    if (!n.dead && quant_ops().count(n.op)) ++found[n.op];
  int int8_inits = 0;
  for (const Node& n : g.nodes) {
    if (n.dead) continue;
    for (int v : n.inputs)
      if (g.is_const(v) && (g.const_of(v).dtype == DType::I8 || g.const_of(v).dtype == DType::U8) && g.const_of(v).numel() > 1)
        ++int8_inits;
  }
  if (found.empty() && int8_inits == 0) return;
  std::string what;
  for (auto& [op, k] : found) what += (what.empty() ? "" : ", ") + std::to_string(k) + " " + op;
  if (int8_inits) what += (what.empty() ? "" : ", ") + std::to_string(int8_inits) + " INT8/UINT8 initializer input(s)";
  throw Error(display + ": the model is already quantized (" + what +
              "); calibrate needs the original FP32 (or FP16) model");
}

Graph prepare_for_calibration(Graph g) {
  convert_fp16_to_fp32(g);
  remove_identity(g);
  fold_constants(g);
  fold_batchnorm(g);
  return g;
}

QParams act_qparams(Range r, QMode m) {
  QParams q;
  q.mode = m;
  double lo = std::min(r.lo, 0.0), hi = std::max(r.hi, 0.0);
  if (!std::isfinite(lo) || !std::isfinite(hi)) throw Error("non-finite activation range");
  q.range = {lo, hi};
  switch (m) {
    case QMode::SignedSym: {
      double a = std::max(-lo, hi);
      q.dtype = DType::I8;
      q.scale = a > 0 ? float(a / 127.0) : 1.f;
      q.zero_point = 0;
      q.range = {-a, a};
      break;
    }
    case QMode::UnsignedSym:
      q.dtype = DType::U8;
      q.scale = hi > 0 ? float(hi / 255.0) : 1.f;
      q.zero_point = 0;
      q.range = {0, hi};
      break;
    case QMode::Asym: {
      q.dtype = DType::U8;
      double s = (hi - lo) / 255.0;
      q.scale = s > 0 ? float(s) : 1.f;
      q.zero_point = int(std::min(255.0, std::max(0.0, std::nearbyint(-lo / double(q.scale)))));
      break;
    }
  }
  if (!(q.scale > 0) || !std::isfinite(q.scale)) q.scale = 1.f;
  return q;
}

static void fake_quantize_range(const float* x, float* y, size_t n, const QParams& q);

void fake_quantize(const float* x, float* y, size_t n, const QParams& q) {
  // Element-wise, so splitting it over the threads changes no bit; blocks are
  // multiples of 8 so each lane runs the same code either way.
  constexpr size_t kBlock = size_t(1) << 16;
  const int64_t blocks = int64_t((n + kBlock - 1) / kBlock);
  if (blocks <= 1) {
    fake_quantize_range(x, y, n, q);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const size_t first = size_t(b) * kBlock;
    fake_quantize_range(x + first, y + first, std::min(kBlock, n - first), q);
  }
}

FakeQuantParams fake_quant_params(const QParams& q) {
  FakeQuantParams f;
  f.scale = q.scale;
  f.zero_point = float(q.zero_point);
  f.lo = q.dtype == DType::U8 ? 0.f : -128.f;
  f.hi = q.dtype == DType::U8 ? 255.f : 127.f;
  return f;
}

static void fake_quantize_range(const float* x, float* y, size_t n, const QParams& qp) {
  const FakeQuantParams q = fake_quant_params(qp);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, fake_quant8(_mm256_loadu_ps(x + i), q));
  for (; i < n; ++i) y[i] = fake_quant1(x[i], q);
}

WeightQuant quantize_weight(const Tensor& w0, int axis, int qmax, Estimator e, bool per_tensor) {
  Tensor w = w0.cast(DType::F32);
  WeightQuant r;
  r.qmax = qmax;
  int64_t C = w.shape.at(size_t(axis)), outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= w.shape[size_t(i)];
  for (int i = axis + 1; i < w.rank(); ++i) inner *= w.shape[size_t(i)];
  const float* p = w.data<float>();
  // per tensor: one range over every channel (what POT's per-tensor weights
  // and ONNX Runtime's default MinMax do), stored as a single scale
  const int64_t groups = per_tensor ? 1 : C;
  r.scales.assign(size_t(groups), 1.f);
  for (int64_t c = 0; c < groups; ++c) {
    std::vector<float> vals;
    vals.reserve(size_t(outer * inner * (per_tensor ? C : 1)));
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t cc = per_tensor ? 0 : c; cc < (per_tensor ? C : c + 1); ++cc)
        for (int64_t i = 0; i < inner; ++i) vals.push_back(p[(o * C + cc) * inner + i]);
    double amax = 0;
    if (e == Estimator::MinMax || e == Estimator::MeanMinMax) {
      for (float v : vals) amax = std::max(amax, double(std::fabs(v)));
    } else {
      TensorStats st;
      st.want_hist = true;
      st.add_sample(vals.data(), vals.size());
      Range rg = estimate_range(st, e, QMode::SignedSym);
      amax = std::max(std::fabs(rg.lo), std::fabs(rg.hi));
    }
    r.scales[size_t(c)] = amax > 0 ? float(amax / qmax) : 1.f;
  }
  r.q = Tensor(DType::I8, w.shape);
  r.dequantized = Tensor(DType::F32, w.shape);
  int8_t* q = r.q.data<int8_t>();
  float* d = r.dequantized.data<float>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < C; ++c) {
      float s = r.scales[per_tensor ? 0 : size_t(c)];
      for (int64_t i = 0; i < inner; ++i) {
        int64_t k = (o * C + c) * inner + i;
        float v = std::nearbyint(p[k] / s);
        if (std::isnan(v)) v = 0;
        v = std::min(float(qmax), std::max(float(-qmax), v));
        q[k] = int8_t(v);
        d[k] = v * s;
      }
    }
  return r;
}

std::pair<size_t, size_t> parse_index_range(const std::string& spec, size_t n) {
  auto num = [&](const std::string& s, size_t def) -> size_t {
    if (s.empty()) return def;
    for (char ch : s)
      if (ch < '0' || ch > '9') throw Error("range '" + spec + "': expected A:B with non-negative integers");
    if (s.size() > 18) throw Error("range '" + spec + "': number too large");
    return size_t(std::stoull(s));
  };
  size_t colon = spec.find(':');
  size_t a, b;
  if (colon == std::string::npos) {
    a = 0;
    b = num(spec, n);
  } else {
    a = num(spec.substr(0, colon), 0);
    b = num(spec.substr(colon + 1), n);
  }
  if (spec.empty()) throw Error("range is empty; expected A:B");
  b = std::min(b, n);
  if (a >= b) throw Error("range '" + spec + "' selects no images (data set has " + std::to_string(n) + ")");
  return {a, b};
}

std::string resolve_target(const std::string& t) {
  if (t == "auto") return cpu_has_vnni() ? "vnni" : "avx2";
  if (t == "avx2" || t == "vnni" || t == "any") return t;
  throw Error("--target must be auto, avx2, vnni or any (got '" + t + "')");
}

std::string model_target(const Graph& g) {
  auto it = g.metadata.find("calibr8.quantization");
  if (it == g.metadata.end()) return "";
  nlohmann::json j;
  try {
    j = parse_json_bounded(it->second, "calibr8.quantization metadata");
  } catch (const Error&) {
    return "";
  }
  if (!j.is_object() || !j.contains("target") || !j["target"].is_string()) return "";
  return j["target"].get<std::string>();
}

// The calibration session runs a batch in pieces of at most this much input
// (one 224x224 RGB image; a Fashion-MNIST batch stays whole): activations
// then take what one piece needs whatever --batch is, and they stay in cache.
// resnet50 at batch 32 held 1 GB of activations; mobilenet_v2's statistics
// ran 1.97 s at batch 8 and 1.62 s one image at a time (Zen 5, 2 threads).
constexpr int64_t kPieceInputElements = 3 * 224 * 224;

// Calls fn(piece, n_valid_in_piece) for consecutive pieces of batch x. A
// model with a fixed batch dimension runs the whole (padded) batch.
template <class Fn>
void for_each_piece(const Graph& G, const Tensor& x, size_t n_valid, Fn&& fn) {
  const Value& in = G.values[size_t(G.inputs[0])];
  const bool fixed = in.has_shape && !in.shape.empty() && in.shape[0] > 0;
  if (fixed || x.rank() == 0 || x.shape[0] <= 1) {
    fn(x, n_valid);
    return;
  }
  const int64_t per = x.numel() / x.shape[0];
  const int64_t step = std::max<int64_t>(1, kPieceInputElements / std::max<int64_t>(per, 1));
  const int64_t n = std::min<int64_t>(x.shape[0], int64_t(n_valid));  // no padding without a fixed batch
  if (step >= n) {
    fn(x, n_valid);
    return;
  }
  for (int64_t first = 0; first < n; first += step) {
    const int64_t k = std::min(step, n - first);
    Shape ps = x.shape;
    ps[0] = k;
    Tensor piece = Tensor::wrap(x.dtype, ps, const_cast<uint8_t*>(static_cast<const uint8_t*>(x.raw())) + first * per * int64_t(dtype_size(x.dtype)));
    fn(piece, size_t(k));
  }
}

// A session running the FP32 graph optimised like any inference (fused conv +
// activation / sum, so a pass costs about one `evaluate`), except that
// `keep` stay visible: they are graph outputs while the graph is optimised,
// so no fusion swallows them, and the observers can read them.
std::unique_ptr<Session> observing_session(const Graph& G, const std::vector<int>& keep, int threads) {
  Graph run_g = G;
  const size_t n_outputs = run_g.outputs.size();
  run_g.outputs.insert(run_g.outputs.end(), keep.begin(), keep.end());
  optimize_graph(run_g);
  run_g.outputs.resize(n_outputs);
  SessionOptions so;
  so.threads = threads;
  so.optimize = false;
  return std::make_unique<Session>(run_g, so);
}

// Per-channel largest |x| of each site's value over the calibration images:
// one FP32 pass (what the cache holds is not measured again).
std::vector<std::vector<float>> measure_channel_max(const Graph& G, const std::vector<EqualizeSite>& sites,
                                                    const CalibSource& src, const CalibSettings& s,
                                                    const PassProgress& progress) {
  std::vector<std::vector<float>> cmax(sites.size());
  std::map<std::string, size_t> site_of;
  for (size_t i = 0; i < sites.size(); ++i) {
    const std::string& name = G.values[size_t(sites[i].value)].name;
    if (s.cache) {
      auto it = s.cache->channel_max.find(name);
      if (it != s.cache->channel_max.end() && it->second.size() == size_t(sites[i].channels)) {
        cmax[i] = it->second;
        continue;
      }
    }
    cmax[i].assign(size_t(sites[i].channels), 0.f);
    site_of[name] = i;
  }
  if (site_of.empty()) return cmax;
  std::vector<int> keep;
  for (const EqualizeSite& st : sites) keep.push_back(st.value);
  std::unique_ptr<Session> owner = observing_session(G, keep, s.threads);
  Session& sess = *owner;
  for (const auto& kv : site_of) sess.observed.insert(kv.first);
  // Blocked values read in place (no plain copy): the pass then costs about
  // one evaluate.
  sess.observed_layout = Session::ObservedLayout::ChannelBlocked;
  size_t done = 0;
  for (size_t b = 0; b < src.batches; ++b) {
    size_t nv = 0;
    Tensor x = src.get(b, nv);
    for_each_piece(G, x, nv, [&](const Tensor& piece, size_t pnv) {
      sess.observer = [&](int v, const Tensor& t) {
        auto it = site_of.find(sess.planned_graph().values[size_t(v)].name);
        if (it == site_of.end() || t.dtype != DType::F32 || t.rank() < 2) return;
        std::vector<float>& m = cmax[it->second];
        const int64_t C = t.shape[1];
        if (C != int64_t(m.size())) return;
        const int64_t n = std::min<int64_t>(t.shape[0], int64_t(pnv)), hw = t.numel() / (t.shape[0] * C);
        const float* p = t.data<float>();
        const Session::ChannelBlocking bl = sess.observed_blocking(v);
        if (bl.block > 0 && t.rank() == 4) {
          const int64_t H = t.shape[2], W = t.shape[3];
          for (int64_t i = 0; i < n; ++i)
            for (int64_t c0 = 0; c0 < C; c0 += bl.block) {
              const int64_t nb = std::min(bl.block, C - c0);
              for (int64_t h = 0; h < H; ++h)
                for (int64_t w = 0; w < W; ++w) {
                  const float* q = p + i * bl.s_n + (c0 / bl.block) * bl.s_block + h * bl.s_h + w * bl.s_w;
                  for (int64_t k = 0; k < nb; ++k) m[size_t(c0 + k)] = std::max(m[size_t(c0 + k)], std::fabs(q[k]));
                }
            }
          return;
        }
        for (int64_t i = 0; i < n; ++i)
          for (int64_t c = 0; c < C; ++c) {
            float mx = m[size_t(c)];
            const float* q = p + (i * C + c) * hw;
            for (int64_t k = 0; k < hw; ++k) mx = std::max(mx, std::fabs(q[k]));
            m[size_t(c)] = mx;
          }
      };
      sess.run({piece});
    });
    done += nv;
    if (progress) progress("equalization", done, src.images);
  }
  if (s.cache) {
    ++s.cache->equalize_passes;
    for (const auto& kv : site_of) s.cache->channel_max[kv.first] = cmax[kv.second];
  }
  return cmax;
}

CalibResult calibrate_graph(const Graph& fp32, const CalibSource& src, const CalibSettings& s,
                            const PassProgress& progress) {
  auto t_all = std::chrono::steady_clock::now();
  if (s.preset != "performance" && s.preset != "mixed")
    throw Error("unknown preset '" + s.preset + "' (choose performance or mixed)");
  if (src.batches == 0 || !src.get) throw Error("calibration needs at least one image");
  CalibResult R;
  // QDQ needs opset 13 (per-channel DequantizeLinear). An older model is
  // converted first, as a whole, by ONNX's version converter: raising only the
  // opset number would leave Unsqueeze / Squeeze / ReduceSum / Split in their
  // old attribute form, which ONNX Runtime refuses.
  Graph upgraded = upgrade_opset(fp32, 13, "model");
  nlohmann::json jeq = nlohmann::json::array();
  if (s.equalize && !s.weight_per_tensor && src.images >= kMinEqualizeImages) {
    auto te = std::chrono::steady_clock::now();
    const std::vector<EqualizeSite> sites = find_equalize_sites(upgraded);
    if (!sites.empty()) {
      std::vector<std::vector<float>> cmax = measure_channel_max(upgraded, sites, src, s, progress);
      jeq = apply_equalization(upgraded, sites, cmax);
    }
    R.seconds_equalize = seconds_since(te);
  }
  const Graph& G = upgraded;
  PlacementOptions po;
  po.ignore = s.ignore;
  for (const std::string& ig : s.ignore) {
    bool hit = false;
    for (const Node& n : G.nodes)
      if (!n.dead && (n.name == ig || n.op == ig)) hit = true;
    if (!hit) throw Error("--ignore " + ig + ": no node has this name or op type");
  }
  QuantPlacement P = place_quantizers(G, po);
  if (P.acts.empty() && P.weights.empty()) throw Error("nothing to quantize: the model has no Conv/Gemm/MatMul/Add the INT8 path supports");

  // Saturation fix: which layers get 7-bit weights.
  std::string sat = s.saturation_fix;
  bool vnni = cpu_has_vnni();
  const std::string target = resolve_target(s.target);
  // POT's default is first_layer. Without VNNI, though, calibr8's runtime can
  // only run a layer in INT8 when its 8-bit weights cannot saturate the
  // 16-bit u8*s8 pair sums (|w0|+|w1| <= 128), so 8-bit layers fall back to
  // FP32 there; with 7-bit weights everywhere they all run INT8. Measured on
  // resnet8/cifar10 (AVX2, validation 300:2000): first_layer 76.82 % and 0.8x
  // FP32 speed, all 77.24 % (= FP32) and 1.6x.
  // The weights follow the target, not this CPU: a file calibrated on a VNNI
  // machine for an AVX2 one must not carry 8-bit weights.
  if (sat == "auto") sat = target == "vnni" ? "none" : "all";
  if (sat != "none" && sat != "first_layer" && sat != "all")
    throw Error("--saturation-fix must be auto, none, first_layer or all");
  std::set<int> seven_bit;
  {
    std::vector<char> downstream(G.values.size(), 0);
    std::set<int> layer_set(P.layers.begin(), P.layers.end());
    for (int ni : G.topo_order()) {
      const Node& n = G.nodes[size_t(ni)];
      bool d = false;
      for (int v : n.inputs)
        if (v >= 0 && downstream[size_t(v)]) d = true;
      if (layer_set.count(ni)) {
        if (sat == "all" || (sat == "first_layer" && !d)) seven_bit.insert(ni);
        d = true;
      }
      for (int v : n.outputs)
        if (v >= 0 && d) downstream[size_t(v)] = 1;
    }
  }

  // ---- Pass 1: statistics (streamed through observers) ----
  auto t0 = std::chrono::steady_clock::now();
  std::vector<TensorStats> stats(P.acts.size());
  for (auto& st : stats) st.want_hist = estimator_needs_histogram(s.act_estimator);
  std::map<std::string, int> act_by_name;
  for (size_t i = 0; i < P.acts.size(); ++i) act_by_name[G.values[size_t(P.acts[i].value)].name] = int(i);
  // Both passes run the FP32 graph optimised like any inference session
  // (fused conv + activation / sum, so a pass costs about one `evaluate`),
  // except that the values the observers read stay visible: they are graph
  // outputs while the passes run, so no fusion swallows them. Only those
  // values are copied out to the observers.
  // Built on first use: with every statistic and bias shift in s.cache no
  // FP32 pass runs at all.
  std::unique_ptr<Session> sess_owner;
  auto session = [&]() -> Session& {
    if (!sess_owner) {
      std::vector<int> keep;
      for (const ActQuantizer& a : P.acts) keep.push_back(a.value);
      sess_owner = observing_session(G, keep, s.threads);
    }
    return *sess_owner;
  };
  // Statistics an earlier calibration measured (s.cache) are taken as they are.
  std::vector<char> known(P.acts.size(), 0);
  size_t unknown = 0;
  for (size_t i = 0; i < P.acts.size(); ++i) {
    if (s.cache) {
      auto it = s.cache->stats.find(G.values[size_t(P.acts[i].value)].name);
      if (it != s.cache->stats.end() && it->second.want_hist == stats[i].want_hist) {
        stats[i] = it->second;
        known[i] = 1;
        continue;
      }
    }
    ++unknown;
  }
  for (size_t i = 0; i < P.acts.size(); ++i)
    if (known[i]) act_by_name.erase(G.values[size_t(P.acts[i].value)].name);
  int input_act = G.inputs.empty() ? -1 : P.act_index(G.inputs[0]);
  if (input_act >= 0 && known[size_t(input_act)]) input_act = -1;
  BatchSpill spill(s.bias_correction && unknown > 0);
  if (unknown > 0) {
    Session& sess = session();
    sess.observed.clear();
    for (size_t i = 0; i < P.acts.size(); ++i)
      if (!known[i]) sess.observed.insert(G.values[size_t(P.acts[i].value)].name);
    sess.observed_layout = Session::ObservedLayout::AnyOrder;  // min / max / histograms need no channel order: no copies
    size_t done = 0;
    for (size_t b = 0; b < src.batches; ++b) {
      size_t nv = 0;
      Tensor x = src.get(b, nv);
      if (done < s.bias_images || s.bias_images == 0) spill.put(x, nv);  // only what pass 2 reads
      if (input_act >= 0) stats[size_t(input_act)].add(x, nv);
      for_each_piece(G, x, nv, [&](const Tensor& piece, size_t pnv) {
        sess.observer = [&](int v, const Tensor& t) {
          const Graph& pg = sess.planned_graph();
          auto it = act_by_name.find(pg.values[size_t(v)].name);
          if (it != act_by_name.end()) stats[size_t(it->second)].add(t, pnv);
        };
        sess.run({piece});
      });
      done += nv;
      if (progress) progress("statistics", done, src.images);
    }
    sess.observer = nullptr;
    if (s.cache) {
      ++s.cache->stats_passes;
      for (size_t i = 0; i < P.acts.size(); ++i)
        if (!known[i]) s.cache->stats[G.values[size_t(P.acts[i].value)].name] = stats[i];
    }
  }
  R.seconds_stats = seconds_since(t0);
  for (auto& st : stats) R.stats_state_bytes += st.state_bytes();

  // ---- Scale groups joining very different ranges stay FP32 ----
  // One scale per group (NNCF / POT unify a Concat's inputs unconditionally)
  // is right for branches of one feature map, but a Concat of box
  // coordinates in pixels (0..300) and scores (0..1) would leave the scores
  // one or two of the 256 levels. Decided on the observed ranges: when the
  // narrowest member spans less than 1/kMixedRange of the group's range, the
  // group keeps FP32 (its readers, e.g. a Conv behind the Concat, too), with
  // the reason in the report and the model's metadata.
  nlohmann::json fp32_reasons = nlohmann::json::array();
  {
    constexpr double kMixedRange = 16;
    std::set<int> mixed;
    std::map<int, std::string> why;
    for (size_t gi = 0; gi < P.groups.size(); ++gi) {
      if (P.groups[gi].size() < 2) continue;
      // Only a Concat joins tensors of unrelated meaning; the inputs of an Add
      // share a scale by design (a residual and its branch) and stay INT8.
      bool joins_concat = false;
      for (int a : P.groups[gi]) {
        const ActQuantizer& q = P.acts[size_t(a)];
        const Value& v = G.values[size_t(q.value)];
        if (v.producer >= 0 && G.nodes[size_t(v.producer)].op == "Concat") joins_concat = true;
        for (int c : q.consumers)
          if (G.nodes[size_t(c)].op == "Concat") joins_concat = true;
      }
      if (!joins_concat) continue;
      double lo = 0, hi = 0, narrow = -1;
      std::string members;
      for (int a : P.groups[gi]) {
        const TensorStats& st = stats[size_t(a)];
        if (st.samples == 0) continue;
        const Range r = estimate_range(st, s.act_estimator, QMode::Asym);
        lo = std::min(lo, double(r.lo));
        hi = std::max(hi, double(r.hi));
        // the levels a member gets count from zero (every 8-bit range holds
        // it); an all-zero member has nothing to lose
        const double span = std::max(0.0, double(r.hi)) - std::min(0.0, double(r.lo));
        if (span <= 0) continue;
        if (narrow < 0 || span < narrow) narrow = span;
        members += (members.empty() ? "" : ", ") + G.values[size_t(P.acts[size_t(a)].value)].name +
                   " [" + format_g(r.lo) + ", " + format_g(r.hi) + "]";
      }
      if (narrow >= 0 && (hi - lo) > kMixedRange * narrow) {
        mixed.insert(int(gi));
        why[int(gi)] = "one 8-bit scale for ranges that differ " + format_g(narrow > 0 ? (hi - lo) / narrow : 0.0) +
                       "x (" + members + ") would leave the narrowest " +
                       format_g(std::floor(255 * narrow / (hi - lo))) + " levels";
      }
    }
    if (!mixed.empty()) {
      std::map<int, std::string> node_why;  // node -> reason
      for (int gi : mixed)
        for (int a : P.groups[size_t(gi)]) {
          const ActQuantizer& q = P.acts[size_t(a)];
          const int p = G.values[size_t(q.value)].producer;
          if (p >= 0 && G.nodes[size_t(p)].op == "Concat") node_why[p] = why[gi];
          for (int c : q.consumers) node_why.emplace(c, "its input " + G.values[size_t(q.value)].name + ": " + why[gi]);
        }
      std::vector<int> kept, demoted;
      QuantPlacement Q2 = without_groups(G, P, mixed, kept, demoted);
      std::vector<TensorStats> kept_stats;
      for (int i : kept) kept_stats.push_back(std::move(stats[size_t(i)]));
      stats = std::move(kept_stats);
      std::set<int> fp32_now(Q2.fp32_nodes.begin(), Q2.fp32_nodes.end());
      for (const auto& [node, reason] : node_why)
        if (fp32_now.count(node))
          fp32_reasons.push_back({{"node", G.nodes[size_t(node)].name}, {"op", G.nodes[size_t(node)].op}, {"reason", reason}});
      P = std::move(Q2);
    }
  }

  // Layers a caller gave back to FP32 with a reason (accuracy-aware, the
  // output fidelity guard) say so in the file, as the mixed-range ones do.
  for (const Node& n : G.nodes) {
    if (n.dead) continue;
    auto it = s.ignore_reasons.find(n.name);
    if (it != s.ignore_reasons.end() && is_ignored(n, po))
      fp32_reasons.push_back({{"node", n.name}, {"op", n.op}, {"reason", it->second}});
  }

  // ---- Ranges and quantization parameters per group ----
  std::vector<QParams> gparams(P.groups.size());
  nlohmann::json jacts = nlohmann::json::array();
  for (size_t gi = 0; gi < P.groups.size(); ++gi) {
    QMode mode = QMode::Asym;
    if (s.preset == "performance") {
      bool nonneg = true;
      for (int a : P.groups[gi]) {
        const TensorStats& st = stats[size_t(a)];
        if (!(P.acts[size_t(a)].nonneg_hint || (st.samples > 0 && st.min >= 0))) nonneg = false;
      }
      mode = nonneg ? QMode::UnsignedSym : QMode::SignedSym;
    }
    Range u{0, 0};
    bool first = true;
    for (int a : P.groups[gi]) {
      if (stats[size_t(a)].samples == 0) continue;
      Range r = estimate_range(stats[size_t(a)], s.act_estimator, mode);
      if (first) u = r;
      u.lo = std::min(u.lo, r.lo);
      u.hi = std::max(u.hi, r.hi);
      first = false;
    }
    gparams[gi] = act_qparams(u, mode);
  }
  for (size_t i = 0; i < P.acts.size(); ++i) {
    const ActQuantizer& a = P.acts[i];
    const TensorStats& st = stats[i];
    const QParams& q = gparams[size_t(a.group)];
    nlohmann::json j;
    j["value"] = G.values[size_t(a.value)].name;
    j["group"] = a.group;
    j["reason"] = a.reason;
    j["mode"] = qmode_name(q.mode);
    j["dtype"] = dtype_name(q.dtype);
    j["scale"] = q.scale;
    j["zero_point"] = q.zero_point;
    j["range"] = {q.range.lo, q.range.hi};
    j["observed_min"] = st.min;
    j["observed_max"] = st.max;
    j["mean_sample_min"] = st.mean_min();
    j["mean_sample_max"] = st.mean_max();
    j["samples"] = st.samples;
    jacts.push_back(j);
  }

  // ---- Weights ----
  std::map<int, WeightQuant> wq;  // node id -> quantized weight
  nlohmann::json jw = nlohmann::json::array();
  for (const WeightQuantizer& w : P.weights) {
    const Node& n = G.nodes[size_t(w.node)];
    int qmax = seven_bit.count(w.node) ? 63 : 127;
    WeightQuant q =
        quantize_weight(G.const_of(n.inputs[size_t(w.input)]), w.axis, qmax, s.weight_estimator, s.weight_per_tensor);
    nlohmann::json j;
    j["node"] = n.name;
    j["op"] = n.op;
    j["weight"] = G.values[size_t(n.inputs[size_t(w.input)])].name;
    j["axis"] = w.axis;
    j["range"] = {-qmax, qmax};
    j["saturation_fix"] = qmax == 63;
    j["scales"] = q.scales;
    jw.push_back(j);
    wq.emplace(w.node, std::move(q));
  }

  // ---- Pass 2: fast bias correction (POT FastBiasCorrection) ----
  // For each quantized layer: shift = mean_c(FP32 output) - mean_c(output of
  // the layer with quantized weights on the quantized FP32 input), averaged
  // over the calibration images; the bias absorbs the shift. The means come
  // from per-tap input sums (quant/bias_shift.h), not from re-running layers.
  std::map<int, std::vector<double>> new_bias;  // node -> corrected bias (size C)
  nlohmann::json jbias = nlohmann::json::array();
  if (s.bias_correction && !P.layers.empty()) {
    auto t1 = std::chrono::steady_clock::now();
    struct LayerBC {
      int node, in_act;
      LayerMeanShift ms;
    };
    std::vector<LayerBC> L;
    std::map<std::string, std::vector<size_t>> by_input;  // value name -> LayerBC indices
    std::vector<std::pair<int, std::vector<double>>> known_shifts;  // from s.cache
    std::map<int, std::string> shift_key;
    for (const WeightQuantizer& w : P.weights) {
      const Node& n = G.nodes[size_t(w.node)];
      if (n.op == "MatMul" || w.input != 1) continue;  // no bias input to correct
      int in_act = P.act_index(n.inputs[0]);
      if (in_act < 0) continue;
      if (s.cache) {
        // What the shift depends on: the layer, its input's quantizer, its
        // weights' grid (the FP32 activations are the same in every call).
        const QParams& q = gparams[size_t(P.acts[size_t(in_act)].group)];
        // exact values (%a): a grid that differs in the last bit is another grid
        char grid[128];
        std::snprintf(grid, sizeof grid, "%s %a %d %a %a", qmode_name(q.mode), double(q.scale), q.zero_point,
                      double(q.range.lo), double(q.range.hi));
        const std::string key = n.name + "|" + grid + "|" + std::to_string(wq.at(w.node).qmax) + " " +
                                std::to_string(wq.at(w.node).scales.size()) + " " + estimator_name(s.weight_estimator);
        auto it = s.cache->shifts.find(key);
        if (it != s.cache->shifts.end()) {
          known_shifts.push_back({w.node, it->second});
          continue;
        }
        shift_key[w.node] = key;
      }
      by_input[G.values[size_t(n.inputs[0])].name].push_back(L.size());
      L.push_back({w.node, in_act, LayerMeanShift(G, w.node, G.const_of(n.inputs[1]), wq.at(w.node).dequantized)});
    }
    auto bias_vec = [&](const Node& n, int64_t C) {
      std::vector<float> b(size_t(C), 0.f);
      int bi = n.input(2);
      if (bi >= 0 && G.is_const(bi)) {
        Tensor t = G.const_of(bi).cast(DType::F32);
        if (t.numel() == C) b = t.to_f32_vector();
        else if (t.numel() == 1) b.assign(size_t(C), t.data<float>()[0]);
      }
      return b;
    };
    // A layer input seen in the FP32 run: fake-quantize it once (all its
    // readers share its quantizer) and feed every layer that reads it.
    size_t nv = 0;
    std::vector<float> fq_buf;  // scratch for the fake-quantized input, grown once
    auto feed = [&](const std::string& name, const Tensor& t, const Session::ChannelBlocking& cb) {
      auto it = by_input.find(name);
      if (it == by_input.end() || t.dtype != DType::F32) return;
      if (cb.block > 0) {
        // Channel-blocked 4-D input (readers are 2-D Convs): tap sums read it
        // in place and fake-quantize on the fly, same bits as the plain path.
        const FakeQuantParams fq = fake_quant_params(gparams[size_t(P.acts[size_t(L[it->second[0]].in_act)].group)]);
        const ChannelLayout lay{cb.block, cb.s_block, cb.s_h, cb.s_w, cb.s_n};
        for (size_t li : it->second) L[li].ms.add_part_blocked(t.data<float>(), t.shape, lay, nv, fq);
        return;
      }
      if (fq_buf.size() < size_t(t.numel())) fq_buf.resize(size_t(t.numel()));
      Tensor fq = Tensor::wrap(DType::F32, t.shape, fq_buf.data());
      fake_quantize(t.data<float>(), fq.data<float>(), size_t(t.numel()),
                    gparams[size_t(P.acts[size_t(L[it->second[0]].in_act)].group)]);
      for (size_t li : it->second) L[li].ms.add_part(t, fq, nv);
    };
    std::string input_name = G.inputs.empty() ? "" : G.values[size_t(G.inputs[0])].name;
    const size_t bias_images = s.bias_images == 0 ? src.images : std::min(src.images, s.bias_images);
    R.bias_images = bias_images;
    if (!L.empty()) {
      Session& sess = session();
      sess.observed.clear();  // this pass reads layer inputs only
      // Per-channel tap sums need the channel order: plain, or a layout they can read in place.
      sess.observed_layout = Session::ObservedLayout::ChannelBlocked;
      for (auto& [name, layers] : by_input) sess.observed.insert(name);
      // A bounded subset: the first bias_images images (in calibration order)
      // estimate the per-channel mean shifts; the statistics pass saw them all.
      size_t bdone = 0;
      for (size_t b = 0; b < src.batches && bdone < bias_images; ++b) {
        Tensor x;
        size_t bnv = 0;
        if (!spill.get(b, x, bnv)) x = src.get(b, bnv);
        bnv = std::min(bnv, bias_images - bdone);
        for_each_piece(G, x, bnv, [&](const Tensor& piece, size_t pnv) {
          nv = pnv;
          feed(input_name, piece, Session::ChannelBlocking());
          sess.observer = [&](int v, const Tensor& t) {
            feed(sess.planned_graph().values[size_t(v)].name, t, sess.observed_blocking(v));
          };
          sess.run({piece});
          sess.observer = nullptr;
        });
        for (LayerBC& l : L) l.ms.end_batch();
        bdone += bnv;
        if (progress) progress("bias correction", bdone, bias_images);
      }
      if (s.cache) ++s.cache->bias_passes;
    }
    std::vector<std::pair<int, std::vector<double>>> all_shifts = std::move(known_shifts);
    for (LayerBC& l : L) {
      all_shifts.push_back({l.node, l.ms.shift()});
      if (s.cache) s.cache->shifts[shift_key.at(l.node)] = all_shifts.back().second;
    }
    // in placement order, as without a cache (the report lists them so)
    std::map<int, size_t> order;
    for (const WeightQuantizer& w : P.weights) order.emplace(w.node, order.size());
    std::stable_sort(all_shifts.begin(), all_shifts.end(),
                     [&](const auto& x, const auto& y) { return order.at(x.first) < order.at(y.first); });
    for (const auto& [node, shifts] : all_shifts) {
      if (shifts.empty()) continue;
      const Node& n = G.nodes[size_t(node)];
      int64_t C = int64_t(shifts.size());
      std::vector<float> b = bias_vec(n, C);
      double beta = n.op == "Gemm" ? n.attr_f("beta", 1.f) : 1.0;
      if (beta == 0) beta = 1;
      std::vector<double> nb(static_cast<size_t>(C));
      double max_shift = 0, sum_shift = 0;
      for (int64_t c = 0; c < C; ++c) {
        double shift = shifts[size_t(c)];
        // Gemm adds beta * C, so C moves by shift / beta.
        nb[size_t(c)] = double(b[size_t(c)]) + shift / beta;
        max_shift = std::max(max_shift, std::fabs(shift));
        sum_shift += std::fabs(shift);
      }
      new_bias[node] = nb;
      jbias.push_back({{"node", n.name}, {"max_abs_shift", max_shift}, {"mean_abs_shift", sum_shift / double(C)}});
    }
    R.seconds_bias = seconds_since(t1);
  }

  // ---- Build the QDQ graph ----
  Graph Q = G;
  auto scalar_zp = [](DType dt, int zp) {
    Tensor t(dt, {});
    if (dt == DType::U8) t.data<uint8_t>()[0] = uint8_t(zp);
    else t.data<int8_t>()[0] = int8_t(zp);
    return t;
  };
  for (const WeightQuantizer& w : P.weights) {
    Node n = Q.nodes[size_t(w.node)];  // copy: add_* may reallocate
    int wv = n.inputs[size_t(w.input)];
    const std::string base = Q.values[size_t(wv)].name;
    const WeightQuant& q = wq.at(w.node);
    int qi = Q.add_constant(Q.unique_name(base + "_quantized"), q.q);
    // one scale: a scalar (per-tensor DequantizeLinear, no axis)
    const Shape sshape = q.scales.size() == 1 ? Shape{} : Shape{int64_t(q.scales.size())};
    int si = Q.add_constant(Q.unique_name(base + "_scale"), Tensor::from_f32(sshape, q.scales));
    int zi = Q.add_constant(Q.unique_name(base + "_zero_point"), Tensor(DType::I8, sshape));
    int dv = Q.add_value(Q.unique_name(base + "_dequantized"), DType::F32);
    Q.values[size_t(dv)].shape = q.q.shape;
    Q.values[size_t(dv)].has_shape = true;
    int dn = Q.add_node("DequantizeLinear", {qi, si, zi}, {dv}, Q.unique_name(base + "_DequantizeLinear"));
    if (q.scales.size() != 1) Q.nodes[size_t(dn)].set_i("axis", w.axis);
    Q.nodes[size_t(w.node)].inputs[size_t(w.input)] = dv;
    auto it = new_bias.find(w.node);
    if (it != new_bias.end()) {
      const std::vector<double>& nb = it->second;
      std::vector<float> f(nb.begin(), nb.end());
      std::string bname = Q.unique_name(Q.nodes[size_t(w.node)].name + "_bias_corrected");
      int bi = Q.add_constant(bname, Tensor::from_f32({int64_t(f.size())}, f));
      Node& nn = Q.nodes[size_t(w.node)];
      if (nn.inputs.size() < 3) nn.inputs.resize(3, -1);
      nn.inputs[2] = bi;
    }
  }
  for (size_t i = 0; i < P.acts.size(); ++i) {
    const ActQuantizer& a = P.acts[i];
    const QParams& q = gparams[size_t(a.group)];
    const Value src_v = Q.values[size_t(a.value)];
    const std::string base = src_v.name;
    int si = Q.add_constant(Q.unique_name(base + "_scale"), Tensor::scalar_f32(q.scale));
    int zi = Q.add_constant(Q.unique_name(base + "_zero_point"), scalar_zp(q.dtype, q.zero_point));
    int qv = Q.add_value(Q.unique_name(base + "_quantized"), q.dtype);
    int dv = Q.add_value(Q.unique_name(base + "_dequantized"), DType::F32);
    for (int v : {qv, dv}) {
      Q.values[size_t(v)].shape = src_v.shape;
      Q.values[size_t(v)].has_shape = src_v.has_shape;
      Q.values[size_t(v)].dim_param0 = src_v.dim_param0;
    }
    Q.add_node("QuantizeLinear", {a.value, si, zi}, {qv}, Q.unique_name(base + "_QuantizeLinear"));
    Q.add_node("DequantizeLinear", {qv, si, zi}, {dv}, Q.unique_name(base + "_DequantizeLinear"));
    for (int c : a.consumers)
      for (int& in : Q.nodes[size_t(c)].inputs)
        if (in == a.value) in = dv;
  }
  // Bias as INT32 behind a DequantizeLinear with scale = s_x * s_w (per
  // output channel), the form ONNX Runtime's quantizer writes and its
  // QLinearConv fusion expects: every runtime then adds the same integer
  // bias instead of rounding a float one differently.
  std::map<int, float> input_scale;  // weighted node -> scale of its quantized input 0
  for (const ActQuantizer& a : P.acts)
    for (int c : a.consumers) input_scale[c] = gparams[size_t(a.group)].scale;
  int int32_biases = 0;
  for (const WeightQuantizer& w : P.weights) {
    Node n = Q.nodes[size_t(w.node)];
    if ((n.op != "Conv" && n.op != "Gemm") || n.input(2) < 0 || !Q.is_const(n.inputs[2])) continue;
    auto sit = input_scale.find(w.node);
    if (sit == input_scale.end()) continue;
    const Tensor& bt = Q.const_of(n.inputs[2]);
    const WeightQuant& q = wq.at(w.node);
    size_t C = q.scales.size() == 1 ? size_t(bt.numel()) : q.scales.size();
    if (bt.dtype != DType::F32 || bt.rank() != 1 || size_t(bt.numel()) != C) continue;
    std::vector<float> scale(C);
    Tensor bq(DType::I32, {int64_t(C)});
    bool fits = true;
    for (size_t c = 0; c < C; ++c) {
      scale[c] = sit->second * q.scales[q.scales.size() == 1 ? 0 : c];
      double v = scale[c] > 0 ? std::nearbyint(double(bt.data<float>()[c]) / double(scale[c])) : 0.0;
      fits &= scale[c] > 0 && std::fabs(v) < 2147483000.0;
      bq.data<int32_t>()[c] = fits ? int32_t(v) : 0;
    }
    if (!fits) continue;  // keep the float bias
    const std::string base = Q.values[size_t(n.inputs[2])].name;
    int qi = Q.add_constant(Q.unique_name(base + "_quantized"), bq);
    int si = Q.add_constant(Q.unique_name(base + "_scale"), Tensor::from_f32({int64_t(C)}, scale));
    int zi = Q.add_constant(Q.unique_name(base + "_zero_point"), Tensor(DType::I32, {int64_t(C)}));
    int dv = Q.add_value(Q.unique_name(base + "_dequantized"), DType::F32);
    Q.values[size_t(dv)].shape = {int64_t(C)};
    Q.values[size_t(dv)].has_shape = true;
    int dn = Q.add_node("DequantizeLinear", {qi, si, zi}, {dv}, Q.unique_name(base + "_DequantizeLinear"));
    Q.nodes[size_t(dn)].set_i("axis", 0);
    Q.nodes[size_t(w.node)].inputs[2] = dv;
    ++int32_biases;
  }
  nlohmann::json settings = {{"method", "default"},
                             {"preset", s.preset},
                             {"act_estimator", estimator_name(s.act_estimator)},
                             {"weight_estimator", estimator_name(s.weight_estimator)},
                             {"saturation_fix", sat},
                             {"saturation_fix_requested", s.saturation_fix},
                             {"target", target},
                             {"target_requested", s.target},
                             {"cpu_vnni", vnni},
                             {"bias_correction", s.bias_correction},
                             {"ignore", s.ignore},
                             {"images", src.images}};
  if (s.weight_per_tensor) settings["weight_granularity"] = "per-tensor";
  if (!jeq.empty()) settings["equalized_layers"] = jeq.size();
  // Recorded only when it limited the pass, so a file whose bias correction
  // saw every image keeps the bytes it had before the limit existed.
  if (s.bias_correction && R.bias_images < src.images) settings["bias_correction_images"] = R.bias_images;
  Q.metadata["calibr8.quantization"] = json_text(settings);
  // Only when some layer was kept FP32 for a reason, so other files keep their bytes.
  if (!fp32_reasons.empty()) Q.metadata["calibr8.fp32_reasons"] = json_text(fp32_reasons);
  Q.compact();
  std::string err = Q.verify();
  if (!err.empty()) throw Error("internal error: quantized graph is invalid: " + err);

  R.graph = std::move(Q);
  R.placement = P;
  for (int l : P.layers) R.layer_names.push_back(G.nodes[size_t(l)].name);
  R.group_params = gparams;
  R.seconds_total = seconds_since(t_all);
  nlohmann::json fp32n = nlohmann::json::array();
  for (int ni : P.fp32_nodes) fp32n.push_back(G.nodes[size_t(ni)].name + " (" + G.nodes[size_t(ni)].op + ")");
  R.report = {{"settings", settings},
              {"activations", jacts},
              {"weights", jw},
              {"bias_correction", jbias},
              {"fp32_nodes", fp32n},
              {"fp32_reasons", fp32_reasons},
              {"scale_groups", P.groups.size()},
              {"stats_state_bytes", R.stats_state_bytes},
              {"bias_correction_images", R.bias_images},
              {"equalization", jeq},
              {"seconds",
               {{"equalization", R.seconds_equalize},
                {"statistics", R.seconds_stats},
                {"bias_correction", R.seconds_bias},
                {"total", R.seconds_total}}}};
  return R;
}

}  // namespace c8
