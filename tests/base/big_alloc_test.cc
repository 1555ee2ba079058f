#include "base/big_alloc.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>

namespace c8 {

static bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i]) return false;
  return true;
}

// Small blocks come from aligned_alloc + memset, large ones from mmap: both
// must be zero, 64-byte aligned and writable to the last byte.
TEST(BigAlloc, ZeroedAlignedAndWritableOnBothPaths) {
  for (size_t n : {size_t(0), size_t(1), size_t(100), kHugeBlock - 1, kHugeBlock, kHugeBlock * 3 + 12345}) {
    auto b = alloc_zeroed(n);
    ASSERT_NE(b.get(), nullptr) << n;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.get()) % 64, 0u) << n;
    EXPECT_TRUE(all_zero(b.get(), n)) << n;
    if (n) {
      std::memset(b.get(), 0xAB, n);
      EXPECT_EQ(b.get()[n - 1], 0xAB) << n;
    }
  }
}

// Only a 2 MB aligned extent can become a huge page: large blocks start on one.
TEST(BigAlloc, LargeBlocksStartOnAHugePageBoundary) {
  auto b = alloc_zeroed(kHugeBlock * 2);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.get()) % kHugeBlock, 0u);
}

static long mapped_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmSize:", 0) == 0) return std::stol(line.substr(7));
  return -1;
}

// The deleter gives the whole mapping back (head and tail trimmed at
// allocation, the block itself at release): no address space leaks.
TEST(BigAlloc, ReleaseUnmapsTheBlock) {
  long before = mapped_kb();
  ASSERT_GT(before, 0);
  for (int i = 0; i < 50; ++i) {
    auto b = alloc_zeroed(kHugeBlock * 4);
    b.get()[0] = 1;
  }
  long after = mapped_kb();
  EXPECT_LT(after - before, 4 * 1024) << "50 blocks of 8 MB freed, yet VmSize grew by " << (after - before) << " kB";
}

}  // namespace c8
