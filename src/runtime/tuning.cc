#include "runtime/tuning.h"

#include <immintrin.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/json_io.h"

namespace c8 {

Tune parse_tune(const std::string& s) {
  if (s == "off") return Tune::Off;
  if (s == "cached") return Tune::Cached;
  if (s == "full") return Tune::Full;
  throw Error("--tune: expected off, cached or full, got '" + s + "'");
}

const char* tune_name(Tune t) {
  return t == Tune::Off ? "off" : t == Tune::Cached ? "cached" : t == Tune::Full ? "full" : "exact";
}

namespace {

std::string cpuinfo_field(const std::string& key) {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0 && line.size() > key.size() && (line[key.size()] == '\t' || line[key.size()] == ' ' || line[key.size()] == ':')) {
      const size_t v = line.find_first_not_of(" \t", line.find(':') + 1);
      if (line.find(':') != std::string::npos) return v == std::string::npos ? "" : line.substr(v);
    }
  return "?";
}

// FNV-1a: stable across builds and machines (std::hash is not).
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string md_text(const dnnl::memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  std::ostringstream o;
  o << int(d.data_type) << "/" << int(d.format_kind);
  for (int i = 0; i < d.ndims; ++i) o << (i ? "x" : ":") << d.dims[i];
  if (d.format_kind == dnnl_blocked) {
    for (int i = 0; i < d.ndims; ++i) o << (i ? "," : "|") << d.format_desc.blocking.strides[i];
    for (int i = 0; i < d.format_desc.blocking.inner_nblks; ++i)
      o << "b" << d.format_desc.blocking.inner_idxs[i] << ":" << d.format_desc.blocking.inner_blks[i];
  }
  return o.str();
}

std::string default_cache_path() {
  // Absolute folders only: a relative one would drop a cache into the working folder.
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg == '/') return std::string(xdg) + "/calibr8/tuning-1.json";
  const char* home = std::getenv("HOME");
  if (home && *home == '/') return std::string(home) + "/.cache/calibr8/tuning-1.json";
  return "";
}

}  // namespace

// How time_kernels measures, part of the machine key: winners timed an
// older way are timed again.
constexpr const char* kTimingMethod = "cold-weights";

std::string machine_signature() {
  const dnnl_version_t* v = dnnl_version();
  std::ostringstream o;
  o << cpuinfo_field("model name") << "; family " << cpuinfo_field("cpu family") << " model " << cpuinfo_field("model")
    << " stepping " << cpuinfo_field("stepping") << "; isa " << int(dnnl::get_effective_cpu_isa()) << "; onednn "
    << v->major << "." << v->minor << "." << v->patch << "; timing " << kTimingMethod;
  return o.str();
}

std::string node_signature(const BuildCtx& ctx) {
  const Node& n = *ctx.node;
  std::ostringstream o;
  o << n.domain << "." << n.op << ";t" << ctx.threads;
  for (const auto& [name, a] : n.attrs) {
    if (a.kind == Attribute::Int) o << ";" << name << "=" << a.i;
    else if (a.kind == Attribute::Ints) {
      o << ";" << name << "=";
      for (int64_t x : a.ints) o << x << ",";
    } else if (a.kind == Attribute::String) o << ";" << name << "=" << a.s;
  }
  for (const PostOp& p : n.post_ops) o << ";post " << int(p.kind) << p.op << p.input_index;
  for (const ValueInfo& v : ctx.in)
    o << ";in " << int(v.dtype) << (v.constant ? "c" : "") << shape_str(v.shape) << " " << (v.present() ? md_text(v.md) : "-");
  for (const ValueInfo& v : ctx.out) o << ";out " << int(v.dtype) << shape_str(v.shape);
  for (const FastKernel* f : fast_kernels_for(n.op)) o << ";k " << f->name;
  for (const char* var : {"C8_WINOGRAD", "C8_WINOGRAD_TILE", "C8_WINOGRAD_VNNI", "C8_IM2COL", "C8_QMAXPOOL", "C8_QPOOL", "C8_MAXPOOL_AVX512", "C8_QCONV_DW", "C8_QCONV_ALT"}) {
    const char* v = std::getenv(var);
    if (v) o << ";" << var << "=" << v;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)fnv1a(o.str()));
  return n.op + ":" + hex;
}

