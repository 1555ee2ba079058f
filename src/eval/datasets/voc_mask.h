#pragma once
// Segmentation masks, one PNG per image: class indices with 255 = void
// (ignored). Either a one-channel (grayscale) PNG holding the indices, or a
// PASCAL VOC palette PNG: the PNG decoder hands its palette colours over, and
// they are mapped back to indices through the VOC colour map (the devkit's
// bit-spreading labelcolormap: index 255 = (224, 224, 192), the void border).
#include <cstdint>
#include <string>
#include <vector>

namespace c8 {

struct ClassMask {
  int width = 0, height = 0;
  std::vector<uint8_t> labels;  // height * width, row-major
};

// A colour outside the VOC map (an RGB photo given as a mask, another
// palette) throws c8::Error naming the file and the pixel.
ClassMask read_class_mask(const std::string& path);

// The VOC colour of class index i (0..255), as {r, g, b}.
void voc_color(int i, uint8_t rgb[3]);

}  // namespace c8
