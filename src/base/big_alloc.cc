#include "base/big_alloc.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace c8 {

static std::shared_ptr<uint8_t> map_block(size_t bytes) {
  const size_t page = 4096;
  const size_t len = (bytes + page - 1) / page * page;
  // Over-map by one huge page so the block can start on a 2 MB boundary
  // (only whole aligned 2 MB extents can become huge pages), then give the
  // unused head and tail back.
  const size_t span = len + kHugeBlock;
  void* p = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  uintptr_t base = reinterpret_cast<uintptr_t>(p);
  uintptr_t start = (base + kHugeBlock - 1) & ~uintptr_t(kHugeBlock - 1);
  if (start > base) ::munmap(p, start - base);
  size_t tail = (base + span) - (start + len);
  if (tail) ::munmap(reinterpret_cast<void*>(start + len), tail);
#ifdef MADV_HUGEPAGE
  ::madvise(reinterpret_cast<void*>(start), len, MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
  return std::shared_ptr<uint8_t>(reinterpret_cast<uint8_t*>(start), [len](uint8_t* q) { ::munmap(q, len); });
}

std::shared_ptr<uint8_t> alloc_zeroed(size_t bytes) {
  if (bytes >= kHugeBlock) return map_block(bytes);
  size_t n = (bytes + 63) / 64 * 64;
  if (n == 0) n = 64;
  void* p = std::aligned_alloc(64, n);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, n);
  return std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [](uint8_t* q) { std::free(q); });
}

}  // namespace c8
