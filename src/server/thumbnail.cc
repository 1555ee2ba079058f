#include "server/thumbnail.h"

#include <stb/stb_image_resize.h>  // implementations live in libstb.so
#include <stb/stb_image_write.h>

#include <algorithm>

#include "base/error.h"

namespace c8 {

std::string thumbnail_jpeg(const Image& img, int max_side) {
  if (img.empty() || img.width <= 0 || img.height <= 0) throw Error("thumbnail: empty image");
  if (max_side < 1) throw Error("thumbnail: max_side must be positive");
  const double scale = std::min(1.0, double(max_side) / double(std::max(img.width, img.height)));
  const int w = std::max(1, int(img.width * scale + 0.5)), h = std::max(1, int(img.height * scale + 0.5));
  std::vector<uint8_t> small(size_t(w) * size_t(h) * size_t(img.channels));
  if (!stbir_resize_uint8(img.pixels.data(), img.width, img.height, 0, small.data(), w, h, 0, img.channels))
    throw Error("thumbnail: cannot scale the image");
  std::string out;
  auto sink = [](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size_t(size)); };
  if (!stbi_write_jpg_to_func(sink, &out, w, h, img.channels, small.data(), 80) || out.empty())
    throw Error("thumbnail: cannot encode the image");
  return out;
}

}  // namespace c8
