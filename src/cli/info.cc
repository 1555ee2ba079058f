// calibr8 info MODEL: what the model is and whether calibr8 can calibrate it.
#include <cstdio>
#include <set>

#include "cli/commands.h"
#include "cli/common.h"
#include "ir/onnx_import.h"
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
    std::vector<std::string> unsupported = unsupported_nodes(g);
    j["unsupported_nodes"] = unsupported;
    auto h = g.op_histogram();
    bool has_quantizable = h.count("Conv") || h.count("Gemm") || h.count("MatMul");
    std::string why;
    if (prec == "INT8-QDQ") why = "the model is already quantized";
    else if (!unsupported.empty()) why = std::to_string(unsupported.size()) + " unsupported node(s)";
    else if (!has_quantizable) why = "no Conv, Gemm or MatMul to quantize";
    j["calibratable"] = why.empty();
    if (!why.empty()) j["not_calibratable_because"] = why;
    std::string warn = import_warnings(g);
    if (!warn.empty()) j["warnings"] = warn;
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
    std::printf("nodes       %zu\n", g.nodes.size());
    for (auto& [op, n] : h) std::printf("  %-22s %d\n", op.c_str(), n);
    if (!unsupported.empty()) {
      std::printf("unsupported nodes:\n");
      for (auto& u : unsupported) std::printf("  %s\n", u.c_str());
    }
    std::printf("calibratable %s%s\n", why.empty() ? "yes" : "no: ", why.c_str());
    if (!warn.empty()) std::printf("warnings:\n%s\n", warn.c_str());
    return 0;
  };
}

}  // namespace c8
