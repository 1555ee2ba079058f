// Transpose (all dtypes; bytes are copied).
#include <cstring>

#include "ops/ref/broadcast.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

std::vector<int64_t> get_perm(const Node& n, size_t r) {
  std::vector<int64_t> p = n.attr_ints("perm");
  if (!n.has("perm")) {
    p.resize(r);
    for (size_t i = 0; i < r; ++i) p[i] = int64_t(r - 1 - i);
  }
  if (p.size() != r) node_error(n, "perm has " + std::to_string(p.size()) + " entries for rank " + std::to_string(r));
  std::vector<bool> seen(r, false);
  for (auto& a : p) {
    a = norm_axis(n, a, int64_t(r), "perm entry");
    if (seen[size_t(a)]) node_error(n, "perm is not a permutation");
    seen[size_t(a)] = true;
  }
  return p;
}

std::vector<TypeShape> infer_transpose(const Node& n, const std::vector<TypeShape>& in) {
  if (in.empty() || !in[0].present()) node_error(n, "required input 0 is missing");
  auto p = get_perm(n, in[0].shape.size());
  TypeShape o;
  o.dtype = in[0].dtype;
  for (int64_t a : p) o.shape.push_back(in[0].shape[size_t(a)]);
  return {o};
}

void ref_transpose(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor& x = in[0];
  size_t r = x.shape.size();
  auto p = get_perm(n, r);
  Shape os(r);
  for (size_t i = 0; i < r; ++i) os[i] = x.shape[size_t(p[i])];
  Tensor& o = ref_output(out, 0, x.dtype, os);
  int64_t total = o.numel();
  if (total == 0) return;
  auto ist = row_strides(x.shape);
  std::vector<int64_t> st(r);  // input stride for each output dim
  for (size_t i = 0; i < r; ++i) st[i] = ist[size_t(p[i])];
  size_t es = dtype_size(x.dtype);
  const uint8_t* s = static_cast<const uint8_t*>(x.raw());
  uint8_t* d = static_cast<uint8_t*>(o.raw());
  std::vector<int64_t> pos(r, 0);
  int64_t src = 0;
  for (int64_t i = 0; i < total; ++i) {
    std::memcpy(d + size_t(i) * es, s + size_t(src) * es, es);
    for (int k = int(r) - 1; k >= 0; --k) {
      size_t ku = size_t(k);
      if (++pos[ku] < os[ku]) { src += st[ku]; break; }
      src -= st[ku] * (pos[ku] - 1);
      pos[ku] = 0;
    }
  }
}

}  // namespace

C8_REGISTER_OPS({{"Transpose", "", 1, infer_transpose, ref_transpose}});

}  // namespace c8