std::vector<double> time_kernels(const std::vector<Kernel*>& kernels, const std::vector<const BuildCtx*>& ctxs,
                                 const dnnl::engine& eng, dnnl::stream& strm) {
  // Each candidate gets its own buffers in the layouts it was built for:
  // inputs zero (speed does not depend on the values here; zeros keep FP32
  // free of denormals), constants bound to their real data.
  std::vector<KernelIO> ios(kernels.size());
  std::vector<std::vector<Tensor>> keep(kernels.size());
  for (size_t k = 0; k < kernels.size(); ++k) {
    KernelIO& io = ios[k];
    io.stream = &strm;
    auto bind = [&](const ValueInfo& v, bool is_input) {
      if (!v.present()) {
        io.in.push_back(dnnl::memory()), io.in_t.push_back(Tensor());
        return;
      }
      Tensor t;
      if (is_input && v.constant) t = *v.constant;
      else {
        const size_t bytes = std::max(v.md.get_size(), size_t(shape_numel(v.shape)) * dtype_size(v.dtype));
        Tensor buf(DType::U8, {int64_t(std::max<size_t>(bytes, 1))});
        t = Tensor::wrap(v.dtype, v.shape, buf.raw());
        keep[k].push_back(buf);
      }
      dnnl::memory m = dnnl_supports(v.dtype) ? dnnl::memory(v.md, eng, t.raw()) : dnnl::memory();
      if (is_input) io.in.push_back(m), io.in_t.push_back(t);
      else io.out.push_back(m), io.out_t.push_back(t);
    };
    for (const ValueInfo& v : ctxs[k]->in) bind(v, true);
    for (const ValueInfo& v : ctxs[k]->out) {
      if (!v.present()) {
        io.out.push_back(dnnl::memory()), io.out_t.push_back(Tensor());
        continue;
      }
      bind(v, false);
    }
  }
  // In a model a whole inference passes between two runs of a node, so its
  // weights come from L3 or memory while its input, just written by the node
  // before, is in L2. Timed back to back, weights stay in L2, and kernels
  // whose weights are large against their work look faster than they run:
  // the integer Winograd's transformed weights are 6.7x the direct kernel's
  // bytes, re-read once per chunk of tiles. Zen 4, 1 thread: googlenet's
  // inception4e 3x3 conv timed 0.347 ms that way against 0.365 for oneDNN's
  // direct kernel, then ran 0.630 ms in the model against 0.393. So before
  // every call: flush the kernel's prepared data (Kernel::prepared_data) and
  // the node's constants out of every cache level, then read the node's
  // activation inputs back in (the same idea as benchdnn's --cold-cache,
  // aimed at the weights, and far cheaper than flushing all of L3, which
  // gave the same choices at ~10x the tuning time). INT8 models with the
  // winners timed this way vs warm, interleaved: resnet50 19.77-19.85 ms vs
  // 20.73-20.80, googlenet 7.09-7.41 vs 7.64-8.07; FP32 unchanged.
  auto cool = [&](size_t k) {
    auto flush = [](const void* p, size_t bytes) {
      const char* c = static_cast<const char*>(p);
      for (size_t b = 0; b < bytes; b += 64) _mm_clflush(c + b);
      if (bytes) _mm_clflush(c + bytes - 1);
    };
    for (const auto& [p, bytes] : kernels[k]->prepared_data()) flush(p, bytes);
    uint64_t sink = 0;
    for (size_t i = 0; i < ios[k].in_t.size(); ++i) {
      const Tensor& t = ios[k].in_t[i];
      if (!t.raw()) continue;
      const size_t bytes = size_t(t.numel()) * dtype_size(t.dtype);
      if (ctxs[k]->in[i].constant) {
        flush(t.raw(), bytes);
        continue;
      }
      const uint8_t* p = static_cast<const uint8_t*>(t.raw());
      for (size_t b = 0; b < bytes; b += 64) sink += p[b];
    }
    _mm_mfence();
    asm volatile("" : : "r"(sink) : "memory");
  };
  using clk = std::chrono::steady_clock;
  auto once = [&](size_t k) {
    cool(k);
    auto t0 = clk::now();
    kernels[k]->execute(ios[k]);
    strm.wait();
    return std::chrono::duration<double, std::milli>(clk::now() - t0).count();
  };
  std::vector<double> best(kernels.size(), 1e30);
  for (size_t k = 0; k < kernels.size(); ++k) best[k] = once(k);  // warm-up: first-call set-up, caches
  // Rounds in turn, so that a noisy stretch of time hits every candidate;
  // stop after ~20 ms of timing per candidate or 8 rounds.
  double spent = 0;
  for (int round = 0; round < 8 && spent < 20.0 * double(kernels.size()); ++round)
    for (size_t k = 0; k < kernels.size(); ++k) {
      double t = once(k);
      spent += t;
      best[k] = std::min(best[k], t);
    }
  return best;
}

