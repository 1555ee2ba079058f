// Binary / variadic element-wise ops with numpy multidirectional broadcasting:
// arithmetic, Max/Min/Sum/Mean, Mod, Pow, comparisons, logical ops, BitShift,
// Where. float16 inputs are computed in float32 and rounded back.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "ops/ref/broadcast.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

enum class Bin { Add, Sub, Mul, Div, Max, Min, Mod, Eq, Lt, Le, Gt, Ge, And, Or, Xor, BitShift };

Bin bin_kind(const std::string& op) {
  if (op == "Add" || op == "Sum" || op == "Mean") return Bin::Add;
  if (op == "Sub") return Bin::Sub;
  if (op == "Mul") return Bin::Mul;
  if (op == "Div") return Bin::Div;
  if (op == "Max") return Bin::Max;
  if (op == "Min") return Bin::Min;
  if (op == "Mod") return Bin::Mod;
  if (op == "Equal") return Bin::Eq;
  if (op == "Less") return Bin::Lt;
  if (op == "LessOrEqual") return Bin::Le;
  if (op == "Greater") return Bin::Gt;
  if (op == "GreaterOrEqual") return Bin::Ge;
  if (op == "And") return Bin::And;
  if (op == "Or") return Bin::Or;
  if (op == "Xor") return Bin::Xor;
  return Bin::BitShift;
}

bool is_compare(Bin k) { return k == Bin::Eq || k == Bin::Lt || k == Bin::Le || k == Bin::Gt || k == Bin::Ge; }
bool is_logical(Bin k) { return k == Bin::And || k == Bin::Or || k == Bin::Xor; }

template <class TA, class TB, class R, class F>
void bin_loop(const Tensor& a, const Tensor& b, Tensor& y, F f) {
  const TA* ap = a.data<TA>();
  const TB* bp = b.data<TB>();
  R* yp = y.data<R>();
  int64_t n = y.numel();
  if (a.shape == y.shape && b.shape == y.shape) {
    for (int64_t i = 0; i < n; ++i) yp[i] = f(ap[i], bp[i]);
    return;
  }
  auto ia = broadcast_index(a.shape, y.shape);
  auto ib = broadcast_index(b.shape, y.shape);
  for (int64_t i = 0; i < n; ++i) yp[i] = f(ap[ia[size_t(i)]], bp[ib[size_t(i)]]);
}

// Integer arithmetic that wraps instead of overflowing (ONNX/numpy behaviour).
template <class T> T wrap_add(T a, T b) {
  using U = std::make_unsigned_t<T>;
  return T(U(a) + U(b));
}
template <class T> T wrap_sub(T a, T b) {
  using U = std::make_unsigned_t<T>;
  return T(U(a) - U(b));
}
template <class T> T wrap_mul(T a, T b) {
  using U = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;
  return T(U(a) * U(b));
}

// y = a (op) b for same-dtype a, b (non-F16). y must be allocated with the
// broadcast shape and the right dtype (bool for comparisons/logical).
void binary(const Node& n, Bin k, const Tensor& a, const Tensor& b, Tensor& y) {
  if (is_logical(k)) {
    if (a.dtype != DType::Bool || b.dtype != DType::Bool) node_error(n, "inputs must be bool");
    bin_loop<uint8_t, uint8_t, uint8_t>(a, b, y, [&](uint8_t p, uint8_t q) -> uint8_t {
      bool x = p != 0, z = q != 0;
      return k == Bin::And ? (x && z) : k == Bin::Or ? (x || z) : (x != z);
    });
    return;
  }
  bool fmod_attr = n.attr_i("fmod", 0) != 0;
  bool left = n.attr_s("direction", "") == "LEFT";
  dispatch_numeric(n, a.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (is_compare(k)) {
      bin_loop<T, T, uint8_t>(a, b, y, [&](T p, T q) -> uint8_t {
        switch (k) {
          case Bin::Eq: return p == q;
          case Bin::Lt: return p < q;
          case Bin::Le: return p <= q;
          case Bin::Gt: return p > q;
          default: return p >= q;
        }
      });
      return;
    }
    if constexpr (std::is_floating_point_v<T>) {
      bin_loop<T, T, T>(a, b, y, [&](T p, T q) -> T {
        switch (k) {
          case Bin::Add: return p + q;
          case Bin::Sub: return p - q;
          case Bin::Mul: return p * q;
          case Bin::Div: return p / q;
          case Bin::Max: return (std::isnan(p) || p > q) ? p : q;
          case Bin::Min: return (std::isnan(p) || p < q) ? p : q;
          case Bin::Mod: {
            T r = std::fmod(p, q);
            if (!fmod_attr && r != 0 && ((r < 0) != (q < 0))) r += q;
            return r;
          }
          default: node_error(n, "op not supported for floating-point inputs");
        }
      });
    } else {
      if (a.dtype == DType::Bool) node_error(n, "op not supported for bool inputs");
      bin_loop<T, T, T>(a, b, y, [&](T p, T q) -> T {
        switch (k) {
          case Bin::Add: return wrap_add(p, q);
          case Bin::Sub: return wrap_sub(p, q);
          case Bin::Mul: return wrap_mul(p, q);
          case Bin::Div:
            if (q == 0) node_error(n, "integer division by zero");
            if constexpr (std::is_signed_v<T>)
              if (q == T(-1)) return wrap_sub(T(0), p);
            return T(p / q);  // truncates toward zero
          case Bin::Max: return p > q ? p : q;
          case Bin::Min: return p < q ? p : q;
          case Bin::Mod: {
            if (q == 0) node_error(n, "integer modulo by zero");
            if constexpr (std::is_signed_v<T>) {
              if (q == T(-1)) return T(0);
              T r = T(p % q);  // C: sign of dividend (fmod=1)
              if (!fmod_attr && r != 0 && ((r < 0) != (q < 0))) r = T(r + q);  // Python: sign of divisor
              return r;
            } else {
              return T(p % q);
            }
          }
          case Bin::BitShift: {
            if constexpr (std::is_unsigned_v<T>) {
              if (q >= T(sizeof(T) * 8)) return T(0);
              return left ? T(p << q) : T(p >> q);
            } else {
              node_error(n, "BitShift needs unsigned integer inputs");
            }
          }
          default: node_error(n, "op not supported for integer inputs");
        }
      });
    }
  }, /*allow_bool=*/is_compare(k) && k == Bin::Eq);
}

