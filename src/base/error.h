#pragma once
// One exception type for every user-facing failure: its message is the single
// line the CLI prints (it must name the file / node / image at fault).
#include <stdexcept>
#include <string>

namespace c8 {

struct Error : std::runtime_error {
  explicit Error(const std::string& m) : std::runtime_error(m) {}
};

// The message as one printable line: control characters, DEL and bytes that
// are not valid UTF-8 (binary junk from a labels.txt, an odd file name)
// become \xNN, so nothing raw reaches the user's terminal.
std::string printable(const std::string& s);

}  // namespace c8
