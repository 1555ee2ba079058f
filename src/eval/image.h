#pragma once
// Decoded 8-bit images (stb_image). Pixels are HWC interleaved; channels is 1
// (gray) or 3 (RGB). Alpha is dropped (RGBA -> RGB, gray+alpha -> gray) and
// 16-bit PNG/PGM is reduced to 8 bits by stb_image.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace c8 {

struct Image {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;  // height * width * channels, HWC interleaved

  bool empty() const { return pixels.empty(); }
  uint8_t at(int y, int x, int c) const {
    return pixels[(size_t(y) * size_t(width) + size_t(x)) * size_t(channels) + size_t(c)];
  }
};

// Decodes JPEG, PNG, BMP, PGM/PPM (anything stb_image reads). Throws c8::Error
// "<path>: <reason>" (one line) for unreadable, empty, corrupt or truncated files.
Image load_image(const std::string& path);
// Same, from an encoded buffer; `name` is used in error messages.
Image decode_image(const uint8_t* data, size_t size, const std::string& name);
// Copies a w x h 8-bit gray buffer (row-major) into a 1-channel Image.
Image image_from_gray(const uint8_t* data, int w, int h);

}  // namespace c8