DType out_dtype(Bin k, DType in) { return (is_compare(k) || is_logical(k)) ? DType::Bool : in; }

std::vector<TypeShape> variadic_infer(const Node& n, const std::vector<TypeShape>& in) {
  Bin k = bin_kind(n.op);
  bool binary_op = !(n.op == "Sum" || n.op == "Mean" || n.op == "Max" || n.op == "Min");
  if (binary_op) require_inputs(n, in, 2, 2);
  else if (in.empty()) node_error(n, "needs at least one input");
  std::vector<Shape> shapes;
  DType t = in[0].dtype;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!in[i].present()) node_error(n, "input " + std::to_string(i) + " is missing");
    if (in[i].dtype != t)
      node_error(n, std::string("input dtypes differ: ") + dtype_name(t) + " vs " + dtype_name(in[i].dtype));
    shapes.push_back(in[i].shape);
  }
  if (is_logical(k)) {
    if (t != DType::Bool) node_error(n, std::string("inputs must be bool, got ") + dtype_name(t));
  } else if (t == DType::Bool) {
    if (k != Bin::Eq) node_error(n, "bool inputs are not supported");
  } else if (!is_float_dtype(t) && !is_int_dtype(t)) {
    node_error(n, std::string("unsupported dtype ") + dtype_name(t));
  }
  if (n.op == "Mean" && !is_float_dtype(t)) node_error(n, "Mean needs floating-point inputs");
  if (k == Bin::BitShift) {
    if (!(t == DType::U8 || t == DType::U16 || t == DType::U32 || t == DType::U64))
      node_error(n, "BitShift needs unsigned integer inputs");
    std::string dir = n.attr_s("direction", "");
    if (dir != "LEFT" && dir != "RIGHT") node_error(n, "direction must be LEFT or RIGHT, got '" + dir + "'");
  }
  if (k == Bin::Mod && is_float_dtype(t) && n.attr_i("fmod", 0) == 0)
    node_error(n, "fmod must be 1 for floating-point inputs");
  return {TypeShape{out_dtype(k, t), broadcast_all(n, shapes)}};
}

void variadic_ref(const Node& n, const std::vector<Tensor>& in_raw, std::vector<Tensor>& out) {
  Bin k = bin_kind(n.op);
  if (in_raw.empty()) node_error(n, "needs at least one input");
  DType t = in_raw[0].dtype;
  for (const Tensor& x : in_raw)
    if (!x.defined()) node_error(n, "missing input");
    else if (x.dtype != t) node_error(n, "input dtypes differ");
  bool half = t == DType::F16;
  std::vector<Tensor> in;
  for (const Tensor& x : in_raw) in.push_back(half ? x.cast(DType::F32) : x);
  DType ct = half ? DType::F32 : t;
  std::vector<Shape> shapes;
  for (const Tensor& x : in) shapes.push_back(x.shape);
  Shape os = broadcast_all(n, shapes);
  DType odt = out_dtype(k, t);
  Tensor acc;
  if (in.size() == 1) {
    acc = in[0];
  } else {
    for (size_t i = 1; i < in.size(); ++i) {
      const Tensor& lhs = i == 1 ? in[0] : acc;
      Shape s;
      broadcast_shapes(lhs.shape, in[i].shape, s);
      Tensor r(out_dtype(k, ct), s);
      binary(n, k, lhs, in[i], r);
      acc = r;
    }
  }
  if (n.op == "Mean") {
    Tensor r = acc.cast(DType::F64);
    double* p = r.data<double>();
    for (int64_t i = 0; i < r.numel(); ++i) p[i] /= double(in.size());
    acc = r;
  }
  if (acc.shape != os) node_error(n, "internal: broadcast shape mismatch");
  Tensor res = acc.cast(odt);
  Tensor& y = ref_output(out, 0, odt, os);
  if (y.raw() != res.raw() && res.nbytes()) std::memcpy(y.raw(), res.raw(), res.nbytes());
}

