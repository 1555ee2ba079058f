#pragma once
// Runs the calibr8 binary as a user would and captures what it prints.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace c8test {

struct CmdResult {
  int code = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline std::string temp_dir() {
  char buf[] = "/tmp/c8cli_XXXXXX";
  if (!mkdtemp(buf)) std::abort();
  return buf;
}

// `args` is appended to the binary path as-is (quote paths yourself).
inline CmdResult calibr8(const std::string& args) {
  std::string dir = temp_dir();
  std::string cmd = std::string("'") + C8_BINARY + "' " + args + " > " + dir + "/out 2> " + dir + "/err < /dev/null";
  int st = std::system(cmd.c_str());
  CmdResult r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = slurp(dir + "/out");
  r.err = slurp(dir + "/err");
  std::system(("rm -rf " + dir).c_str());
  return r;
}

// A file of ../shared (C8_SHARED_DIR).
inline std::string shared(const std::string& rel) { return std::string(C8_SHARED_DIR) + "/" + rel; }

// The shared detector and segmentation models with their preprocessing flags
// (../shared/ASSETS.md sections 3 and 4).
inline std::string det_model() { return shared("models/fastestdet_coco_352.onnx"); }
inline std::string seg_model() { return shared("models/deeplabv3_mnv2_dm05_voc_257.onnx"); }
inline const char* det_pre() { return " --size 352x352 --mean 0 --std 255 --color bgr"; }
inline const char* seg_pre() { return " --size 257x257 --mean 127.5 --std 127.5"; }

inline int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace c8test
