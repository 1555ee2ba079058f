// MaxPool (with optional Indices), AveragePool, LpPool, GlobalAveragePool,
// GlobalMaxPool, GlobalLpPool. 1-D/2-D/3-D; ranks below 3 run as 3-D.
#include <cmath>
#include <limits>
#include <type_traits>

#include "ops/ref/broadcast.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

enum class PoolKind { Max, Avg, Lp };

PoolKind pool_kind(const std::string& op) {
  if (op == "MaxPool" || op == "GlobalMaxPool") return PoolKind::Max;
  if (op == "AveragePool" || op == "GlobalAveragePool") return PoolKind::Avg;
  return PoolKind::Lp;
}
bool is_global(const std::string& op) { return op.rfind("Global", 0) == 0; }

std::vector<int64_t> to3(const std::vector<int64_t>& v, int64_t fill) {
  std::vector<int64_t> r(3 - v.size(), fill);
  r.insert(r.end(), v.begin(), v.end());
  return r;
}

WindowGeom pool_geom(const Node& n, const Shape& x) {
  if (x.size() < 3 || x.size() > 5) node_error(n, "input must have rank 3..5 (N,C,spatial...), got " + shape_str(x));
  Shape sp(x.begin() + 2, x.end());
  if (is_global(n.op)) {
    for (int64_t d : sp)
      if (d < 0) {
        WindowGeom g;
        g.out.assign(sp.size(), 1);
        return g;
      }
    Node plain = n;
    plain.attrs.clear();
    return window_geometry(plain, sp, sp, false);
  }
  auto k = n.attr_ints("kernel_shape");
  if (k.size() != sp.size())
    node_error(n, "kernel_shape " + shape_str(k) + " must have " + std::to_string(sp.size()) + " entries");
  if (n.has("storage_order") && n.attr_i("storage_order", 0) != 0 && n.op != "MaxPool")
    node_error(n, "storage_order is only valid for MaxPool");
  return window_geometry(n, sp, k, n.attr_i("ceil_mode", 0) != 0);
}

Shape pool_out(const Shape& x, const WindowGeom& g) {
  Shape o = {x[0], x[1]};
  for (int64_t d : g.out) o.push_back(d);
  return o;
}

std::vector<TypeShape> pool_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 1, 1);
  PoolKind k = pool_kind(n.op);
  DType t = in[0].dtype;
  bool ok = is_float_dtype(t) || (k == PoolKind::Max && (t == DType::I8 || t == DType::U8));
  if (!ok) node_error(n, std::string("unsupported dtype ") + dtype_name(t));
  WindowGeom g = pool_geom(n, in[0].shape);
  std::vector<TypeShape> r = {TypeShape{t, pool_out(in[0].shape, g)}};
  if (n.outputs.size() > 1) {
    if (n.op != "MaxPool") node_error(n, "only MaxPool has a second output");
    r.push_back(TypeShape{DType::I64, r[0].shape});
  }
  return r;
}

