#pragma once
// A dense, row-major (plain) host tensor. Storage is shared between views
// (reshape is free) and 64-byte aligned so oneDNN can use it directly.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ir/dtype.h"

namespace c8 {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);  // "[1,3,224,224]", -1 printed as "?"

struct Tensor {
  DType dtype = DType::Undefined;
  Shape shape;
  std::shared_ptr<uint8_t> storage;  // null for an empty/undefined tensor
  size_t offset = 0;                 // bytes into storage (views)

  Tensor() = default;
  Tensor(DType dt, Shape s);  // allocates, zero-filled

  // Non-owning view of caller memory (the caller keeps it alive).
  static Tensor wrap(DType dt, Shape s, void* data);
  static Tensor scalar_f32(float v);
  static Tensor from_f32(Shape s, const std::vector<float>& v);
  static Tensor from_i64(Shape s, const std::vector<int64_t>& v);

  bool defined() const { return dtype != DType::Undefined; }
  int64_t numel() const { return shape_numel(shape); }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype); }
  int rank() const { return int(shape.size()); }

  void* raw() { return storage ? storage.get() + offset : nullptr; }
  const void* raw() const { return storage ? storage.get() + offset : nullptr; }
  template <class T> T* data() { return static_cast<T*>(raw()); }
  template <class T> const T* data() const { return static_cast<const T*>(raw()); }

  Tensor reshaped(Shape s) const;  // same storage, new shape (numel must match)
  Tensor clone() const;            // deep copy

  // Element access converting to double / int64 regardless of dtype (slow; for
  // shape arithmetic, tests and reports, never for hot loops).
  double get_f64(int64_t i) const;
  int64_t get_i64(int64_t i) const;
  std::vector<int64_t> to_i64_vector() const;
  std::vector<float> to_f32_vector() const;
  // Returns this tensor converted to dtype (copy; same tensor if already).
  Tensor cast(DType to) const;
};

}  // namespace c8
