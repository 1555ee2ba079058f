#pragma once
// One exception type for every user-facing failure: its message is the single
// line the CLI prints (it must name the file / node / image at fault).
#include <stdexcept>
#include <string>

namespace c8 {

struct Error : std::runtime_error {
  explicit Error(const std::string& m) : std::runtime_error(m) {}
};

}  // namespace c8
