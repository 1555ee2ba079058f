#pragma once
// Runs ONNX Runtime (npm onnxruntime-node, scripts/ort/ort_run.js) on the
// same input tensors calibr8 sees, so both runtimes are compared on
// bit-identical inputs.
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace c8test {

inline std::string ort_script() { return std::string(C8_SOURCE_DIR) + "/scripts/ort/ort_run.js"; }

// Each input is one sample with batch 1; returns the first output per sample, flattened.
inline std::vector<std::vector<float>> ort_run(const std::string& model, const std::vector<c8::Tensor>& inputs,
                                               int chunk = 64) {
  std::vector<std::vector<float>> out;
  // A private folder: ctest runs tests in parallel processes.
  std::string tmpl = std::string(C8_BUILD_DIR) + "/ort_tmp_XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
  std::string dir(buf.data());
  struct Cleanup {
    std::string d;
    ~Cleanup() { std::system(("rm -rf '" + d + "'").c_str()); }
  } cleanup{dir};
  for (size_t first = 0; first < inputs.size(); first += size_t(chunk)) {
    size_t n = std::min(inputs.size() - first, size_t(chunk));
    std::string in_path = dir + "/in.f32", out_path = dir + "/out.f32";
    {
      std::ofstream f(in_path, std::ios::binary);
      for (size_t i = first; i < first + n; ++i) f.write(static_cast<const char*>(inputs[i].raw()), std::streamsize(inputs[i].nbytes()));
    }
    std::string shape;
    for (int64_t d : inputs[first].shape) shape += (shape.empty() ? "" : ",") + std::to_string(d);
    std::string cmd = "node '" + ort_script() + "' --model '" + model + "' --input '" + in_path + "' --shape " + shape +
                      " --count " + std::to_string(n) + " --output '" + out_path + "' --threads 1 > '" + dir + "/log.txt' 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      std::ifstream log(dir + "/log.txt");
      std::string all((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
      throw std::runtime_error("onnxruntime failed on " + model + ": " + all);
    }
    std::ifstream f(out_path, std::ios::binary | std::ios::ate);
    size_t bytes = size_t(f.tellg());
    f.seekg(0);
    std::vector<float> all(bytes / 4);
    f.read(reinterpret_cast<char*>(all.data()), std::streamsize(bytes));
    size_t per = all.size() / n;
    for (size_t i = 0; i < n; ++i) out.emplace_back(all.begin() + long(i * per), all.begin() + long((i + 1) * per));
  }
  return out;
}

inline int argmax(const float* p, size_t n) {
  size_t b = 0;
  for (size_t i = 1; i < n; ++i)
    if (p[i] > p[b]) b = i;
  return int(b);
}

}  // namespace c8test
