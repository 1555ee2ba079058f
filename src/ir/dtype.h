#pragma once
// Element types the IR and runtime know. Values follow ONNX TensorProto.DataType
// so conversion at the import/export boundary is a cast.
#include <cstddef>
#include <cstdint>
#include <string>

namespace c8 {

enum class DType : int32_t {
  Undefined = 0,
  F32 = 1,
  U8 = 2,
  I8 = 3,
  U16 = 4,
  I16 = 5,
  I32 = 6,
  I64 = 7,
  String = 8,
  Bool = 9,
  F16 = 10,
  F64 = 11,
  U32 = 12,
  U64 = 13,
  BF16 = 16,
};

size_t dtype_size(DType t);        // bytes per element, 0 for String/Undefined
const char* dtype_name(DType t);   // "float32", "int8", ...
bool dtype_valid(int32_t onnx_type);

// IEEE half <-> float, used for FP16 initializers (run as FP32).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);

}  // namespace c8