namespace tuning_cache {
namespace {

struct Store {
  std::string path;
  std::map<std::string, std::map<std::string, TuneRecord>> entries;
  bool dirty = false, warned = false;
};
std::mutex mu;

// A regular file of sane size only (a FIFO would block, a huge file is not ours).
void load(Store& st) {
  struct stat sb {};
  if (st.path.empty() || ::stat(st.path.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > (64 << 20)) return;
  std::ifstream f(st.path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    nlohmann::json j = parse_json_bounded(ss.str(), st.path);
    if (j.value("format", "") != "calibr8-tuning-1") return;
    for (const auto& [machine, nodes] : j.at("machines").items())
      for (const auto& [key, r] : nodes.items()) {
        TuneRecord t;
        t.winner = r.at("winner").get<std::string>();
        for (const auto& [name, ms] : r.at("ms").items()) t.ms[name] = ms.get<double>();
        st.entries[machine][key] = t;
      }
  } catch (const std::exception&) {
    st.entries.clear();  // a damaged cache is rebuilt, never trusted
  }
}

// The store for the current path (tests point $XDG_CACHE_HOME at temp folders). Call with mu held.
Store& current() {
  static std::map<std::string, Store> stores;
  const std::string p = default_cache_path();
  auto it = stores.find(p);
  if (it == stores.end()) {
    it = stores.emplace(p, Store()).first;
    it->second.path = p;
    load(it->second);
  }
  return it->second;
}

}  // namespace

bool find(const std::string& machine, const std::string& key, TuneRecord* out) {
  std::lock_guard<std::mutex> lock(mu);
  Store& st = current();
  auto m = st.entries.find(machine);
  if (m == st.entries.end()) return false;
  auto e = m->second.find(key);
  if (e == m->second.end()) return false;
  *out = e->second;
  return true;
}

void put(const std::string& machine, const std::string& key, TuneRecord r) {
  std::lock_guard<std::mutex> lock(mu);
  Store& st = current();
  st.entries[machine][key] = std::move(r);
  st.dirty = true;
}

std::string path() {
  std::lock_guard<std::mutex> lock(mu);
  return current().path;
}

void save() {
  std::lock_guard<std::mutex> lock(mu);
  Store& st = current();
  if (!st.dirty || st.path.empty()) return;
  nlohmann::json j;
  j["format"] = "calibr8-tuning-1";
  nlohmann::json& ms = j["machines"];
  ms = nlohmann::json::object();
  for (const auto& [machine, nodes] : st.entries)
    for (const auto& [key, r] : nodes) ms[machine][key] = {{"winner", r.winner}, {"ms", r.ms}};
  try {
    const std::string dir = st.path.substr(0, st.path.rfind('/'));
    for (size_t p = dir.find('/', 1);; p = dir.find('/', p + 1)) {  // mkdir -p; errors surface in the write below
      ::mkdir(dir.substr(0, p).c_str(), 0700);                      // (0700: the XDG base directory spec)
      if (p == std::string::npos) break;
    }
    write_file_atomic(st.path, json_text(j, 1) + "\n");
    st.dirty = false;
  } catch (const std::exception& e) {
    if (!st.warned) std::fprintf(stderr, "warning: tuning cache not saved (%s)\n", e.what());
    st.warned = true;
  }
}

}  // namespace tuning_cache

}  // namespace c8