// ---- Pow: base T, exponent any numeric type; output T.
std::vector<TypeShape> pow_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 2, 2);
  for (int i = 0; i < 2; ++i)
    if (!is_float_dtype(in[i].dtype) && !is_int_dtype(in[i].dtype))
      node_error(n, std::string("unsupported dtype ") + dtype_name(in[i].dtype));
  return {TypeShape{in[0].dtype, broadcast_all(n, {in[0].shape, in[1].shape})}};
}

void pow_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor& a = in.at(0);
  Tensor e = in.at(1).cast(DType::F64);
  Shape os = broadcast_all(n, {a.shape, e.shape});
  Tensor& y = ref_output(out, 0, a.dtype, os);
  if (a.dtype == DType::F16) {
    Tensor af = a.cast(DType::F32), yf(DType::F32, os);
    bin_loop<float, double, float>(af, e, yf, [](float p, double q) { return float(std::pow(double(p), q)); });
    Tensor yh = yf.cast(DType::F16);
    std::memcpy(y.raw(), yh.raw(), yh.nbytes());
    return;
  }
  dispatch_numeric(n, a.dtype, [&](auto tag) {
    using T = decltype(tag);
    bin_loop<T, double, T>(a, e, y, [&](T p, double q) -> T {
      if constexpr (std::is_floating_point_v<T>) {
        return T(std::pow(double(p), q));
      } else {
        if (q == std::floor(q) && q >= 0) {  // exact integer power
          using U = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
          U r = 1, b = U(p);
          for (int64_t j = 0; j < int64_t(q); ++j) r = U(uint64_t(r) * uint64_t(b));
          return T(r);
        }
        return T(std::pow(double(p), q));
      }
    });
  });
}

// ---- Where(cond, X, Y): selection by element size.
std::vector<TypeShape> where_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 3, 3);
  if (in[0].dtype != DType::Bool) node_error(n, std::string("condition must be bool, got ") + dtype_name(in[0].dtype));
  if (in[1].dtype != in[2].dtype)
    node_error(n, std::string("X and Y dtypes differ: ") + dtype_name(in[1].dtype) + " vs " + dtype_name(in[2].dtype));
  if (dtype_size(in[1].dtype) == 0) node_error(n, std::string("unsupported dtype ") + dtype_name(in[1].dtype));
  return {TypeShape{in[1].dtype, broadcast_all(n, {in[0].shape, in[1].shape, in[2].shape})}};
}

void where_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor &c = in.at(0), &x = in.at(1), &z = in.at(2);
  if (c.dtype != DType::Bool) node_error(n, "condition must be bool");
  if (x.dtype != z.dtype) node_error(n, "X and Y dtypes differ");
  Shape os = broadcast_all(n, {c.shape, x.shape, z.shape});
  auto ic = broadcast_index(c.shape, os), ix = broadcast_index(x.shape, os), iz = broadcast_index(z.shape, os);
  Tensor& y = ref_output(out, 0, x.dtype, os);
  size_t es = dtype_size(x.dtype);
  const uint8_t* cp = c.data<uint8_t>();
  const uint8_t* xp = static_cast<const uint8_t*>(x.raw());
  const uint8_t* zp = static_cast<const uint8_t*>(z.raw());
  uint8_t* yp = static_cast<uint8_t*>(y.raw());
  for (int64_t i = 0; i < y.numel(); ++i) {
    size_t u = size_t(i);
    const uint8_t* src = cp[ic[u]] ? xp + size_t(ix[u]) * es : zp + size_t(iz[u]) * es;
    std::memcpy(yp + u * es, src, es);
  }
}

std::vector<OpDef> defs() {
  std::vector<OpDef> d;
  struct E { const char* op; int since; };
  const E ops[] = {{"Add", 7}, {"Sub", 7}, {"Mul", 7}, {"Div", 7}, {"Max", 8}, {"Min", 8},
                   {"Sum", 8}, {"Mean", 8}, {"Mod", 10}, {"Equal", 7}, {"Less", 7},
                   {"LessOrEqual", 12}, {"Greater", 7}, {"GreaterOrEqual", 12}, {"And", 7},
                   {"Or", 7}, {"Xor", 7}, {"BitShift", 11}};
  for (const E& e : ops) d.push_back(OpDef{e.op, "", e.since, variadic_infer, variadic_ref});
  d.push_back(OpDef{"Pow", "", 7, pow_infer, pow_ref});
  d.push_back(OpDef{"Where", "", 9, where_infer, where_ref});
  return d;
}

C8_REGISTER_OPS(defs());

}  // namespace
}  // namespace c8