template <class T>
void pool_run(const Node& n, PoolKind kind, const WindowGeom& g0, const Tensor& X, Tensor& Y, Tensor* I) {
  auto is = to3(Shape(X.shape.begin() + 2, X.shape.end()), 1), ks = to3(g0.kernel, 1), os = to3(g0.out, 1);
  auto st = to3(g0.strides, 1), dl = to3(g0.dilations, 1), pb = to3(g0.pad_begin, 0), pe = to3(g0.pad_end, 0);
  bool include_pad = n.attr_i("count_include_pad", 0) != 0;
  double p = double(n.attr_i("p", 2));
  bool col_major = n.attr_i("storage_order", 0) != 0;
  int64_t NC = X.shape[0] * X.shape[1];
  int64_t isz = is[0] * is[1] * is[2], osz = os[0] * os[1] * os[2];
  const T* x = X.data<T>();
  T* y = Y.data<T>();
  int64_t* ind = I ? I->data<int64_t>() : nullptr;
  for (int64_t c = 0; c < NC; ++c) {
    const T* xc = x + c * isz;
    for (int64_t od = 0; od < os[0]; ++od)
      for (int64_t oh = 0; oh < os[1]; ++oh)
        for (int64_t ow = 0; ow < os[2]; ++ow) {
          double acc = kind == PoolKind::Max ? -std::numeric_limits<double>::infinity() : 0.0;
          int64_t best = -1, count = 0, padded_count = 0;
          for (int64_t kd = 0; kd < ks[0]; ++kd) {
            int64_t id = od * st[0] - pb[0] + kd * dl[0];
            bool in_pad_d = id >= -pb[0] && id < is[0] + pe[0];
            for (int64_t kh = 0; kh < ks[1]; ++kh) {
              int64_t ih = oh * st[1] - pb[1] + kh * dl[1];
              bool in_pad_h = ih >= -pb[1] && ih < is[1] + pe[1];
              for (int64_t kw = 0; kw < ks[2]; ++kw) {
                int64_t iw = ow * st[2] - pb[2] + kw * dl[2];
                bool in_pad_w = iw >= -pb[2] && iw < is[2] + pe[2];
                if (in_pad_d && in_pad_h && in_pad_w) ++padded_count;
                if (id < 0 || id >= is[0] || ih < 0 || ih >= is[1] || iw < 0 || iw >= is[2]) continue;
                int64_t off = (id * is[1] + ih) * is[2] + iw;
                double v = double(xc[off]);
                ++count;
                if (kind == PoolKind::Max) {
                  if (v > acc || best < 0) {
                    acc = v;
                    best = col_major ? (iw * is[1] + ih) * is[0] + id : off;
                  }
                } else if (kind == PoolKind::Avg) {
                  acc += v;
                } else {
                  acc += std::pow(std::fabs(v), p);
                }
              }
            }
          }
          int64_t o = c * osz + (od * os[1] + oh) * os[2] + ow;
          if (kind == PoolKind::Max) {
            if (best < 0) node_error(n, "pooling window lies entirely in padding");
            y[o] = T(acc);
            if (ind) ind[o] = c * isz + best;
          } else if (kind == PoolKind::Avg) {
            int64_t div = include_pad ? padded_count : count;
            y[o] = T(div > 0 ? acc / double(div) : 0.0);
          } else {
            y[o] = T(std::pow(acc, 1.0 / p));
          }
        }
  }
}

void pool_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  if (run_half_as_float(n, in, out, pool_ref)) return;
  const Tensor& X = in.at(0);
  PoolKind kind = pool_kind(n.op);
  WindowGeom g = pool_geom(n, X.shape);
  Shape os = pool_out(X.shape, g);
  Tensor& Y = ref_output(out, 0, X.dtype, os);
  Tensor* I = nullptr;
  if (out.size() > 1 && n.outputs.size() > 1 && n.outputs[1] >= 0) I = &ref_output(out, 1, DType::I64, os);
  if (X.dtype == DType::F32) pool_run<float>(n, kind, g, X, Y, I);
  else if (X.dtype == DType::F64) pool_run<double>(n, kind, g, X, Y, I);
  else if (X.dtype == DType::U8 && kind == PoolKind::Max) pool_run<uint8_t>(n, kind, g, X, Y, I);
  else if (X.dtype == DType::I8 && kind == PoolKind::Max) pool_run<int8_t>(n, kind, g, X, Y, I);
  else node_error(n, std::string("unsupported dtype ") + dtype_name(X.dtype));
}

C8_REGISTER_OPS({
    OpDef{"MaxPool", "", 12, pool_infer, pool_ref},
    OpDef{"AveragePool", "", 11, pool_infer, pool_ref},
    OpDef{"LpPool", "", 11, pool_infer, pool_ref},
    OpDef{"GlobalAveragePool", "", 1, pool_infer, pool_ref},
    OpDef{"GlobalMaxPool", "", 1, pool_infer, pool_ref},
    OpDef{"GlobalLpPool", "", 2, pool_infer, pool_ref},
});

}  // namespace
}  // namespace c8
