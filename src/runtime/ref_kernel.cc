#include "runtime/ref_kernel.h"

#include <cstring>

namespace c8 {

namespace {

class RefKernel : public Kernel {
 public:
  RefKernel(const OpDef* def, BuildCtx& ctx) : def_(def), node_(*ctx.node) {
    for (const ValueInfo& in : ctx.in) {
      if (in.present() && dnnl_supports(in.dtype) && !is_plain_md(in.md) && !in.constant)
        adapt_.emplace_back(*ctx.engine, in.md, plain_md(in.dtype, in.shape));
      else
        adapt_.emplace_back();
      shapes_.push_back(in.shape);
      dtypes_.push_back(in.dtype);
    }
    for (ValueInfo& out : ctx.out)
      if (out.present()) out.md = plain_md(out.dtype, out.shape);
  }

  void execute(KernelIO& io) override {
    std::vector<Tensor> in(io.in_t.size());
    for (size_t i = 0; i < in.size(); ++i) {
      if (!io.in_t[i].defined()) continue;
      if (adapt_[i].needed()) {
        dnnl::memory m = adapt_[i].convert(*io.stream, io.in[i]);
        io.stream->wait();
        in[i] = Tensor::wrap(dtypes_[i], shapes_[i], m.get_data_handle());
      } else {
        in[i] = io.in_t[i];
      }
    }
    std::vector<Tensor> out = io.out_t;
    std::vector<const void*> expect;
    for (const Tensor& t : out) expect.push_back(t.raw());
    try {
      def_->ref(node_, in, out);
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const std::exception& e) {
      // e.g. a cast the IR cannot do (found by fuzzing): the line names the node
      if (std::string(e.what()).rfind("node '", 0) == 0) throw;
      node_error(node_, e.what());
    }
    // A reference kernel that allocated its own output: copy into the plan's buffer.
    for (size_t k = 0; k < out.size() && k < io.out_t.size(); ++k)
      if (io.out_t[k].defined() && out[k].raw() != expect[k]) {
        if (out[k].nbytes() != io.out_t[k].nbytes()) node_error(node_, "reference kernel produced an unexpected shape " + shape_str(out[k].shape));
        std::memcpy(io.out_t[k].raw(), out[k].raw(), out[k].nbytes());
      }
  }

  std::string impl() const override { return "ref"; }

 private:
  const OpDef* def_;
  Node node_;
  std::vector<LayoutAdapter> adapt_;
  std::vector<Shape> shapes_;
  std::vector<DType> dtypes_;
};

}  // namespace

std::unique_ptr<Kernel> make_ref_kernel(BuildCtx& ctx) {
  const OpDef* def = find_op(ctx.node->op, ctx.node->domain);
  if (!def || !def->ref) node_error(*ctx.node, "unsupported operator");
  return std::make_unique<RefKernel>(def, ctx);
}

}  // namespace c8
