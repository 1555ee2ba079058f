#pragma once
// Shared by the fuzz targets. Each target is built two ways (tests/fuzz/README.md):
// with clang's libFuzzer (scripts/fuzz.sh) to search for inputs, and with the
// normal compiler plus replay_main.cc to re-run the kept corpus in every test run.
//
// The contract a target checks is the CLI's: a bad input may only end in a
// c8::Error (one line naming the file); any other exception, crash, sanitizer
// report, hang or runaway allocation is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

namespace c8fuzz {

// One scratch folder per process (readers of data sets take paths, not bytes).
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/c8fuzz_XXXXXX";
    if (!mkdtemp(tmpl.data())) std::abort();
    return tmpl;
  }();
  return dir;
}

inline void write_file(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

inline void write_file(const std::string& path, const std::string& s) {
  write_file(path, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// Splits the input at the first "\n----\n": lets one input carry two files
// (labels.txt and classes.txt, an IDX images and labels file).
inline std::pair<std::string, std::string> split2(const uint8_t* data, size_t size) {
  const std::string s(reinterpret_cast<const char*>(data), size);
  const std::string sep = "\n----\n";
  const size_t k = s.find(sep);
  if (k == std::string::npos) return {s, std::string()};
  return {s.substr(0, k), s.substr(k + sep.size())};
}

}  // namespace c8fuzz
