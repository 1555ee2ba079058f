#include "eval/subset.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <numeric>

#include "base/error.h"

namespace c8 {

namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

[[noreturn]] void bad(const std::string& spec, const std::string& why) {
  throw Error("invalid subset '" + spec + "': " + why + " (expected a count like 300 or a percentage like 10%)");
}

}  // namespace

size_t subset_count(size_t n, const std::string& spec_in) {
  const std::string spec = trim(spec_in);
  if (spec.empty() || spec == "all") return n;
  if (spec.back() == '%') {
    const std::string num = trim(spec.substr(0, spec.size() - 1));
    char* end = nullptr;
    errno = 0;
    const double p = num.empty() ? NAN : std::strtod(num.c_str(), &end);
    if (num.empty() || *end != 0 || errno == ERANGE || !std::isfinite(p)) bad(spec_in, "not a number");
    if (p <= 0 || p > 100) bad(spec_in, "percentage must be in (0, 100]");
    // Integer-exact for the common cases (whole percentages): k = floor((n*p + 50) / 100).
    const long double k = std::floor((static_cast<long double>(n) * p + 50.0L) / 100.0L);
    size_t kk = static_cast<size_t>(k);
    if (kk == 0 && n > 0) kk = 1;
    return std::min(kk, n);
  }
  if (spec.find_first_not_of("0123456789") != std::string::npos) bad(spec_in, "not a whole number");
  if (spec.size() > 18) bad(spec_in, "too large");
  const unsigned long long k = std::strtoull(spec.c_str(), nullptr, 10);
  if (k == 0) bad(spec_in, "count must be positive");
  return std::min<size_t>(size_t(k), n);
}

std::vector<size_t> choose_subset(size_t n, const std::string& spec, uint64_t seed) {
  const size_t k = subset_count(n, spec);
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t(0));
  if (k == n) return idx;
  SplitMix64 rng(seed);
  for (size_t i = 0; i < k; ++i) {  // partial Fisher-Yates
    const size_t j = i + size_t(rng.below(uint64_t(n - i)));
    std::swap(idx[i], idx[j]);
  }
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  return idx;
}

std::pair<std::vector<size_t>, std::vector<size_t>> split_first(size_t n, size_t k) {
  k = std::min(k, n);
  std::vector<size_t> a(k), b(n - k);
  std::iota(a.begin(), a.end(), size_t(0));
  std::iota(b.begin(), b.end(), k);
  return {std::move(a), std::move(b)};
}

}  // namespace c8
