#pragma once
#include <cstdint>

namespace c8::x86 {

// oneDNN's INT8 epilogue as the integer Winograd kernel applies it, per
// output channel c: y = clamp(min(act_hi, max(act_lo, (float(acc) + bias[c])
// * scale[c])) + zy, lo, hi), rounded half to even. bias / scale hold the
// channel count rounded up to 16.
struct WinoEpilogue {
  const float* bias = nullptr;
  const float* scale = nullptr;
  float act_lo = -3.4028235e38f, act_hi = 3.4028235e38f, zy = 0, lo = 0, hi = 255;  // s8 output: lo -128, hi 127
  bool s8_out = false;
};

// The output transform of one F(4 x mx, 3x3) tile (mx = 2 or 3) of the
// integer Winograd kernel (x86/avx2/qconv_winograd.cc, output_transform4x),
// 16 channels a zmm: m holds the tile's (6 x (mx + 2)) positions, position p
// at m + p * xs, OC channels each (OC a multiple of 8, m padded to 16);
// writes rows x cols outputs (rows <= 4, cols <= mx) of an NHWC u8 / s8
// image at out, row_stride bytes between output rows. The same integer and
// float operations as the AVX2 code, so the same bytes. Needs AVX-512 F/BW.
void wino_output_tile4x_avx512(const int32_t* m, int64_t xs, int mx, int64_t OC, int rows, int cols, uint8_t* out,
                               int64_t row_stride, const WinoEpilogue& e);

}  // namespace c8::x86
