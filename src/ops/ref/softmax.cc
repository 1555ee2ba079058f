// Softmax, LogSoftmax, Hardmax. Opset < 13: the input is flattened to 2-D at
// `axis` (default 1) and the op runs over the second dim; opset >= 13: it runs
// over the single dim `axis` (default -1). The Node does not know the model
// opset: the importer sets the int attribute "_opset"; absent = 13 semantics.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/ref/broadcast.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

struct Layout {
  int64_t outer, len, inner;  // op runs over `len` with stride `inner`
};

Layout softmax_layout(const Node& n, const Shape& s) {
  int64_t r = int64_t(s.size());
  bool old = n.attr_i("_opset", 13) < 13;
  if (r == 0) return {1, 1, 1};
  int64_t axis = norm_axis(n, n.attr_i("axis", old ? 1 : -1), r);
  Layout l;
  if (old) {
    l.outer = 1;
    for (int64_t i = 0; i < axis; ++i) l.outer *= s[size_t(i)];
    l.len = 1;
    for (int64_t i = axis; i < r; ++i) l.len *= s[size_t(i)];
    l.inner = 1;
  } else {
    l.outer = 1;
    for (int64_t i = 0; i < axis; ++i) l.outer *= s[size_t(i)];
    l.len = s[size_t(axis)];
    l.inner = 1;
    for (int64_t i = axis + 1; i < r; ++i) l.inner *= s[size_t(i)];
  }
  return l;
}

std::vector<TypeShape> softmax_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 1, 1);
  DType t = in[0].dtype;
  if (t != DType::F32 && t != DType::F64 && t != DType::F16) node_error(n, std::string("input must be float, got ") + dtype_name(t));
  int64_t r = int64_t(in[0].shape.size());
  bool old = n.attr_i("_opset", 13) < 13;
  if (r > 0) norm_axis(n, n.attr_i("axis", old ? 1 : -1), r);
  return {TypeShape{t, in[0].shape}};
}

void softmax_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  if (run_half_as_float(n, in, out, softmax_ref)) return;
  const Tensor& X = in.at(0);
  if (X.dtype != DType::F32 && X.dtype != DType::F64) node_error(n, "input must be float");
  Layout l = softmax_layout(n, X.shape);
  Tensor xd = X.cast(DType::F64), yd(DType::F64, X.shape);
  const double* x = xd.data<double>();
  double* y = yd.data<double>();
  bool is_log = n.op == "LogSoftmax", hard = n.op == "Hardmax";
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t i = 0; i < l.inner; ++i) {
      int64_t base = o * l.len * l.inner + i;
      auto at = [&](int64_t k) { return base + k * l.inner; };
      double mx = -std::numeric_limits<double>::infinity();
      int64_t arg = 0;
      for (int64_t k = 0; k < l.len; ++k)
        if (k == 0 || x[at(k)] > mx) {  // first maximum wins (Hardmax)
          mx = x[at(k)];
          arg = k;
        }
      if (hard) {
        for (int64_t k = 0; k < l.len; ++k) y[at(k)] = k == arg ? 1.0 : 0.0;
        continue;
      }
      double sum = 0;
      for (int64_t k = 0; k < l.len; ++k) sum += std::exp(x[at(k)] - mx);
      for (int64_t k = 0; k < l.len; ++k)
        y[at(k)] = is_log ? x[at(k)] - mx - std::log(sum) : std::exp(x[at(k)] - mx) / sum;
    }
  Tensor yc = yd.cast(X.dtype);
  Tensor& Y = ref_output(out, 0, X.dtype, X.shape);
  if (yc.nbytes()) std::memcpy(Y.raw(), yc.raw(), yc.nbytes());
}

C8_REGISTER_OPS({
    OpDef{"Softmax", "", 1, softmax_infer, softmax_ref},
    OpDef{"LogSoftmax", "", 1, softmax_infer, softmax_ref},
    OpDef{"Hardmax", "", 1, softmax_infer, softmax_ref},
});

}  // namespace
}  // namespace c8
