// calibr8 info MODEL: what the model is and whether calibr8 can calibrate it.
#include <cstdio>
#include <set>

#include "cli/commands.h"
#include "cli/common.h"
#include "ir/onnx_import.h"
#include "quant/calibrate.h"
#include "runtime/kernel.h"
#include "report/precision.h"
#include "runtime/ref_executor.h"

namespace c8 {

namespace {

std::string weight_precision(const Graph& g) {
  auto h = g.op_histogram();
  if (h.count("QuantizeLinear") || h.count("DequantizeLinear") || h.count("QLinearConv") || h.count("QLinearMatMul") ||
      h.count("ConvInteger") || h.count("MatMulInteger"))
    return "INT8-QDQ";
  bool f16 = false;
  for (const Value& v : g.values)
    if (v.constant && v.constant->dtype == DType::F16 && v.constant->numel() > 1) f16 = true;
  return f16 ? "FP16" : "FP32";
}

}  // namespace

CommandAction add_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Inputs, outputs, opset, op histogram, parameters, precision of a model");
  auto model = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("model", *model, "ONNX file, or 'default' for the embedded model")->required();
  cmd->add_flag("--json", *json, "print one JSON object on stdout");
  return [=]() {
    LoadedModel m = load_model_arg(*model);
    const Graph& g = m.graph;
    nlohmann::json j;
    j["model"] = m.path;
    j["ir_version"] = g.ir_version;
    j["opset"] = g.opset;
    j["producer"] = g.producer_name + (g.producer_version.empty() ? "" : " " + g.producer_version);
    auto io = [&](const std::vector<int>& ids) {
      nlohmann::json a = nlohmann::json::array();
      for (int v : ids) {
        const Value& val = g.values[size_t(v)];
        nlohmann::json e;
        e["name"] = val.name;
        e["dtype"] = dtype_name(val.dtype);
        e["shape"] = val.has_shape ? nlohmann::json(val.shape) : nlohmann::json(nullptr);
        a.push_back(e);
      }
      return a;
    };
    j["inputs"] = io(g.inputs);
    j["outputs"] = io(g.outputs);
    j["ops"] = g.op_histogram();
    j["nodes"] = g.nodes.size();
    j["parameters"] = g.parameter_count();
    std::string prec = weight_precision(g);
    j["weight_precision"] = prec;
    // The CPU a calibr8 QDQ file was calibrated for, and whether this one
    // (its effective ISA) runs its 8-bit weights in INT8.
    const std::string target = model_target(g);
    if (!target.empty()) j["target"] = target;
    const bool target_mismatch = target == "vnni" && !cpu_has_vnni();
    std::vector<std::string> unsupported = unsupported_nodes(g);
    j["unsupported_nodes"] = unsupported;
    auto h = g.op_histogram();
    bool has_quantizable = h.count("Conv") || h.count("Gemm") || h.count("MatMul");
    // The checks the other commands make before their work: a model they
    // refuse is not "calibratable yes" here. A plan that cannot be built
    // (attributes, shapes) is an error like theirs; an input that is not one
    // image tensor only rules out the image commands. The plan is checked when
    // the spatial size is known (fixed in the model, or recorded with it).
    std::string image_why;
    if (unsupported.empty()) {
      InputGeometry geo;
      try {
        geo = input_geometry(m.graph, m.preprocess);
      } catch (const Error& e) {
        image_why = e.what();
      }
      const Value& in = g.values[size_t(g.inputs.empty() ? 0 : g.inputs[0])];
      const bool size_known = m.is_default || g.metadata.count("calibr8.preprocess") ||
                              (in.shape.size() == 4 && in.shape[2] > 0 && in.shape[3] > 0 && in.shape[1] > 0);
      if (image_why.empty() && size_known) check_plan(m, geo);
    }
    std::string why;
    if (prec == "INT8-QDQ") why = "the model is already quantized";
    else if (!unsupported.empty()) why = std::to_string(unsupported.size()) + " unsupported node(s)";
    else if (!image_why.empty()) why = image_why;
    else if (!has_quantizable) why = "no Conv, Gemm or MatMul to quantize";
    j["calibratable"] = why.empty();
    if (!why.empty()) j["not_calibratable_because"] = why;
    std::string warn = import_warnings(g);
    if (!warn.empty()) j["warnings"] = warn;
    // Precision of every compute layer (Conv / Gemm / MatMul and quantized forms), from the graph.
    nlohmann::json layers = nlohmann::json::array();
    std::map<std::string, int> prec_count;
    bool any_quantized = false;
    for (int ni : g.topo_order()) {
      const Node& n = g.nodes[size_t(ni)];
      if (!is_layer_op(n)) continue;
      LayerPrecision lp = static_precision(g, n);
      std::string w = lp.weights + (lp.weight_quant.empty() ? "" : " " + lp.weight_quant);
      nlohmann::json e;
      e["name"] = n.name;
      e["op"] = n.domain.empty() ? n.op : n.domain + "." + n.op;
      e["output"] = n.outputs.empty() || n.outputs[0] < 0 ? "" : g.values[size_t(n.outputs[0])].name;
      e["precision"] = lp.input;
      e["input"] = lp.input;
      e["weights"] = lp.weights;
      e["weight_quant"] = lp.weight_quant;
      if (lp.weight_axis >= 0) e["weight_axis"] = lp.weight_axis;
      layers.push_back(e);
      prec_count[lp.input + "/" + w]++;
      if (lp.input != "FP32" || (lp.weights != "FP32" && lp.weights != "-")) any_quantized = true;
    }
    j["layers"] = layers;
    if (*json) {
      print_json(j);
      return 0;
    }
    std::printf("model       %s\n", m.path.c_str());
    std::printf("opset       %lld (IR %lld, producer %s)\n", (long long)g.opset, (long long)g.ir_version,
                j["producer"].get<std::string>().c_str());
    for (const char* k : {"inputs", "outputs"})
      for (auto& e : j[k])
        std::printf("%-11s %s  %s %s\n", k == std::string("inputs") ? "input" : "output", e["name"].get<std::string>().c_str(),
                    e["dtype"].get<std::string>().c_str(),
                    e["shape"].is_null() ? "?" : shape_str(e["shape"].get<Shape>()).c_str());
    std::printf("parameters  %lld\n", (long long)g.parameter_count());
    std::printf("precision   %s\n", prec.c_str());
    if (!target.empty())
      std::printf("target      %s%s\n", target.c_str(),
                  target_mismatch ? " (8-bit weights; this CPU has no VNNI: layers whose weight pairs could saturate run FP32 "
                                    "here; recalibrate with --target avx2 for this CPU)"
                                  : "");
    std::printf("nodes       %zu\n", g.nodes.size());
    for (auto& [op, n] : h) std::printf("  %-22s %d\n", op.c_str(), n);
    if (!unsupported.empty()) {
      std::printf("unsupported nodes:\n");
      for (auto& u : unsupported) std::printf("  %s\n", u.c_str());
    }
    if (!layers.empty()) {
      std::printf("layers      %zu compute layer(s):", layers.size());
      for (auto& [k, n] : prec_count) std::printf(" %s x%d", k.c_str(), n);
      std::printf("  (activations/weights)\n");
    }
    if (any_quantized) {
      size_t nw = 5;
      for (auto& e : layers) nw = std::max(nw, e["name"].get<std::string>().size());
      nw = std::min<size_t>(nw, 48);
      std::printf("  %-*s %-16s %-5s %s\n", int(nw), "layer", "op", "input", "weights");
      for (auto& e : layers) {
        std::string w = e["weights"].get<std::string>();
        if (!e["weight_quant"].get<std::string>().empty()) w += " " + e["weight_quant"].get<std::string>();
        if (e.contains("weight_axis")) w += " (axis " + std::to_string(e["weight_axis"].get<int>()) + ")";
        std::printf("  %-*s %-16s %-5s %s\n", int(nw), e["name"].get<std::string>().c_str(), e["op"].get<std::string>().c_str(),
                    e["input"].get<std::string>().c_str(), w.c_str());
      }
    }
    std::printf("calibratable %s%s\n", why.empty() ? "yes" : "no: ", why.c_str());
    if (!warn.empty()) std::printf("warnings:\n%s\n", warn.c_str());
    return 0;
  };
}

}  // namespace c8
