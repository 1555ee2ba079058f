#pragma once
#include <cstdint>

namespace c8::x86 {

// Dot products of x (Kp bytes, Kp % 64 == 0) with nb <= 4 int8 weight rows
// of Kp bytes each (row j at w + j * Kp), exact int32 sums (vpdpbusd on zmm:
// four u8*s8 products per lane summed in 32 bits, no int16 saturation).
// Needs AVX-512 VNNI; the caller checks cpu_has_avx512_vnni().
void qgemv_dot4_vnni(const uint8_t* x, const int8_t* w, int64_t Kp, int64_t nb, int32_t* sums);

}  // namespace c8::x86
