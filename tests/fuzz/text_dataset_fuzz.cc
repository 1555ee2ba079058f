// Fuzz target: the text readers of data sets: labels.txt (with classes.txt)
// and list.txt. The input is "<list>\n----\n<classes.txt>"; its first byte
// picks the format. Two real images sit beside the list so that valid lines
// reach the decoding path too.
#include <cstdint>
#include <filesystem>

#include "eval/datasets/dataset.h"
#include "fuzz_util.h"
#include "base/error.h"

namespace {
// The smallest valid PGM images (2x1 gray).
const char kPgm[] = "P5 2 1 255\n\x10\x20";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  if (size == 0) return 0;
  const bool list_txt = data[0] & 1;
  auto [list, classes] = c8fuzz::split2(data + 1, size - 1);
  const std::string dir = c8fuzz::scratch_dir() + "/set";
  fs::remove_all(dir);
  fs::create_directories(dir + "/sub");
  c8fuzz::write_file(dir + "/a.pgm", std::string(kPgm, sizeof kPgm - 1));
  c8fuzz::write_file(dir + "/sub/b.pgm", std::string(kPgm, sizeof kPgm - 1));
  c8fuzz::write_file(dir + (list_txt ? "/list.txt" : "/labels.txt"), list);
  if (!classes.empty()) c8fuzz::write_file(dir + "/classes.txt", classes);
  try {
    auto ds = c8::open_dataset(dir);
    const auto names = ds->class_names();
    for (size_t i = 0; i < ds->size() && i < 4; ++i) {
      const c8::Sample s = ds->get(i);
      if (s.label >= 0 && !names.empty() && size_t(s.label) >= names.size()) std::abort();
      (void)ds->annotation_paths(i);
    }
  } catch (const c8::Error&) {
  }
  return 0;
}
