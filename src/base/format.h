#pragma once
// printf into a std::string, any length (report lines, CLI summaries).
#include <string>

namespace c8 {

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));

}  // namespace c8
