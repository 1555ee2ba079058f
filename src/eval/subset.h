#pragma once
// Deterministic sub-sampling of data sets (same result on every platform and
// compiler: splitmix64 + rejection sampling, no <random> distributions).
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace c8 {

// spec: ""/"all" = all n indices; "300" = 300 random indices (clamped to n);
// "10%" / "2.5%" = round-half-up(n * p / 100) random indices, at least 1 when
// n > 0, p in (0, 100]. Returns sorted indices. The chosen set depends only on
// (n, k, seed); for a fixed seed, the selection for count k is a prefix-stable
// partial Fisher-Yates shuffle. Throws c8::Error on malformed specs or 0.
std::vector<size_t> choose_subset(size_t n, const std::string& spec, uint64_t seed);

// Number of samples spec selects out of n (same rules as choose_subset).
size_t subset_count(size_t n, const std::string& spec);

// {0..k-1}, {k..n-1} (k clamped to n).
std::pair<std::vector<size_t>, std::vector<size_t>> split_first(size_t n, size_t k);

// splitmix64 generator (public so callers can share the exact sequence).
struct SplitMix64 {
  uint64_t state;
  explicit SplitMix64(uint64_t seed) : state(seed) {}
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound), unbiased (rejection); bound > 0.
  uint64_t below(uint64_t bound) {
    const uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
    while (true) {
      const uint64_t x = next();
      if (x >= threshold) return x % bound;
    }
  }
};

}  // namespace c8
