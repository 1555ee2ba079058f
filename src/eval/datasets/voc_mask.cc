#include "eval/datasets/voc_mask.h"

#include <unordered_map>

#include "base/error.h"
#include "eval/image.h"

namespace c8 {

void voc_color(int i, uint8_t rgb[3]) {
  // The VOC devkit's labelcolormap: bit j of the index's three interleaved
  // bit streams goes to bit 7 - j of r, g and b.
  int r = 0, g = 0, b = 0, c = i;
  for (int j = 0; j < 8; ++j) {
    r |= ((c >> 0) & 1) << (7 - j);
    g |= ((c >> 1) & 1) << (7 - j);
    b |= ((c >> 2) & 1) << (7 - j);
    c >>= 3;
  }
  rgb[0] = uint8_t(r), rgb[1] = uint8_t(g), rgb[2] = uint8_t(b);
}

ClassMask read_class_mask(const std::string& path) {
  const Image img = load_image(path);
  ClassMask m;
  m.width = img.width;
  m.height = img.height;
  const size_t n = size_t(img.width) * size_t(img.height);
  m.labels.resize(n);
  if (img.channels == 1) {
    m.labels.assign(img.pixels.begin(), img.pixels.end());
    return m;
  }
  if (img.channels != 3) throw Error(path + ": a mask must be a grayscale or palette PNG");
  std::unordered_map<uint32_t, uint8_t> index;
  for (int i = 0; i < 256; ++i) {
    uint8_t c[3];
    voc_color(i, c);
    index.emplace((uint32_t(c[0]) << 16) | (uint32_t(c[1]) << 8) | c[2], uint8_t(i));
  }
  for (size_t p = 0; p < n; ++p) {
    const uint8_t* c = img.pixels.data() + 3 * p;
    auto it = index.find((uint32_t(c[0]) << 16) | (uint32_t(c[1]) << 8) | c[2]);
    if (it == index.end())
      throw Error(path + ": pixel (" + std::to_string(p % size_t(img.width)) + ", " + std::to_string(p / size_t(img.width)) +
                  ") has colour (" + std::to_string(c[0]) + ", " + std::to_string(c[1]) + ", " + std::to_string(c[2]) +
                  "), not in the VOC colour map: not a class mask");
    m.labels[p] = it->second;
  }
  return m;
}

}  // namespace c8
