// Concat along any axis on dnnl::concat. Inputs already in input 0's layout
// (same stride order / blocking) are passed as they are; the others are
// reordered into that layout. The output is the layout oneDNN derives (for
// NHWC inputs concatenated along C: NHWC).
#include <omp.h>

#include <cstring>
#include <unordered_map>

#include "runtime/kernels/onednn/common.h"

namespace c8::dnnlk {
namespace {

struct ConcatKernel : Kernel {
  dnnl::concat::primitive_desc pd;
  dnnl::concat prim;
  std::vector<LayoutAdapter> ads;
  PostChain chain;
  // Channel concat of images that are each one contiguous run (NCHW, or
  // nChw8c/16c with channel counts divisible by the block): a few memcpys.
  // oneDNN 2.6's simple_concat is ~8x slower than memcpy on blocked layouts.
  bool copy = false;
  int64_t images = 0, dst_image_bytes = 0;
  std::vector<int64_t> src_image_bytes, dst_offset;
  // Channel concat of channels-last images (NHWC: what INT8 layers hand
  // over): each pixel's output is its inputs' channel runs side by side.
  // oneDNN 2.6 runs these on simple_concat: googlenet INT8's nine concats
  // took 0.12 ms of 4.8 (Zen 5, 1 thread), ~4x the memcpy time.
  bool pixel_copy = false;
  int64_t pixels = 0, dst_pixel_bytes = 0;
  std::vector<int64_t> src_pixel_bytes;
  void execute(KernelIO& io) override {
    dnnl::stream& s = *io.stream;
    if (pixel_copy) {
      uint8_t* d = static_cast<uint8_t*>(io.out[0].get_data_handle());
      std::vector<const uint8_t*> src(ads.size());
      for (size_t i = 0; i < ads.size(); ++i)
        src[i] = static_cast<const uint8_t*>(ads[i].convert(s, io.in[i]).get_data_handle());
      const int64_t P = pixels;
      const bool par = P * dst_pixel_bytes >= (int64_t(1) << 16) && omp_get_max_threads() > 1;
#pragma omp parallel for schedule(static) if (par)
      for (int64_t p = 0; p < P; ++p) {
        uint8_t* o = d + p * dst_pixel_bytes;
        for (size_t i = 0; i < src.size(); ++i)
          std::memcpy(o + dst_offset[i], src[i] + p * src_pixel_bytes[i], size_t(src_pixel_bytes[i]));
      }
    } else if (copy) {
      uint8_t* d = static_cast<uint8_t*>(io.out[0].get_data_handle());
      for (size_t i = 0; i < ads.size(); ++i) {
        const uint8_t* src = static_cast<const uint8_t*>(ads[i].convert(s, io.in[i]).get_data_handle());
        for (int64_t n = 0; n < images; ++n)
          std::memcpy(d + n * dst_image_bytes + dst_offset[i], src + n * src_image_bytes[i], size_t(src_image_bytes[i]));
      }
    } else {
      std::unordered_map<int, dnnl::memory> args;
      for (size_t i = 0; i < ads.size(); ++i) args[DNNL_ARG_MULTIPLE_SRC + int(i)] = ads[i].convert(s, io.in[i]);
      args[DNNL_ARG_DST] = io.out[0];
      prim.execute(s, args);
    }
    if (!chain.empty()) chain.run(s, io, io.out[0]);
  }
  std::string impl() const override {
    bool re = false;
    for (auto& a : ads) re |= a.needed();
    dt d = pd.dst_desc().data_type();
    std::string type = d == dt::u8 ? " u8" : d == dt::s8 ? " s8" : "";
    const std::string name = pixel_copy ? "c8:pixel_concat" : copy ? "dnnl:c8_memcpy_concat" : impl_of(pd);
    return name + type + (re ? " +reorder" : "");
  }
};

std::unique_ptr<Kernel> make_concat(BuildCtx& ctx) {
  const Node& n = *ctx.node;
  const dnnl::engine& eng = *ctx.engine;
  // FP32, or u8/s8 between INT8 layers (the same-scale Concat fuse_qdq leaves).
  if (ctx.in.empty() || ctx.out.empty()) return nullptr;
  const DType t = ctx.out[0].dtype;
  if (t != DType::F32 && t != DType::U8 && t != DType::I8) return nullptr;
  if (t != DType::F32 && !n.post_ops.empty()) return nullptr;
  int r = int(ctx.out[0].shape.size());
  if (r < 1 || r > 6) return nullptr;
  int axis = norm_axis(n.attr_i("axis", 1), r);
  if (axis < 0 || axis >= r) return nullptr;
  for (auto& v : ctx.in) {
    if (v.dtype != t || int(v.shape.size()) != r) return nullptr;
    for (auto d : v.shape) if (d <= 0) return nullptr;  // oneDNN rejects empty inputs
  }
  auto k = std::make_unique<ConcatKernel>();
  try {
    const md_t& first = ctx.in[0].md;
    std::vector<md_t> srcs;
    for (auto& v : ctx.in) {
      md_t want = md_like(first, v.md.dims());
      if (want.data.ndims == 0) want = plain_md(v.dtype, v.shape);
      k->ads.emplace_back(eng, v.md, want);
      srcs.push_back(want);
    }
    // Destination in the first input's layout (oneDNN would otherwise pick
    // one from all inputs); fall back to its own choice.
    md_t dst = md_like(first, to_dims(ctx.out[0].shape));
    try {
      if (dst.data.ndims == 0) throw dnnl::error(dnnl_invalid_arguments, "no like md");
      k->pd = dnnl::concat::primitive_desc(dst, axis, srcs, eng);
    } catch (const dnnl::error&) {
      k->pd = dnnl::concat::primitive_desc(axis, srcs, eng);
    }
    k->prim = dnnl::concat(k->pd);
    int64_t blk = 0, b2 = 0;
    if (axis == 1 && is_nc_dense(k->pd.dst_desc(), &blk)) {
      bool ok = true;
      int64_t off = 0;
      for (const md_t& m : srcs) {
        ok = ok && is_nc_dense(m, &b2) && b2 == blk && m.data.ndims == k->pd.dst_desc().data.ndims;
        if (!ok) break;
        int64_t per = int64_t(m.get_size()) / m.data.dims[0];
        k->src_image_bytes.push_back(per);
        k->dst_offset.push_back(off);
        off += per;
      }
      if (ok) {
        k->copy = true;
        k->images = k->pd.dst_desc().data.dims[0];
        k->dst_image_bytes = off;
        if (int64_t(k->pd.dst_desc().get_size()) != off * k->images) k->copy = false;
      }
      if (!k->copy) {  // the pixel copy below fills dst_offset afresh
        k->src_image_bytes.clear();
        k->dst_offset.clear();
      }
    }
    int64_t c_dst = 0;
    if (!k->copy && axis == 1 && is_channels_last_dense(k->pd.dst_desc(), &c_dst)) {
      const int64_t es = int64_t(dnnl::memory::data_type_size(k->pd.dst_desc().data_type()));
      bool ok = true;
      int64_t off = 0, c_src = 0;
      for (const md_t& m : srcs) {
        ok = ok && m.data.ndims == k->pd.dst_desc().data.ndims && is_channels_last_dense(m, &c_src);
        if (!ok) break;
        k->src_pixel_bytes.push_back(c_src * es);
        k->dst_offset.push_back(off);
        off += c_src * es;
      }
      if (ok && off > 0 && off == c_dst * es) {
        k->pixel_copy = true;
        k->dst_pixel_bytes = off;
        k->pixels = int64_t(k->pd.dst_desc().get_size()) / off;
      } else {
        k->dst_offset.clear();
        k->src_pixel_bytes.clear();
      }
    }
    if (!k->chain.init(ctx, k->pd.dst_desc())) return nullptr;
    ctx.out[0].md = k->pd.dst_desc();
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return k;
}

C8_REGISTER_FAST_KERNEL("Concat", 100, make_concat);

}  // namespace
}  // namespace c8::dnnlk
