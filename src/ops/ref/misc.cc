// Identity, Dropout (inference), TopK, NonZero, OneHot, Trilu.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "ops/ref/broadcast.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

void need(const Node& n, const std::vector<TypeShape>& in, size_t k) {
  if (in.size() <= k || !in[k].present()) node_error(n, "required input " + std::to_string(k) + " is missing");
}

void copy_into(std::vector<Tensor>& out, size_t k, const Tensor& x) {
  Tensor& o = ref_output(out, k, x.dtype, x.shape);
  if (x.nbytes() && o.raw() != x.raw()) std::memcpy(o.raw(), x.raw(), x.nbytes());
}

// ---------------------------------------------------------------- Identity
std::vector<TypeShape> infer_identity(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  return {TypeShape{in[0].dtype, in[0].shape, nullptr}};
}

void ref_identity(const Node&, const std::vector<Tensor>& in, std::vector<Tensor>& out) { copy_into(out, 0, in[0]); }

// ---------------------------------------------------------------- Dropout
bool training(const Node& n, const std::vector<Tensor>& in) {
  // Opset < 7 is_test is ignored: this runtime always runs inference.
  return in.size() > 2 && in[2].defined() && in[2].numel() && in[2].get_f64(0) != 0;
}

std::vector<TypeShape> infer_dropout(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  std::vector<TypeShape> r = {TypeShape{in[0].dtype, in[0].shape, nullptr}};
  if (n.outputs.size() > 1) r.push_back(TypeShape{DType::Bool, in[0].shape, nullptr});
  return r;
}

void ref_dropout(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  if (training(n, in)) {
    double ratio = in.size() > 1 && in[1].defined() ? in[1].get_f64(0) : n.attr_f("ratio", 0.5f);
    if (ratio != 0) node_error(n, "training-mode dropout is not supported");
  }
  copy_into(out, 0, in[0]);
  if (n.outputs.size() > 1) {
    Tensor& m = ref_output(out, 1, DType::Bool, in[0].shape);
    if (m.nbytes()) std::memset(m.raw(), 1, m.nbytes());
  }
}

// ---------------------------------------------------------------- TopK
bool topk_k(const Node& n, const std::vector<TypeShape>& in, int64_t& k) {
  if (n.has("k")) {
    k = n.attr_i("k", 0);
    return true;
  }
  need(n, in, 1);
  if (!in[1].value) return false;
  if (in[1].value->numel() != 1) node_error(n, "K must have one element");
  k = in[1].value->get_i64(0);
  if (k < 0) node_error(n, "K must be non-negative");
  return true;
}

std::vector<TypeShape> infer_topk(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  Shape s = in[0].shape;
  int64_t axis = norm_axis(n, n.attr_i("axis", -1), int64_t(s.size()));
  int64_t k;
  if (!topk_k(n, in, k)) k = -1;
  if (k >= 0 && s[size_t(axis)] >= 0 && k > s[size_t(axis)])
    node_error(n, "K=" + std::to_string(k) + " exceeds axis size " + std::to_string(s[size_t(axis)]));
  s[size_t(axis)] = k;
  return {TypeShape{in[0].dtype, s, nullptr}, TypeShape{DType::I64, s, nullptr}};
}

void ref_topk(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  std::vector<TypeShape> ts(in.size());
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i].defined()) ts[i] = TypeShape{in[i].dtype, in[i].shape, &in[i]};
  auto os = infer_topk(n, ts);
  Tensor x = in[0];
  DType dt = x.dtype;
  if (dt == DType::F16) x = x.cast(DType::F32);
  int64_t axis = norm_axis(n, n.attr_i("axis", -1), x.rank());
  int64_t k = os[0].shape[size_t(axis)];
  bool largest = n.attr_i("largest", 1) != 0;
  Tensor vals(x.dtype, os[0].shape);
  Tensor& idx = ref_output(out, 1, DType::I64, os[1].shape);
  int64_t outer = 1, inner = 1, dim = x.shape[size_t(axis)];
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape[size_t(d)];
  for (size_t d = size_t(axis) + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
  dispatch_numeric(n, x.dtype, [&](auto t) {
    using T = decltype(t);
    const T* xs = x.data<T>();
    std::vector<int64_t> ord(static_cast<size_t>(dim));
    for (int64_t a = 0; a < outer; ++a)
      for (int64_t b = 0; b < inner; ++b) {
        auto at = [&](int64_t j) { return xs[(a * dim + j) * inner + b]; };
        std::iota(ord.begin(), ord.end(), 0);
        std::stable_sort(ord.begin(), ord.end(), [&](int64_t p, int64_t q) {
          return largest ? at(p) > at(q) : at(p) < at(q);
        });
        for (int64_t j = 0; j < k; ++j) {
          vals.data<T>()[(a * k + j) * inner + b] = at(ord[size_t(j)]);
          idx.data<int64_t>()[(a * k + j) * inner + b] = ord[size_t(j)];
        }
      }
  }, true);
  if (dt == DType::F16) vals = vals.cast(DType::F16);
  copy_into(out, 0, vals);
}

