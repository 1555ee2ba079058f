#include "base/format.h"

#include <cstdarg>
#include <cstdio>

namespace c8 {

std::string fmt(const char* f, ...) {
  char buf[512];
  va_list ap, ap2;
  va_start(ap, f);
  va_copy(ap2, ap);
  int n = std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  std::string r;
  if (n >= int(sizeof buf)) {  // long paths / kernel lists
    r.resize(size_t(n) + 1);
    std::vsnprintf(r.data(), r.size(), f, ap2);
    r.resize(size_t(n));
  } else {
    r = n > 0 ? std::string(buf, size_t(n)) : std::string();
  }
  va_end(ap2);
  return r;
}

}  // namespace c8
