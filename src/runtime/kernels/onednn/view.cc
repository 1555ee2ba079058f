// Reshape / Flatten / Squeeze / Unsqueeze / Identity never move data when the
// input is plain: the output aliases the input's buffer. A blocked input is
// reordered to plain into the output buffer (the row-major bytes of the input
// are the row-major bytes of the output).
#include "runtime/kernel.h"
#include "runtime/kernels/onednn/common.h"

namespace c8 {
namespace {

// A channel-blocked layout whose spatial dims are all 1 (e.g. nChw8c of a
// GlobalAveragePool output [N, C, 1, 1], C % 8 == 0) has the row-major bytes.
bool same_bytes_as_plain(const dnnl::memory::desc& md) {
  int64_t blk = 0;
  if (!dnnlk::is_nc_dense(md, &blk)) return false;
  for (int i = 2; i < md.data.ndims; ++i)
    if (md.data.dims[i] != 1) return false;
  return true;
}

class ViewKernel : public Kernel {
 public:
  explicit ViewKernel(BuildCtx& ctx) {
    const ValueInfo& x = ctx.in[0];
    if (is_plain_md(x.md) || !dnnl_supports(x.dtype) || x.constant || same_bytes_as_plain(x.md)) {
      ctx.out[0].alias_input = 0;
    } else {
      adapt_ = LayoutAdapter(*ctx.engine, x.md, plain_md(x.dtype, x.shape));
      plain_in_ = plain_md(x.dtype, x.shape);
    }
    ctx.out[0].md = plain_md(ctx.out[0].dtype, ctx.out[0].shape);
  }
  void execute(KernelIO& io) override {
    if (!adapt_.needed()) return;  // aliased: nothing to do
    dnnl::memory dst(plain_in_, io.stream->get_engine(), io.out[0].get_data_handle());
    dnnl::reorder(io.in[0], dst).execute(*io.stream, io.in[0], dst);
  }
  std::string impl() const override { return adapt_.needed() ? "view+reorder" : "view"; }

 private:
  LayoutAdapter adapt_;
  dnnl::memory::desc plain_in_;
};

std::unique_ptr<Kernel> make_view(BuildCtx& ctx) {
  if (ctx.in.empty() || !ctx.in[0].present() || ctx.out.empty()) return nullptr;
  if (ctx.out.size() > 1 && ctx.node->outputs.size() > 1 && ctx.node->outputs[1] >= 0) return nullptr;  // Dropout mask
  if (ctx.in[0].dtype != ctx.out[0].dtype) return nullptr;
  return std::make_unique<ViewKernel>(ctx);
}

}  // namespace

C8_REGISTER_FAST_KERNEL("Reshape", 100, make_view);
C8_REGISTER_FAST_KERNEL("Flatten", 100, make_view);
C8_REGISTER_FAST_KERNEL("Squeeze", 100, make_view);
C8_REGISTER_FAST_KERNEL("Unsqueeze", 100, make_view);
C8_REGISTER_FAST_KERNEL("Identity", 100, make_view);
C8_REGISTER_FAST_KERNEL("Dropout", 100, make_view);

}  // namespace c8