// ---------------------------------------------------------------- NonZero
std::vector<TypeShape> infer_nonzero(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  return {TypeShape{DType::I64, {int64_t(in[0].shape.size()), -1}, nullptr}};
}

void ref_nonzero(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor& x = in[0];
  size_t r = x.shape.size();
  std::vector<int64_t> hits;
  for (int64_t i = 0; i < x.numel(); ++i)
    if (x.dtype == DType::BF16 ? (x.data<uint16_t>()[i] & 0x7fff) != 0 : x.get_f64(i) != 0) hits.push_back(i);
  int64_t nz = int64_t(hits.size());
  Tensor& o = ref_output(out, 0, DType::I64, {int64_t(r), nz});
  auto st = row_strides(x.shape);
  for (int64_t j = 0; j < nz; ++j) {
    int64_t rem = hits[size_t(j)];
    for (size_t d = 0; d < r; ++d) {
      o.data<int64_t>()[int64_t(d) * nz + j] = rem / st[d];
      rem %= st[d];
    }
  }
  (void)n;
}

// ---------------------------------------------------------------- OneHot
std::vector<TypeShape> infer_onehot(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  need(n, in, 1);
  need(n, in, 2);
  Shape s = in[0].shape;
  int64_t r = int64_t(s.size()) + 1;
  int64_t axis = norm_axis(n, n.attr_i("axis", -1), r);
  int64_t depth = in[1].value ? int64_t(in[1].value->get_f64(0)) : -1;
  s.insert(s.begin() + axis, depth);
  return {TypeShape{in[2].dtype, s, nullptr}};
}

void ref_onehot(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  std::vector<TypeShape> ts(in.size());
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i].defined()) ts[i] = TypeShape{in[i].dtype, in[i].shape, &in[i]};
  Shape os = infer_onehot(n, ts)[0].shape;
  int64_t axis = norm_axis(n, n.attr_i("axis", -1), in[0].rank() + 1);
  int64_t depth = os[size_t(axis)];
  if (in[2].numel() != 2) node_error(n, "values must have 2 elements");
  const Tensor& v = in[2];
  Tensor& o = ref_output(out, 0, v.dtype, os);
  size_t es = dtype_size(v.dtype);
  const uint8_t* off = static_cast<const uint8_t*>(v.raw());
  const uint8_t* on = off + es;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= os[size_t(d)];
  for (size_t d = size_t(axis) + 1; d < os.size(); ++d) inner *= os[d];
  uint8_t* dp = static_cast<uint8_t*>(o.raw());
  for (int64_t a = 0; a < outer; ++a)
    for (int64_t b = 0; b < inner; ++b) {
      int64_t id = int64_t(in[0].get_f64(a * inner + b));
      if (id < 0) id += depth;
      for (int64_t j = 0; j < depth; ++j)
        std::memcpy(dp + size_t((a * depth + j) * inner + b) * es, j == id ? on : off, es);
    }
}

// ---------------------------------------------------------------- Trilu
std::vector<TypeShape> infer_trilu(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  if (in[0].shape.size() < 2) node_error(n, "input must have rank >= 2");
  return {TypeShape{in[0].dtype, in[0].shape, nullptr}};
}

void ref_trilu(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor& x = in[0];
  if (x.rank() < 2) node_error(n, "input must have rank >= 2");
  int64_t k = in.size() > 1 && in[1].defined() ? in[1].get_i64(0) : 0;
  bool upper = n.attr_i("upper", 1) != 0;
  Tensor& o = ref_output(out, 0, x.dtype, x.shape);
  int64_t R = x.shape[x.shape.size() - 2], C = x.shape.back();
  int64_t batch = R * C != 0 ? x.numel() / (R * C) : 0;
  size_t es = dtype_size(x.dtype);
  const uint8_t* s = static_cast<const uint8_t*>(x.raw());
  uint8_t* d = static_cast<uint8_t*>(o.raw());
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < R; ++i)
      for (int64_t j = 0; j < C; ++j) {
        size_t off = size_t((b * R + i) * C + j) * es;
        bool keep = upper ? j - i >= k : j - i <= k;
        if (keep) std::memcpy(d + off, s + off, es);
        else std::memset(d + off, 0, es);
      }
}

}  // namespace

C8_REGISTER_OPS({
    {"Identity", "", 1, infer_identity, ref_identity},
    {"Dropout", "", 1, infer_dropout, ref_dropout},
    {"TopK", "", 1, infer_topk, ref_topk},
    {"NonZero", "", 9, infer_nonzero, ref_nonzero},
    {"OneHot", "", 9, infer_onehot, ref_onehot},
    {"Trilu", "", 14, infer_trilu, ref_trilu},
});

}  // namespace c8

