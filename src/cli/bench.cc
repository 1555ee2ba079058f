// calibr8 bench MODEL: latency, throughput, peak memory, first-inference time.
#include <algorithm>
#include <cstdio>
#include <random>

#include "cli/commands.h"
#include "cli/common.h"
#include "ir/onnx_import.h"
#include "runtime/profile.h"
#include "runtime/session.h"

namespace c8 {

namespace {

// Seeded uniform [-1, 1) floats; ints get small non-negative values.
Tensor random_input(DType dt, const Shape& s, uint64_t seed) {
  Tensor t(DType::F32, s);
  std::mt19937_64 rng(seed);
  float* d = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) d[i] = float(double(rng() >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
  return dt == DType::F32 ? t : t.cast(dt);
}

}  // namespace

CommandAction add_bench_command(CLI::App& app) {
  struct Opts {
    std::string model, size, tune;
    int batch = 1, threads = 1, warmup = 3;
    double seconds = 5;
    bool json = false, reference = false, kernels = false, profile = false, flops = false;
    int profile_top = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("bench", "Latency (median, p90), throughput, peak RSS and first-inference time");
  cmd->add_option("model", o->model, "ONNX file, or 'default' for the embedded model")->required();
  cmd->add_option("--batch", o->batch, "batch size")->check(CLI::Range(1, 4096));
  cmd->add_option("--threads", o->threads, "threads")->check(CLI::Range(1, 256));
  add_tune_option(cmd, &o->tune);
  cmd->add_option("--seconds", o->seconds, "measure for this long")->check(CLI::Range(0.01, 3600.0));
  cmd->add_option("--warmup", o->warmup, "untimed runs first")->check(CLI::Range(0, 1000));
  cmd->add_option("--size", o->size, "WxH for inputs whose spatial dims are unknown (default 224x224)");
  cmd->add_flag("--reference", o->reference, "run the naive reference kernels (the oracle) instead");
  cmd->add_flag("--kernels", o->kernels, "list the kernel chosen for every node");
  cmd->add_flag("--json", o->json, "print one JSON object on stdout");
  cmd->add_flag("--profile", o->profile,
                "time every node (sum over the timed runs): sorted table with op, impl, % of total; reorder/ref totals");
  cmd->add_option("--profile-top", o->profile_top, "rows of the --profile table (0 = all)");
  cmd->add_flag("--flops", o->flops, "(always on) report model GFLOP (2*MACs of Conv/Gemm/MatMul) and GFLOP/s");
  return [o]() {
    double t_load0 = now_seconds();
    LoadedModel m = load_model_arg(o->model);
    require_supported(m);
    int w = 224, h = 224;
    if (!o->size.empty()) {
      auto wh = parse_size(o->size);
      w = wh.first;
      h = wh.second;
    }
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < m.graph.inputs.size(); ++i) {
      const Value& v = m.graph.values[size_t(m.graph.inputs[i])];
      if (!v.has_shape) throw Error(m.path + ": input '" + v.name + "' has no shape");
      Shape s = v.shape;
      for (size_t d = 0; d < s.size(); ++d) {
        if (d == 0) {
          if (s[0] > 0 && s[0] != o->batch && o->batch != 1)
            throw Error(m.path + ": input '" + v.name + "' has a fixed batch of " + std::to_string(s[0]));
          if (s[0] < 0) s[0] = o->batch;
        } else if (s[d] < 0) {
          s[d] = d + 2 == s.size() ? h : (d + 1 == s.size() ? w : 3);
        }
      }
      try {
        inputs.push_back(random_input(v.dtype, s, 1234 + i));
      } catch (const std::exception& e) {
        throw Error(m.path + ": input '" + v.name + "' (" + dtype_name(v.dtype) + "): " + e.what());
      }
    }
    SessionOptions so;
    so.threads = o->threads;
    so.tune = parse_tune(o->tune);
    so.fast = !o->reference;
    so.profile = o->profile;
    so.name = m.path;
    Session s(m.graph, so);
    s.run(inputs);  // first inference: plan, create primitives, reorder weights
    double first = now_seconds() - t_load0;
    for (int i = 0; i < o->warmup; ++i) s.run(inputs);
    s.reset_profile();
    std::vector<double> lat;
    double t0 = now_seconds();
    while (lat.empty() || now_seconds() - t0 < o->seconds) {
      double a = now_seconds();
      s.run(inputs);
      lat.push_back((now_seconds() - a) * 1e3);
    }
    double total = now_seconds() - t0;
    int64_t batch = inputs.empty() || inputs[0].shape.empty() ? 1 : inputs[0].shape[0];
    nlohmann::json j;
    j["model"] = m.path;
    j["batch"] = batch;
    j["threads"] = o->threads;
    j["runs"] = lat.size();
    j["median_ms"] = percentile(lat, 0.5);
    j["p90_ms"] = percentile(lat, 0.9);
    j["min_ms"] = *std::min_element(lat.begin(), lat.end());
    j["throughput_ips"] = double(lat.size()) * double(batch) / total;
    j["first_inference_ms"] = first * 1e3;
    j["peak_rss_mb"] = double(peak_rss_bytes()) / (1024.0 * 1024.0);
    j["runtime"] = o->reference ? "reference" : "fast";
    double gflop = graph_gflop(s.planned_graph());
    j["gflop"] = gflop;
    j["gflops"] = j["median_ms"].get<double>() > 0 ? gflop / (j["median_ms"].get<double>() * 1e-3) : 0.0;
    std::map<std::string, int> impls;
    for (auto& k : s.kernels()) impls[k.impl]++;
    j["kernels"] = impls;
    if (o->kernels) {
      nlohmann::json per = nlohmann::json::array();
      for (auto& k : s.kernels()) {
        nlohmann::json e = {{"node", k.node}, {"op", k.op}, {"impl", k.impl}};
        if (!k.tuned_ms.empty()) e["tuned"] = {{"winner", k.factory}, {"ms", k.tuned_ms}, {"from_cache", k.cached}};
        per.push_back(e);
      }
      j["per_node"] = per;
    }
    Profile prof;
    if (o->profile) {
      prof = s.profile();
      nlohmann::json per = nlohmann::json::array();
      double runs = double(std::max<int64_t>(prof.runs, 1));
      double reorder = 0, ref = 0, conversion = 0;
      for (auto& n : prof.nodes) {
        per.push_back({{"node", n.node}, {"op", n.op}, {"impl", n.impl}, {"ms", n.total_ms / runs},
                       {"layout_conversion_ms", n.reorder_ms / runs}});
        if (is_reorder_impl(n.impl)) reorder += n.total_ms / runs;
        if (is_ref_impl(n.impl)) ref += n.total_ms / runs;
        conversion += n.reorder_ms / runs;
      }
      j["profile"] = {{"runs", prof.runs},   {"total_ms", prof.total_ms() / runs},
                      {"reorder_ms", reorder}, {"layout_conversion_ms", conversion},
                      {"ref_ms", ref},         {"nodes", per}};
    }
    if (o->json) {
      print_json(j);
      return 0;
    }
    std::printf("model            %s\nbatch %lld, threads %d, %zu runs\n", m.path.c_str(), (long long)batch, o->threads, lat.size());
    std::printf("latency median   %.3f ms\nlatency p90      %.3f ms\nthroughput       %.1f images/s\n", j["median_ms"].get<double>(),
                j["p90_ms"].get<double>(), j["throughput_ips"].get<double>());
    std::printf("first inference  %.1f ms (load + plan + first run)\npeak RSS         %.1f MB\n", first * 1e3,
                j["peak_rss_mb"].get<double>());
    std::printf("model GFLOP      %.3f (%.1f GFLOP/s at the median)\n", gflop, j["gflops"].get<double>());
    std::printf("kernels         ");
    for (auto& [k, n] : impls) std::printf(" %s x%d", k.c_str(), n);
    std::printf("\n");
    if (o->kernels)
      for (auto& k : s.kernels()) {
        std::printf("  %-40s %-18s %s\n", k.node.c_str(), k.op.c_str(), k.impl.c_str());
        if (k.tuned_ms.empty()) continue;
        // Chosen by measurement: the winner and every other candidate, fastest first.
        std::vector<std::pair<double, std::string>> by_ms;
        for (auto& [name, ms] : k.tuned_ms) by_ms.push_back({ms, name});
        std::sort(by_ms.begin(), by_ms.end());
        std::printf("  %-40s %-18s tuned%s:", "", "", k.cached ? " (cache)" : "");
        for (auto& [ms, name] : by_ms) std::printf(" %s %.3f ms%s", name.c_str(), ms, name == k.factory ? " *" : "");
        std::printf("\n");
      }
    if (o->profile) std::fputs(format_profile(prof, size_t(o->profile_top)).c_str(), stdout);
    return 0;
  };
}

}  // namespace c8
