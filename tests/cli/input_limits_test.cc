// Hostile or mistaken inputs get one clear line, fast, within bounded memory:
// devices and FIFOs are not read, image and data sizes are checked from the
// header before decoding (with flags to raise the limits), and a symlink back
// up a data set folder does not multiply its images.
#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <fstream>

#include "cli/cli_util.h"
#include "eval/datasets/dataset.h"

using namespace c8test;
namespace fs = std::filesystem;

namespace {

const std::string kPng = std::string(C8_SHARED_DIR) + "/data/cifar10-test-2000/images/airplane_0000.png";

struct Dir {
  std::string path = temp_dir();
  ~Dir() { fs::remove_all(path); }
  std::string sub(const std::string& n) const { return path + "/" + n; }
};

void be32(std::string& s, uint32_t v) {
  for (int k = 3; k >= 0; --k) s.push_back(char((v >> (8 * k)) & 0xff));
}

double seconds_of(const std::function<void()>& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(InputLimits, DeviceIsNotReadForever) {
  CmdResult r;
  double s = seconds_of([&] { r = calibr8("run default /dev/zero"); });
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("/dev/zero"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_LT(s, 10.0);
}

// 33 bytes that claim a 30000 x 30000 RGB PNG: refused as too large, from the
// header, with the flag that raises the limit (stb_image reported "unknown
// image type" for it).
TEST(InputLimits, HugePngHeaderSaysTooLarge) {
  Dir d;
  std::string png("\x89PNG\r\n\x1a\n", 8);
  be32(png, 13);
  png += "IHDR";
  be32(png, 30000);
  be32(png, 30000);
  png += std::string("\x08\x02\x00\x00\x00", 5);
  be32(png, 0);  // CRC (not checked before the size)
  std::ofstream(d.sub("huge.png"), std::ios::binary) << png;
  CmdResult r = calibr8("run default '" + d.sub("huge.png") + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("too large"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("30000x30000"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--max-image-pixels"), std::string::npos) << r.err;
  // A real 32x32 image under a limit of 1000 pixels is refused the same way, and runs with the limit raised.
  r = calibr8("run default '" + kPng + "' --max-image-pixels 1000");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("32x32"), std::string::npos) << r.err;
  r = calibr8("run default '" + kPng + "' --max-image-pixels 1024");
  EXPECT_EQ(r.code, 0) << r.err;
}

// An IDX file whose header declares far more than it holds or than the
// limit allows: refused from the header, before reading (or inflating) on.
TEST(InputLimits, IdxDeclaredSizeIsCheckedFirst) {
  Dir d;
  std::string idx;
  be32(idx, 0x00000803);
  be32(idx, 100000);  // 100000 images of 28x28: 78 MB declared
  be32(idx, 28);
  be32(idx, 28);
  idx += std::string(4096, '\0');
  gzFile f = gzopen(d.sub("t10k-images-idx3-ubyte.gz").c_str(), "wb");
  gzwrite(f, idx.data(), unsigned(idx.size()));
  gzclose(f);
  CmdResult r = calibr8("evaluate default --dataset '" + d.path + "' --max-file-mb 10");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("header declares"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--max-file-mb"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  r = calibr8("evaluate default --dataset '" + d.path + "'");  // within the default limit: truncated, said so
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
}

TEST(InputLimits, SymlinkLoopDoesNotMultiplyImages) {
  Dir d;
  fs::create_directories(d.sub("set/a"));
  fs::copy_file(kPng, d.sub("set/one.png"));
  fs::create_directory_symlink("..", d.sub("set/a/up"));
  auto ds = c8::open_dataset(d.sub("set"));
  EXPECT_EQ(ds->size(), 1u);
}

}  // namespace
