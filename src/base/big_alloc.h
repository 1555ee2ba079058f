#pragma once
// Zero-filled, 64-byte aligned storage for tensors, activation arenas and
// oneDNN's reordered weights.
//
// Blocks of at least kHugeBlock bytes come straight from mmap: the kernel
// hands out zero pages, so there is no memset, and the block is 2 MB aligned
// and advised MADV_HUGEPAGE, so where transparent huge pages run in "madvise"
// mode (Debian's default) a 100 MB model costs a few dozen page faults instead
// of ~25 000. On a virtual machine a 4 KB fault is expensive: this cut the
// first inference of resnet50 FP32 (load + plan + first run) by about a third
// on a Zen 5 VM (figures in the commit). Smaller blocks use aligned_alloc.
#include <cstddef>
#include <cstdint>
#include <memory>

namespace c8 {

constexpr size_t kHugeBlock = size_t(2) << 20;

// Throws std::bad_alloc when the memory cannot be had. bytes == 0 gives a
// valid 64-byte block.
std::shared_ptr<uint8_t> alloc_zeroed(size_t bytes);

}  // namespace c8
