#pragma once
#include <memory>

#include "runtime/kernel.h"

namespace c8 {

// Wraps a node's reference kernel as a fast-path Kernel: inputs arriving in a
// blocked layout are reordered to plain first; outputs are plain.
// Throws c8::Error when the op has no reference kernel.
std::unique_ptr<Kernel> make_ref_kernel(BuildCtx& ctx);

}  // namespace c8
