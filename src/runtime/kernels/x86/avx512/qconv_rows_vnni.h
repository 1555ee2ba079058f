#pragma once
#include <cstdint>

namespace c8::x86 {

// oneDNN's INT8 convolution epilogue, per output channel c:
//   y = min(hi, clamp(float(acc - comp[c]) + bias[c]) * scale[c], act) + zy),
// rounded half to even and saturated to u8 (or s8). Arrays hold >= OC rounded
// up to 16 entries.
struct QRowsEpilogue {
  const int32_t* comp = nullptr;
  const float* bias = nullptr;
  const float* scale = nullptr;
  float act_lo = -3.4028235e38f, act_hi = 3.4028235e38f, zy = 0, hi = 255;
  bool s8_out = false;
};

// rows x OC block of a u8s8 GEMM plus the epilogue, on AVX-512 VNNI:
//   out[r * OC + c] = epilogue(sum_k A(r, k) * B[c, k]),
// where the 4 bytes A(r, 4g .. 4g + 3) are read at a + r * row_stride +
// koff[g] (g < Kp / 4): rows of an im2col buffer (koff[g] = 4g) or, with no
// copy, pixels of an NHWC image whose receptive field is a few contiguous
// runs (koff = the runs' offsets, row_stride = the horizontal stride).
// B packed [OCp/16][Kp/4][16][4] (one zmm per 4-deep slice of 16 channels).
// vpdpbusd sums u8*s8 products in 32 bits, so any int8 weights are exact.
// Needs AVX-512 VNNI (the caller checks cpu_has_avx512_vnni()).
void qconv_rows_vnni(const uint8_t* a, int64_t row_stride, int64_t rows, const int32_t* koff, const int8_t* B,
                     int64_t Kp, int64_t OC, const QRowsEpilogue& e, uint8_t* out);

}  // namespace c8::x86
