#include "ir/onnx_validate.h"

#include <mutex>
#include <set>
#include <unordered_map>

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/defs/shape_inference.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <onnx/version_converter/convert.h>

#include "base/error.h"
#include "ir/onnx_export.h"
#include "ir/onnx_import.h"

namespace c8 {
namespace {

std::string first_line(std::string s) {
  size_t nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return s;
}

bool opset_known(const onnx::ModelProto& model) {
  const auto& ranges = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  for (const auto& op : model.opset_import()) {
    std::string dom = op.domain() == "ai.onnx" ? "" : op.domain();
    auto it = ranges.find(dom);
    if (it != ranges.end() && op.version() > it->second.second) return false;
  }
  return true;
}

}  // namespace

namespace {

// The rank of input `i` when inference knows it, else -1.
int input_rank(onnx::InferenceContext& ctx, size_t i) {
  if (i >= ctx.getNumInputs()) return -1;
  const onnx::TypeProto* t = ctx.getInputType(i);
  if (!t || !t->has_tensor_type() || !t->tensor_type().has_shape()) return -1;
  return t->tensor_type().shape().dim_size();
}

}  // namespace

void guard_onnx_shape_inference() {
  static std::once_flag once;
  std::call_once(once, [] {
    // op -> index of its weight input (-1: none)
    const std::pair<const char*, int> ops[] = {{"Conv", 1},        {"ConvTranspose", 1}, {"ConvInteger", 1},
                                               {"QLinearConv", 3}, {"MaxPool", -1},      {"AveragePool", -1},
                                               {"LpPool", -1},     {"MaxRoiPool", -1},   {"MaxUnpool", -1}};
    for (const auto& [op, w_index] : ops) {
      std::set<const onnx::OpSchema*> seen;
      for (int v = 1; v <= 25; ++v) {
        const onnx::OpSchema* s = onnx::OpSchemaRegistry::Schema(op, v);
        if (!s || !seen.insert(s).second) continue;
        onnx::InferenceFunction original = s->GetTypeAndShapeInferenceFunction();
        if (!original) continue;
        const std::string name = op;
        const int wi = w_index;
        // ONNX 1.12 reads dims past the end when X's rank, W's rank and the
        // window attributes disagree (ConvTranspose of a rank-2 X: SIGSEGV,
        // found by fuzzing): refuse those before its inference runs.
        const_cast<onnx::OpSchema*>(s)->TypeAndShapeInferenceFunction([original, name, wi](onnx::InferenceContext& ctx) {
          const int r = input_rank(ctx, 0);
          if (r >= 0) {
            if (r < 3) fail_shape_inference(name, ": input X has rank ", r, "; expected N, C and at least one spatial dim");
            const int wr = wi >= 0 ? input_rank(ctx, size_t(wi)) : -1;
            if (wr >= 0 && wr != r) fail_shape_inference(name, ": weights have rank ", wr, " but input X has rank ", r);
            for (const char* a : {"kernel_shape", "strides", "dilations", "output_padding", "output_shape", "pads"}) {
              const onnx::AttributeProto* ap = ctx.getAttribute(a);
              const int want = std::string(a) == "pads" ? 2 * (r - 2) : r - 2;
              if (ap && ap->ints_size() != want && !(std::string(a) == "output_shape" && ap->ints_size() == r))
                fail_shape_inference(name, ": attribute ", a, " has ", ap->ints_size(), " values; input X has ", r - 2,
                                     " spatial dims");
            }
          }
          original(ctx);
        });
      }
    }
  });
}

void check_window_attributes(const onnx::GraphProto& gp) {
  for (const auto& np : gp.node()) {
    for (const auto& ap : np.attribute()) {
      if (ap.type() == onnx::AttributeProto::GRAPH) check_window_attributes(ap.g());
      if (ap.type() == onnx::AttributeProto::GRAPHS)
        for (const auto& sg : ap.graphs()) check_window_attributes(sg);
      const std::string& an = ap.name();
      const bool positive = an == "strides" || an == "dilations" || an == "kernel_shape";
      if (!positive && an != "pads") continue;
      if (!np.domain().empty() && np.domain() != "ai.onnx") continue;
      const int64_t lo = positive ? 1 : 0, hi = int64_t(1) << 31;  // beyond 2^31 sizes overflow
      for (int64_t v : ap.ints())
        if (v < lo || v > hi)
          throw Error("node '" + np.name() + "' (" + np.op_type() + "): attribute " + an + " has " + std::to_string(v) +
                      "; every value must be between " + std::to_string(lo) + " and 2^31");
    }
  }
}

namespace {

// A copy for shape inference without the weights' bytes: only their types
// and dims matter, except small tensors (shape-like data inference may read).
// Saves copying every weight of the model on each save.
onnx::ModelProto light_copy(onnx::ModelProto& model) {
  onnx::ModelProto copy;
  google::protobuf::RepeatedPtrField<onnx::TensorProto> saved;
  saved.Swap(model.mutable_graph()->mutable_initializer());
  copy = model;
  saved.Swap(model.mutable_graph()->mutable_initializer());
  for (const auto& tp : model.graph().initializer()) {
    onnx::TensorProto* nt = copy.mutable_graph()->add_initializer();
    nt->set_name(tp.name());
    nt->set_data_type(tp.data_type());
    *nt->mutable_dims() = tp.dims();
    if (tp.raw_data().size() <= 4096) nt->set_raw_data(tp.raw_data());
  }
  return copy;
}

}  // namespace

bool validate_for_writing(onnx::ModelProto& model, const std::string& who) {
  if (!opset_known(model)) return false;
  try {
    check_window_attributes(model.graph());
    // One strict inference (check_type: inferred vs declared types; error
    // mode 1: a node whose inference fails is an error) on a light copy; it
    // also gives the graph input / output shapes calibr8 did not know, which
    // the checker requires.
    onnx::ModelProto copy = light_copy(model);
    guard_onnx_shape_inference();
    onnx::shape_inference::InferShapes(copy, onnx::OpSchemaRegistry::Instance(), onnx::ShapeInferenceOptions(true, 1, false));
    std::unordered_map<std::string, const onnx::TypeProto*> inferred;
    for (const auto& vi : copy.graph().value_info()) inferred[vi.name()] = &vi.type();
    for (const auto& vi : copy.graph().output()) inferred[vi.name()] = &vi.type();
    for (auto* list : {model.mutable_graph()->mutable_input(), model.mutable_graph()->mutable_output()})
      for (auto& vi : *list) {
        auto it = inferred.find(vi.name());
        if (vi.type().has_tensor_type() && !vi.type().tensor_type().has_shape() && it != inferred.end() &&
            it->second->has_tensor_type() && it->second->tensor_type().has_shape())
          *vi.mutable_type()->mutable_tensor_type()->mutable_shape() = it->second->tensor_type().shape();
      }
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throw Error((who.empty() ? "" : who + ": ") + "not valid ONNX, not written: " + first_line(e.what()));
  }
  return true;
}

Graph upgrade_opset(const Graph& g, int64_t target, const std::string& who) {
  guard_onnx_shape_inference();
  if (g.opset >= target) return g;
  onnx::ModelProto in;
  graph_to_proto(g, in);
  onnx::ModelProto out;
  try {
    out = onnx::version_conversion::ConvertVersion(in, int(target));
  } catch (const std::exception& e) {
    throw Error(who + ": opset " + std::to_string(g.opset) + " model; calibr8 writes QDQ models at opset " +
                std::to_string(target) + " and ONNX's version converter cannot convert this one: " + first_line(e.what()));
  }
  std::string bytes;
  if (!out.SerializeToString(&bytes)) throw Error(who + ": cannot serialize the converted model");
  Graph up = load_onnx_bytes(bytes.data(), bytes.size(), who + " (converted to opset " + std::to_string(target) + ")", "");
  up.metadata = g.metadata;  // preprocessing and other records survive the conversion
  return up;
}

}  // namespace c8
