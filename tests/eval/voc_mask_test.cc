// Class masks: VOC palette PNGs (written by PIL with the devkit's colour map,
// the way VOC's SegmentationClass files are) come back as class indices, void
// 255 included; grayscale masks as they are; a colour outside the map is
// refused with the file and pixel.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "base/error.h"
#include "eval/datasets/voc_mask.h"

namespace c8 {
namespace {

TEST(ClassMask, VocPaletteGrayAndForeignColours) {
  uint8_t c[3];
  voc_color(1, c);  // aeroplane
  EXPECT_EQ(int(c[0]), 128);
  EXPECT_EQ(int(c[1]), 0);
  EXPECT_EQ(int(c[2]), 0);
  voc_color(255, c);  // void
  EXPECT_EQ(int(c[0]), 224);
  EXPECT_EQ(int(c[1]), 224);
  EXPECT_EQ(int(c[2]), 192);
  voc_color(15, c);  // person
  EXPECT_EQ(int(c[0]), 192);
  EXPECT_EQ(int(c[1]), 128);
  EXPECT_EQ(int(c[2]), 128);

  const std::string dir = ::testing::TempDir() + "/classmask";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // Pixels 0, 1, 15, 20, 255 (a 5x1 mask), as a palette PNG with the VOC map
  // built the devkit's way, as a grayscale PNG, and an RGB PNG with a colour
  // no class has.
  const std::string py =
      "import sys\nfrom PIL import Image\nd = sys.argv[1]\n"
      "def cmap(i):\n    r = g = b = 0\n    for j in range(8):\n"
      "        r |= (i & 1) << (7 - j); g |= ((i >> 1) & 1) << (7 - j); b |= ((i >> 2) & 1) << (7 - j); i >>= 3\n"
      "    return [r, g, b]\n"
      "pal = sum((cmap(i) for i in range(256)), [])\n"
      "v = bytes([0, 1, 15, 20, 255])\n"
      "p = Image.frombytes('P', (5, 1), v); p.putpalette(pal); p.save(d + '/pal.png')\n"
      "Image.frombytes('L', (5, 1), v).save(d + '/gray.png')\n"
      "Image.frombytes('RGB', (2, 1), bytes([0, 0, 0, 10, 20, 30])).save(d + '/photo.png')\n";
  ASSERT_EQ(std::system(("/usr/bin/python3 -c \"" + py + "\" '" + dir + "'").c_str()), 0) << "needs python3-pil";
  const std::vector<uint8_t> want = {0, 1, 15, 20, 255};
  const ClassMask pal = read_class_mask(dir + "/pal.png");
  EXPECT_EQ(pal.width, 5);
  EXPECT_EQ(pal.height, 1);
  EXPECT_EQ(pal.labels, want);
  EXPECT_EQ(read_class_mask(dir + "/gray.png").labels, want);
  try {
    read_class_mask(dir + "/photo.png");
    ADD_FAILURE() << "an RGB photo was read as a mask";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("photo.png: pixel (1, 0) has colour (10, 20, 30), not in the VOC colour map"),
              std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace c8
