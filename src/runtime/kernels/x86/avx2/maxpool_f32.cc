#include "runtime/kernels/x86/avx2/maxpool_f32.h"

#include <immintrin.h>

#include <algorithm>
#include <limits>

namespace c8::x86 {

void MaxPoolF32Nchw8c::run(const float* x, float* y) const {
  const int64_t NC = N * CB;
#pragma omp parallel for collapse(2) schedule(static) if (NC * OH * OW > 4096)
  for (int64_t nc = 0; nc < NC; ++nc) {
    for (int64_t oh = 0; oh < OH; ++oh) {
      const float* xs = x + nc * IH * IW * 8;
      float* ys = y + (nc * OH + oh) * OW * 8;
      const int64_t h0 = oh * SH - PH;
      const int64_t hl = std::max<int64_t>(0, h0), hh = std::min<int64_t>(IH, h0 + KH);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = ow * SW - PW;
        const int64_t wl = std::max<int64_t>(0, w0), wh = std::min<int64_t>(IW, w0 + KW);
        __m256 m = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
        for (int64_t ih = hl; ih < hh; ++ih) {
          const float* row = xs + (ih * IW) * 8;
          for (int64_t iw = wl; iw < wh; ++iw) m = _mm256_max_ps(m, _mm256_loadu_ps(row + iw * 8));
        }
        _mm256_storeu_ps(ys + ow * 8, m);
      }
    }
  }
}

}  // namespace c8::x86