// ---------------------------------------------------------------- CumSum, Compress, ReverseSequence
namespace c8 {
namespace {

std::vector<TypeShape> infer_same(const Node& n, const std::vector<TypeShape>& in) {
  if (in.size() < 2 || !in[0].present() || !in[1].present()) node_error(n, "two inputs are required");
  return {TypeShape{in[0].dtype, in[0].shape, nullptr}};
}

void ref_cumsum(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  Tensor x = in[0];
  DType dt = x.dtype;
  if (dt == DType::F16) x = x.cast(DType::F32);
  int64_t axis = norm_axis(n, in[1].get_i64(0), x.rank());
  bool excl = n.attr_i("exclusive", 0) != 0, rev = n.attr_i("reverse", 0) != 0;
  Tensor y(x.dtype, x.shape);
  int64_t outer = 1, inner = 1, dim = x.shape[size_t(axis)];
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape[size_t(d)];
  for (size_t d = size_t(axis) + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
  dispatch_numeric(n, x.dtype, [&](auto t) {
    using T = decltype(t);
    const T* xs = x.data<T>();
    T* ys = y.data<T>();
    for (int64_t a = 0; a < outer; ++a)
      for (int64_t b = 0; b < inner; ++b) {
        T acc = T(0);
        for (int64_t k0 = 0; k0 < dim; ++k0) {
          int64_t k = rev ? dim - 1 - k0 : k0;
          int64_t i = (a * dim + k) * inner + b;
          if (excl) { ys[i] = acc; acc = T(acc + xs[i]); }
          else { acc = T(acc + xs[i]); ys[i] = acc; }
        }
      }
  });
  if (dt == DType::F16) y = y.cast(DType::F16);
  copy_into(out, 0, y);
}

std::vector<TypeShape> infer_compress(const Node& n, const std::vector<TypeShape>& in) {
  if (in.size() < 2 || !in[0].present() || !in[1].present()) node_error(n, "two inputs are required");
  int64_t kept = -1;
  if (in[1].value) {
    kept = 0;
    for (int64_t i = 0; i < in[1].value->numel(); ++i) kept += in[1].value->get_f64(i) != 0;
  }
  TypeShape o{in[0].dtype, {kept}, nullptr};
  if (n.has("axis")) {
    int64_t a = norm_axis(n, n.attr_i("axis", 0), int64_t(in[0].shape.size()));
    o.shape = in[0].shape;
    o.shape[size_t(a)] = kept;
  }
  return {o};
}

void ref_compress(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  Tensor x = in[0];
  int64_t axis = 0;
  if (n.has("axis")) axis = norm_axis(n, n.attr_i("axis", 0), x.rank());
  else x = x.reshaped({x.numel()});
  int64_t outer = 1, inner = 1, dim = x.shape[size_t(axis)];
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape[size_t(d)];
  for (size_t d = size_t(axis) + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < in[1].numel() && i < dim; ++i)
    if (in[1].get_f64(i) != 0) keep.push_back(i);
  Shape os = x.shape;
  os[size_t(axis)] = int64_t(keep.size());
  Tensor& o = ref_output(out, 0, x.dtype, os);
  size_t row = size_t(inner) * dtype_size(x.dtype);
  const uint8_t* s = static_cast<const uint8_t*>(x.raw());
  uint8_t* d = static_cast<uint8_t*>(o.raw());
  size_t k = 0;
  if (row)
    for (int64_t a = 0; a < outer; ++a)
      for (int64_t j : keep) std::memcpy(d + (k++) * row, s + size_t(a * dim + j) * row, row);
}

void ref_revseq(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor& x = in[0];
  if (x.rank() < 2) node_error(n, "input must have rank >= 2");
  int64_t ba = norm_axis(n, n.attr_i("batch_axis", 1), x.rank());
  int64_t ta = norm_axis(n, n.attr_i("time_axis", 0), x.rank());
  auto lens = in[1].to_i64_vector();
  if (int64_t(lens.size()) != x.shape[size_t(ba)]) node_error(n, "sequence_lens must have batch_size entries");
  Tensor& o = ref_output(out, 0, x.dtype, x.shape);
  size_t es = dtype_size(x.dtype), r = x.shape.size();
  auto st = row_strides(x.shape);
  std::vector<int64_t> pos(r, 0);
  const uint8_t* s = static_cast<const uint8_t*>(x.raw());
  uint8_t* d = static_cast<uint8_t*>(o.raw());
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t t = pos[size_t(ta)], len = lens[size_t(pos[size_t(ba)])];
    int64_t src = i;
    if (t < len) src += (len - 1 - 2 * t) * st[size_t(ta)];
    std::memcpy(d + size_t(i) * es, s + size_t(src) * es, es);
    for (int k = int(r) - 1; k >= 0; --k) {
      if (++pos[size_t(k)] < x.shape[size_t(k)]) break;
      pos[size_t(k)] = 0;
    }
  }
}

}  // namespace

C8_REGISTER_OPS({
    {"CumSum", "", 11, infer_same, ref_cumsum},
    {"Compress", "", 9, infer_compress, ref_compress},
    {"ReverseSequence", "", 10, infer_same, ref_revseq},
});

}  // namespace c8
