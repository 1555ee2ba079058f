#pragma once
#include <cstdint>

namespace c8::x86 {

// 2-D max pooling on 8-channel-blocked (nChw8c) tensors, one AVX2 vector
// per output pixel. oneDNN 2.6's jit:avx2 pooling runs at ~1/5 of this on
// this machine (googlenet: 13 MaxPools were 13 % of the model time).
struct MaxPoolF32Nchw8c {
  int64_t N = 0, CB = 0, IH = 0, IW = 0, OH = 0, OW = 0, KH = 0, KW = 0, SH = 1, SW = 1, PH = 0, PW = 0;
  // Needs pads smaller than the kernel (every window holds a pixel).
  void run(const float* x, float* y) const;
};

}  // namespace c8::x86
