#include "server/thumbnail.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace c8 {
namespace {

Image gradient(int w, int h, int c) {
  Image img;
  img.width = w, img.height = h, img.channels = c;
  img.pixels.resize(size_t(w) * size_t(h) * size_t(c));
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = uint8_t(i * 7 % 251);
  return img;
}

Image decode(const std::string& jpeg) { return decode_image(reinterpret_cast<const uint8_t*>(jpeg.data()), jpeg.size(), "t.jpg"); }

TEST(Thumbnail, ScalesDownToTheLongerSideKeepingTheAspect) {
  Image t = decode(thumbnail_jpeg(gradient(300, 150, 3), 96));
  EXPECT_EQ(t.width, 96);
  EXPECT_EQ(t.height, 48);
  EXPECT_EQ(t.channels, 3);
  t = decode(thumbnail_jpeg(gradient(20, 500, 1), 96));
  EXPECT_EQ(t.width, 4);
  EXPECT_EQ(t.height, 96);
}

TEST(Thumbnail, NeverScalesUp) {
  Image t = decode(thumbnail_jpeg(gradient(40, 30, 3), 96));
  EXPECT_EQ(t.width, 40);
  EXPECT_EQ(t.height, 30);
}

TEST(Thumbnail, EmptyImageIsRefused) { EXPECT_THROW(thumbnail_jpeg(Image{}, 96), Error); }

}  // namespace
}  // namespace c8
