#pragma once
#include <cstdint>

namespace c8::x86 {

// Per-tensor ONNX QuantizeLinear of a dense f32 buffer, bit-exact with the
// reference kernel: y = saturate(round_half_even(x / s) + zp), NaN -> 0.
// T = uint8_t or int8_t. Parallel over 4096-element chunks.
template <typename T>
void quantize_f32_avx2(const float* x, T* y, int64_t n, float s, int32_t zp);

}  // namespace c8::x86
