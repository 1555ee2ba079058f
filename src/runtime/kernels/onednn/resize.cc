// Resize (opset >= 11) nearest / linear over the spatial dims of a 3-D..5-D
// tensor (N and C unchanged) on dnnl::resampling_forward, in the arriving
// layout.
//
// oneDNN maps output index o to input coordinate (o + 0.5) * in/out - 0.5
// (rounding half away from zero for nearest). Rather than enumerating which
// ONNX coordinate_transformation_mode / nearest_mode / scale combinations
// agree with that, the factory computes the ONNX index mapping per spatial
// axis and checks it against the primitive itself at build time (a ramp along
// each axis is resampled by the very primitive that will run). Mismatch ->
// nullptr, and the reference kernel runs. Typical agreements: linear +
// half_pixel/pytorch_half_pixel with scale == out/in; nearest with integer
// up-scaling for asymmetric+floor and half_pixel (any nearest_mode).
#include <cmath>

#include "runtime/kernels/onednn/common.h"

namespace c8::dnnlk {
namespace {

struct ResizeKernel : Kernel {
  dnnl::resampling_forward::primitive_desc pd;
  dnnl::resampling_forward prim;
  PostChain chain;
  void execute(KernelIO& io) override {
    dnnl::stream& s = *io.stream;
    prim.execute(s, {{DNNL_ARG_SRC, io.in[0]}, {DNNL_ARG_DST, io.out[0]}});
    if (!chain.empty()) chain.run(s, io, io.out[0]);
  }
  std::string impl() const override { return impl_of(pd); }
};

// ONNX: input coordinate of output index x along one axis.
bool onnx_coord(const std::string& ctm, double x, int64_t lin, int64_t lout, double scale, double* c) {
  if (ctm == "half_pixel") *c = (x + 0.5) / scale - 0.5;
  else if (ctm == "pytorch_half_pixel") *c = lout > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
  else if (ctm == "align_corners") *c = lout == 1 ? 0.0 : x * double(lin - 1) / double(lout - 1);
  else if (ctm == "asymmetric") *c = x / scale;
  else return false;
  return true;
}

int64_t onnx_nearest(const std::string& nm, double c, int64_t lin) {
  double f = std::floor(c);
  double idx;
  if (nm == "floor") idx = f;
  else if (nm == "ceil") idx = std::ceil(c);
  else if (nm == "round_prefer_ceil") idx = (c - f == 0.5) ? f + 1 : std::round(c);
  else idx = (c - f == 0.5) ? f : std::round(c);  // round_prefer_floor
  return std::min<int64_t>(std::max<int64_t>(int64_t(idx), 0), lin - 1);
}

std::unique_ptr<Kernel> make_resize(BuildCtx& ctx) {
  const Node& n = *ctx.node;
  const dnnl::engine& eng = *ctx.engine;
  if (ctx.in.empty() || ctx.out.empty() || !is_f32(ctx.in[0]) || !is_f32(ctx.out[0])) return nullptr;
  if (node_opset(ctx) < 11 || ctx.in.size() < 3) return nullptr;
  const Shape& xs = ctx.in[0].shape;
  const Shape& ys = ctx.out[0].shape;
  int r = int(xs.size());
  if (r < 3 || r > 5 || int(ys.size()) != r || ys[0] != xs[0] || ys[1] != xs[1]) return nullptr;
  for (int i = 0; i < r; ++i) if (xs[size_t(i)] <= 0 || ys[size_t(i)] <= 0) return nullptr;
  std::string mode = n.attr_s("mode", "nearest");
  std::string ctm = n.attr_s("coordinate_transformation_mode", "half_pixel");
  std::string nm = n.attr_s("nearest_mode", "round_prefer_floor");
  if (mode != "nearest" && mode != "linear") return nullptr;
  if (n.attr_i("antialias", 0) != 0 || n.attr_i("exclude_outside", 0) != 0 || n.has("axes")) return nullptr;
  if (n.attr_s("keep_aspect_ratio_policy", "stretch") != "stretch") return nullptr;
  // Scale per dim: from `scales` when given, else out/in.
  std::vector<double> scale(static_cast<size_t>(r));
  for (int i = 0; i < r; ++i) scale[size_t(i)] = double(ys[size_t(i)]) / double(xs[size_t(i)]);
  if (ctx.in.size() > 2 && ctx.in[2].present() && shape_numel(ctx.in[2].shape) > 0) {
    if (!ctx.in[2].constant || ctx.in[2].constant->numel() != r) return nullptr;
    for (int i = 0; i < r; ++i) scale[size_t(i)] = double(float(ctx.in[2].constant->get_f64(i)));
    if (scale[0] != 1.0 || scale[1] != 1.0) return nullptr;
  }
  auto alg = mode == "linear" ? dnnl::algorithm::resampling_linear : dnnl::algorithm::resampling_nearest;
  auto k = std::make_unique<ResizeKernel>();
  try {
    const md_t& src = ctx.in[0].md;
    md_t dst = md_like(src, to_dims(ys));
    if (dst.data.ndims == 0) return nullptr;
    k->pd = dnnl::resampling_forward::primitive_desc(
        dnnl::resampling_forward::desc(dnnl::prop_kind::forward_inference, alg, src, dst), eng);
    k->prim = dnnl::resampling_forward(k->pd);

    // Probe: resample a ramp along each spatial axis with this primitive.
    dnnl::stream s(eng);
    md_t psrc = plain_md(DType::F32, xs), pdst = plain_md(DType::F32, ys);
    dnnl::memory ms(psrc, eng), md(pdst, eng), ks(src, eng), kd(k->pd.dst_desc(), eng);
    float* in = static_cast<float*>(ms.get_data_handle());
    const float* out = static_cast<const float*>(md.get_data_handle());
    int64_t nin = shape_numel(xs), nout = shape_numel(ys);
    for (int ax = 2; ax < r; ++ax) {
      int64_t inner_in = 1, inner_out = 1;
      for (int i = ax + 1; i < r; ++i) inner_in *= xs[size_t(i)], inner_out *= ys[size_t(i)];
      for (int64_t i = 0; i < nin; ++i) in[i] = float((i / inner_in) % xs[size_t(ax)]);
      dnnl::reorder(ms, ks).execute(s, ms, ks);
      k->prim.execute(s, {{DNNL_ARG_SRC, ks}, {DNNL_ARG_DST, kd}});
      dnnl::reorder(kd, md).execute(s, kd, md);
      s.wait();
      int64_t lin = xs[size_t(ax)], lout = ys[size_t(ax)];
      std::vector<double> expect(static_cast<size_t>(lout));
      for (int64_t o = 0; o < lout; ++o) {
        double c;
        if (!onnx_coord(ctm, double(o), lin, lout, scale[size_t(ax)], &c)) return nullptr;
        if (mode == "nearest") {
          expect[size_t(o)] = double(onnx_nearest(nm, c, lin));
        } else {
          double f = std::floor(c), w = c - f;
          auto cl = [&](double v) { return double(std::min<int64_t>(std::max<int64_t>(int64_t(v), 0), lin - 1)); };
          expect[size_t(o)] = (1 - w) * cl(f) + w * cl(f + 1);
        }
      }
      double tol = mode == "nearest" ? 0.0 : 1e-4 * std::max<double>(1.0, double(lin));
      for (int64_t i = 0; i < nout; ++i) {
        int64_t o = (i / inner_out) % lout;
        if (std::fabs(double(out[i]) - expect[size_t(o)]) > tol) return nullptr;
      }
    }
    if (!k->chain.init(ctx, k->pd.dst_desc())) return nullptr;
    ctx.out[0].md = k->pd.dst_desc();
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return k;
}

C8_REGISTER_FAST_KERNEL("Resize", 100, make_resize);

}  // namespace
}  // namespace c8::dnnlk
