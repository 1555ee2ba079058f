#include "ir/tensor.h"

#include "base/big_alloc.h"

#include "base/error.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace c8 {

int64_t shape_numel(const Shape& s) {
  // Shapes come from files: a product past int64 is an error, not a wrap.
  int64_t n = 1;
  for (int64_t d : s)
    if (__builtin_mul_overflow(n, d, &n)) throw Error("shape " + shape_str(s) + " has too many elements");
  return n;
}

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ",";
    r += s[i] < 0 ? std::string("?") : std::to_string(s[i]);
  }
  return r + "]";
}

Tensor::Tensor(DType dt, Shape s) : dtype(dt), shape(std::move(s)) {
  for (int64_t d : shape)
    if (d < 0) throw Error("tensor with unknown dimension " + shape_str(shape));
  storage = alloc_zeroed(nbytes());
}

Tensor Tensor::wrap(DType dt, Shape s, void* data) {
  Tensor t;
  t.dtype = dt;
  t.shape = std::move(s);
  t.storage = std::shared_ptr<uint8_t>(static_cast<uint8_t*>(data), [](uint8_t*) {});
  return t;
}

Tensor Tensor::scalar_f32(float v) {
  Tensor t(DType::F32, {});
  *t.data<float>() = v;
  return t;
}

Tensor Tensor::from_f32(Shape s, const std::vector<float>& v) {
  Tensor t(DType::F32, std::move(s));
  if (size_t(t.numel()) != v.size()) throw Error("from_f32: size mismatch");
  if (!v.empty()) std::memcpy(t.raw(), v.data(), v.size() * 4);
  return t;
}

Tensor Tensor::from_i64(Shape s, const std::vector<int64_t>& v) {
  Tensor t(DType::I64, std::move(s));
  if (size_t(t.numel()) != v.size()) throw Error("from_i64: size mismatch");
  if (!v.empty()) std::memcpy(t.raw(), v.data(), v.size() * 8);
  return t;
}

Tensor Tensor::reshaped(Shape s) const {
  if (shape_numel(s) != numel())
    throw Error("reshape " + shape_str(shape) + " -> " + shape_str(s));
  Tensor t = *this;
  t.shape = std::move(s);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t(dtype, shape);
  if (nbytes()) std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

double Tensor::get_f64(int64_t i) const {
  switch (dtype) {
    case DType::F32: return data<float>()[i];
    case DType::F64: return data<double>()[i];
    case DType::F16: return half_to_float(data<uint16_t>()[i]);
    case DType::U8: return data<uint8_t>()[i];
    case DType::I8: return data<int8_t>()[i];
    case DType::U16: return data<uint16_t>()[i];
    case DType::I16: return data<int16_t>()[i];
    case DType::I32: return data<int32_t>()[i];
    case DType::U32: return data<uint32_t>()[i];
    case DType::I64: return double(data<int64_t>()[i]);
    case DType::U64: return double(data<uint64_t>()[i]);
    case DType::Bool: return data<uint8_t>()[i] ? 1.0 : 0.0;
    default: throw Error(std::string("get_f64: unsupported dtype ") + dtype_name(dtype));
  }
}

int64_t Tensor::get_i64(int64_t i) const {
  switch (dtype) {
    case DType::I64: return data<int64_t>()[i];
    case DType::I32: return data<int32_t>()[i];
    case DType::U64: return int64_t(data<uint64_t>()[i]);
    default: return int64_t(get_f64(i));
  }
}

std::vector<int64_t> Tensor::to_i64_vector() const {
  std::vector<int64_t> v(static_cast<size_t>(numel()));
  for (int64_t i = 0; i < numel(); ++i) v[size_t(i)] = get_i64(i);
  return v;
}

std::vector<float> Tensor::to_f32_vector() const {
  std::vector<float> v(static_cast<size_t>(numel()));
  if (dtype == DType::F32) {
    if (!v.empty()) std::memcpy(v.data(), raw(), v.size() * 4);
    return v;
  }
  for (int64_t i = 0; i < numel(); ++i) v[size_t(i)] = float(get_f64(i));
  return v;
}

template <class T>
static void store_all(Tensor& out, const Tensor& in) {
  T* o = out.data<T>();
  int64_t n = in.numel();
  if (in.dtype == DType::I64 || in.dtype == DType::I32 || in.dtype == DType::U64) {
    for (int64_t i = 0; i < n; ++i) o[i] = T(in.get_i64(i));
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = T(in.get_f64(i));
  }
}

Tensor Tensor::cast(DType to) const {
  if (to == dtype) return *this;
  Tensor out(to, shape);
  switch (to) {
    case DType::F32: store_all<float>(out, *this); break;
    case DType::F64: store_all<double>(out, *this); break;
    case DType::I64: store_all<int64_t>(out, *this); break;
    case DType::I32: store_all<int32_t>(out, *this); break;
    case DType::I16: store_all<int16_t>(out, *this); break;
    case DType::U16: store_all<uint16_t>(out, *this); break;
    case DType::U32: store_all<uint32_t>(out, *this); break;
    case DType::U64: store_all<uint64_t>(out, *this); break;
    case DType::I8: store_all<int8_t>(out, *this); break;
    case DType::U8: store_all<uint8_t>(out, *this); break;
    case DType::Bool: {
      uint8_t* o = out.data<uint8_t>();
      for (int64_t i = 0; i < numel(); ++i) o[i] = get_f64(i) != 0.0;
      break;
    }
    case DType::F16: {
      uint16_t* o = out.data<uint16_t>();
      for (int64_t i = 0; i < numel(); ++i) o[i] = float_to_half(float(get_f64(i)));
      break;
    }
    default: throw Error(std::string("cast to ") + dtype_name(to) + " unsupported");
  }
  return out;
}

}  // namespace c8
