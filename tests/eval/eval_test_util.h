#pragma once
// Helpers for the eval tests: temp folders and tiny hand-written PGM/PPM files.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace c8test {

struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = "/tmp/c8eval_test_XXXXXX";
    char* p = mkdtemp(tmpl.data());
    if (!p) throw std::runtime_error("mkdtemp failed");
    path = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string sub(const std::string& rel) const { return path + "/" + rel; }
  void mkdir(const std::string& rel) const { std::filesystem::create_directories(sub(rel)); }
  void write(const std::string& rel, const std::string& bytes) const {
    std::filesystem::create_directories(std::filesystem::path(sub(rel)).parent_path());
    std::ofstream f(sub(rel), std::ios::binary);
    f.write(bytes.data(), std::streamsize(bytes.size()));
  }
};

// Binary PGM (channels 1) or PPM (channels 3) of w x h pixels.
inline std::string pnm(int w, int h, int channels, const std::vector<uint8_t>& px) {
  std::string s = std::string(channels == 1 ? "P5" : "P6") + "\n" + std::to_string(w) + " " + std::to_string(h) +
                  "\n255\n";
  s.append(reinterpret_cast<const char*>(px.data()), px.size());
  return s;
}

inline std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace c8test
