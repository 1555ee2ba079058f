#pragma once
// What the FP32 (conv_winograd.cc) and INT8 (qconv_winograd.cc) Winograd
// kernels share: the tile geometry (F(2x2, 3x3): 4x4 input tiles, 16
// positions; the INT8 kernel's F(4x2, 3x3): 6x4 tiles, 24 positions),
// chunks of tiles sized to stay in cache, the per-position GEMMs driven over
// micro-kernel row blocks, and the OpenMP loop over chunks. The element types, transforms and
// micro-kernels are each kernel's own.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/kernels/onednn/common.h"

namespace c8::dnnlk {

constexpr int kWinoOcb = 16;  // output channels per GEMM block (two ymm)
constexpr int kWinoRows = 6;  // tiles per micro-kernel call (12 accumulators)

// C8_WINOGRAD: "0" never, "all" wherever a kernel applies (tests), else the
// kernels' own profitability rules.
inline std::string winograd_mode() {
  const char* e = std::getenv("C8_WINOGRAD");
  return e ? e : "";
}

struct WinoTiles {
  int64_t N = 0, IC = 0, OC = 0, OCp = 0, IH = 0, IW = 0, OH = 0, OW = 0, pt = 0, pl = 0;
  int64_t TH = 0, TW = 0, tiles = 0, chunk = 0;
  int64_t MY = 2, MX = 2, P = 16;  // outputs per tile (rows, cols), transform positions

  // From a 3x3 stride-1 conv with my x mx outputs per tile; a chunk's V and
  // M buffers (P positions x chunk tiles x (IC x v_bytes + OCp x m_bytes))
  // fit in about 192 KB, half of this core's L2 (96-1536 KB measured within
  // noise on googlenet).
  void init(const ConvGeom& g, int64_t v_bytes, int64_t m_bytes, int64_t my = 2, int64_t mx = 2) {
    MY = my;
    MX = mx;
    P = (my + 2) * (mx + 2);
    N = g.src[0];
    IC = g.C;
    OC = g.M;
    OCp = (g.M + kWinoOcb - 1) / kWinoOcb * kWinoOcb;
    IH = g.src[2];
    IW = g.src[3];
    OH = g.dst[2];
    OW = g.dst[3];
    pt = g.pl[0];
    pl = g.pl[1];
    TH = (OH + my - 1) / my;
    TW = (OW + mx - 1) / mx;
    tiles = N * TH * TW;
    int64_t c = (192 * 1024) / (P * (IC * v_bytes + OCp * m_bytes));
    chunk = std::max<int64_t>(kWinoRows, std::min<int64_t>(120, c / kWinoRows * kWinoRows));
    balance(omp_get_max_threads());
  }
  // Few chunks split unevenly over the threads (resnet50's 14x14 layers: 28
  // tiles in 5 chunks of 6, 3 for one thread and 2 for the other): take the
  // chunk count, a multiple of the thread count near the cache-sized one,
  // whose busiest thread has the fewest tiles. The chunking does not change
  // any result, only who computes which tile.
  void balance(int threads) {
    const int64_t nt = std::max(1, threads), nchunks = (tiles + chunk - 1) / chunk;
    if (nt == 1 || nchunks % nt == 0 || nchunks >= 8 * nt) return;
    auto busiest = [&](int64_t ch) { return (((tiles + ch - 1) / ch + nt - 1) / nt) * ch; };
    int64_t best = chunk;
    for (int64_t k = std::max<int64_t>(1, nchunks / nt); k <= nchunks / nt + 1; ++k) {
      const int64_t ch = (tiles + k * nt - 1) / (k * nt);
      if (busiest(ch) < busiest(best)) best = ch;
    }
    chunk = best;
  }
  // Tile t -> (image, tile row, tile col).
  void tile_pos(int64_t t, int64_t& n, int64_t& ty, int64_t& tx) const {
    n = t / (TH * TW);
    int64_t r = t % (TH * TW);
    ty = r / TW;
    tx = r % TW;
  }
  // Runs body(thread, first tile, tile count) for every chunk, chunks split
  // statically over the threads (each tile is computed by one thread only, so
  // results do not depend on the thread count).
  template <class Body>
  void for_chunks(Body&& body) const {
    const int64_t nchunks = (tiles + chunk - 1) / chunk;
    int nt = std::max(1, std::min<int>(omp_get_max_threads(), int(nchunks)));
#pragma omp parallel num_threads(nt)
    {
      int th = omp_get_thread_num();
#pragma omp for schedule(static)
      for (int64_t c = 0; c < nchunks; ++c) body(th, c * chunk, std::min(chunk, tiles - c * chunk));
    }
  }
};

// M[xi] (nt x OCp) = V[xi] (nt x IC) x U[xi] for the P positions xi, with
// k.micro<R>(a, b, c) computing R rows x kWinoOcb columns. U holds IC x
// kWinoOcb elements per (xi, output-channel block).
template <class K, class A, class B, class C>
void wino_gemms(const K& k, const WinoTiles& w, const A* V, const B* U, C* M, int64_t nt) {
  const int64_t OB = w.OCp / kWinoOcb;
  for (int xi = 0; xi < int(w.P); ++xi) {
    const A* a = V + xi * w.chunk * w.IC;
    C* m = M + xi * w.chunk * w.OCp;
    for (int64_t ob = 0; ob < OB; ++ob) {
      const B* b = U + (size_t(xi) * size_t(OB) + size_t(ob)) * size_t(w.IC * kWinoOcb);
      C* mc = m + ob * kWinoOcb;
      int64_t t = 0;
      for (; t + kWinoRows <= nt; t += kWinoRows) k.template micro<kWinoRows>(a + t * w.IC, b, mc + t * w.OCp);
      switch (nt - t) {
        case 5: k.template micro<5>(a + t * w.IC, b, mc + t * w.OCp); break;
        case 4: k.template micro<4>(a + t * w.IC, b, mc + t * w.OCp); break;
        case 3: k.template micro<3>(a + t * w.IC, b, mc + t * w.OCp); break;
        case 2: k.template micro<2>(a + t * w.IC, b, mc + t * w.OCp); break;
        case 1: k.template micro<1>(a + t * w.IC, b, mc + t * w.OCp); break;
        default: break;
      }
    }
  }
}

}  // namespace c8::dnnlk
