#include "eval/image.h"

#include <stb/stb_image.h>  // implementation lives in libstb.so: no STB_IMAGE_IMPLEMENTATION

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "runtime/error.h"

namespace c8 {

namespace {

std::string describe_stb_failure(const char* reason) {
  std::string r = reason ? reason : "";
  if (r.empty()) return "cannot decode image (corrupt or truncated file)";
  if (r == "unknown image type") return "cannot decode image (unknown or unsupported image format)";
  return "cannot decode image (corrupt or truncated file: " + r + ")";
}

}  // namespace

Image decode_image(const uint8_t* data, size_t size, const std::string& name) {
  if (size == 0) throw Error(name + ": empty file");
  if (size > size_t(INT32_MAX)) throw Error(name + ": file too large to decode");
  int w = 0, h = 0, comp = 0;
  const auto* buf = reinterpret_cast<const stbi_uc*>(data);
  if (!stbi_info_from_memory(buf, int(size), &w, &h, &comp))
    throw Error(name + ": " + describe_stb_failure(stbi_failure_reason()));
  const int want = comp <= 2 ? 1 : 3;  // gray(+alpha) -> gray, RGB(A) -> RGB
  std::unique_ptr<stbi_uc, void (*)(void*)> px(
      stbi_load_from_memory(buf, int(size), &w, &h, &comp, want), stbi_image_free);
  if (!px) throw Error(name + ": " + describe_stb_failure(stbi_failure_reason()));
  if (w <= 0 || h <= 0) throw Error(name + ": image has no pixels");
  Image img;
  img.width = w;
  img.height = h;
  img.channels = want;
  img.pixels.assign(px.get(), px.get() + size_t(w) * size_t(h) * size_t(want));
  return img;
}

Image load_image(const std::string& path) {
  errno = 0;
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) throw Error(path + ": cannot open (" + std::strerror(errno ? errno : ENOENT) + ")");
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, f.get())) > 0) bytes.insert(bytes.end(), chunk, chunk + n);
  if (std::ferror(f.get())) throw Error(path + ": read error (" + std::strerror(errno) + ")");
  return decode_image(bytes.data(), bytes.size(), path);
}

Image image_from_gray(const uint8_t* data, int w, int h) {
  if (w <= 0 || h <= 0) throw Error("image_from_gray: invalid size " + std::to_string(w) + "x" + std::to_string(h));
  Image img;
  img.width = w;
  img.height = h;
  img.channels = 1;
  img.pixels.assign(data, data + size_t(w) * size_t(h));
  return img;
}

}  // namespace c8
