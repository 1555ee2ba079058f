#include <gtest/gtest.h>

#include "eval/image.h"
#include "eval_test_util.h"
#include "base/error.h"

using namespace c8;
using c8test::TempDir;

namespace {
const std::string kData = std::string(C8_SHARED_DIR) + "/data";
const std::string kJpeg = kData + "/imagenet-sample-500/images/0000_n01440764.jpg";
const std::string kPng = kData + "/cifar10-test-2000/images/airplane_0000.png";
const std::string kMask = kData + "/voc2012-seg-3/masks/voc_val_1.png";
}  // namespace

TEST(EvalImage, DecodesRealJpegCloseToPil) {
  Image im = load_image(kJpeg);
  ASSERT_EQ(im.width, 224);
  ASSERT_EQ(im.height, 224);
  ASSERT_EQ(im.channels, 3);
  ASSERT_EQ(im.pixels.size(), 224u * 224u * 3u);
  // Expected values: PIL 9.4 (libjpeg-turbo). stb_image differs by <= 3 levels on the shared JPEGs.
  struct P { int y, x; int rgb[3]; } pts[] = {
      {0, 0, {74, 89, 84}}, {100, 50, {116, 119, 112}}, {223, 223, {85, 100, 95}}, {112, 112, {227, 183, 74}}};
  for (const auto& p : pts)
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(int(im.at(p.y, p.x, c)), p.rgb[c], 3) << p.y << "," << p.x << " c" << c;
}

TEST(EvalImage, DecodesRealPngBitExact) {
  Image im = load_image(kPng);
  ASSERT_EQ(im.width, 32);
  ASSERT_EQ(im.height, 32);
  ASSERT_EQ(im.channels, 3);
  struct P { int y, x; int rgb[3]; } pts[] = {
      {0, 0, {141, 159, 179}}, {5, 7, {181, 150, 168}}, {31, 31, {49, 72, 64}}, {16, 20, {198, 195, 216}}};
  for (const auto& p : pts)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(int(im.at(p.y, p.x, c)), p.rgb[c]) << p.y << "," << p.x << " c" << c;
}

TEST(EvalImage, GrayPngStaysOneChannel) {
  Image im = load_image(kMask);
  ASSERT_EQ(im.width, 513);
  ASSERT_EQ(im.height, 513);
  ASSERT_EQ(im.channels, 1);
  EXPECT_EQ(im.at(0, 0, 0), 0);
  EXPECT_EQ(im.at(256, 256, 0), 1);
  EXPECT_EQ(im.at(400, 100, 0), 0);
}

TEST(EvalImage, TruncatedJpegErrorNamesFile) {
  TempDir t;
  const std::string bytes = c8test::read_file(kJpeg);
  ASSERT_GT(bytes.size(), 1000u);
  t.write("trunc.jpg", bytes.substr(0, bytes.size() / 2));
  const std::string path = t.sub("trunc.jpg");
  try {
    load_image(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind(path + ": ", 0), 0u) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(EvalImage, CorruptMissingAndEmptyFiles) {
  TempDir t;
  t.write("junk.png", "this is not an image");
  t.write("empty.jpg", "");
  const std::string png = c8test::read_file(kPng);
  t.write("trunc.png", png.substr(0, png.size() / 3));
  for (const char* name : {"junk.png", "empty.jpg", "trunc.png", "missing.png"}) {
    const std::string m = c8test::error_of([&] { load_image(t.sub(name)); });
    EXPECT_EQ(m.rfind(t.sub(name) + ": ", 0), 0u) << m;
  }
  EXPECT_NE(c8test::error_of([&] { load_image(t.sub("missing.png")); }).find("No such file"), std::string::npos);
}

TEST(EvalImage, PnmAndGrayHelper) {
  TempDir t;
  t.write("a.ppm", c8test::pnm(2, 1, 3, {1, 2, 3, 4, 5, 6}));
  t.write("b.pgm", c8test::pnm(3, 1, 1, {7, 8, 9}));
  Image a = load_image(t.sub("a.ppm"));
  EXPECT_EQ(a.channels, 3);
  EXPECT_EQ(a.pixels, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
  Image b = load_image(t.sub("b.pgm"));
  EXPECT_EQ(b.channels, 1);
  EXPECT_EQ(b.width, 3);
  EXPECT_EQ(b.pixels, (std::vector<uint8_t>{7, 8, 9}));
  const uint8_t g[6] = {1, 2, 3, 4, 5, 6};
  Image c = image_from_gray(g, 3, 2);
  EXPECT_EQ(c.width, 3);
  EXPECT_EQ(c.height, 2);
  EXPECT_EQ(c.channels, 1);
  EXPECT_EQ(c.at(1, 2, 0), 6);
  EXPECT_THROW(image_from_gray(g, 0, 2), Error);
}
