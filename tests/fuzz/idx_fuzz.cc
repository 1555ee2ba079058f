// Fuzz target: the (Fashion-)MNIST IDX reader, plain and gzip. The input is
// "<images file>\n----\n<labels file>"; its first byte says which of the two
// are gzip-compressed (the bytes are then taken as the .gz file itself).
#include <cstdint>
#include <filesystem>

#include "eval/datasets/dataset.h"
#include "fuzz_util.h"
#include "base/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  if (size == 0) return 0;
  const bool images_gz = data[0] & 1, labels_gz = data[0] & 2;
  auto [images, labels] = c8fuzz::split2(data + 1, size - 1);
  const std::string dir = c8fuzz::scratch_dir() + "/idx";
  fs::remove_all(dir);
  fs::create_directories(dir);
  c8fuzz::write_file(dir + "/t10k-images-idx3-ubyte" + (images_gz ? ".gz" : ""), images);
  if (!labels.empty()) c8fuzz::write_file(dir + "/t10k-labels-idx1-ubyte" + (labels_gz ? ".gz" : ""), labels);
  try {
    auto ds = c8::open_dataset(dir);
    for (size_t i = 0; i < ds->size() && i < 4; ++i) (void)ds->get(i);
    if (ds->size() > 4) (void)ds->get(ds->size() - 1);
  } catch (const c8::Error&) {
  }
  return 0;
}
