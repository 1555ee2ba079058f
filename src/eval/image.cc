#include "eval/image.h"

#include <stb/stb_image.h>  // implementation lives in libstb.so: no STB_IMAGE_IMPLEMENTATION

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "eval/limits.h"
#include "base/error.h"

namespace c8 {

namespace {

std::string describe_stb_failure(const char* reason) {
  std::string r = reason ? reason : "";
  if (r.empty()) return "cannot decode image (corrupt or truncated file)";
  if (r == "unknown image type") return "cannot decode image (unknown or unsupported image format)";
  return "cannot decode image (corrupt or truncated file: " + r + ")";
}

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
uint32_t be16(const uint8_t* p) { return uint32_t(p[0]) << 8 | p[1]; }

// The size a PNG / JPEG / BMP header declares, read before decoding (stb_image
// itself refuses very large PNGs but then reports "unknown image type").
bool header_size(const uint8_t* b, size_t n, uint64_t& w, uint64_t& h) {
  static const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n >= 24 && std::memcmp(b, png, 8) == 0 && std::memcmp(b + 12, "IHDR", 4) == 0) {
    w = be32(b + 16);
    h = be32(b + 20);
    return true;
  }
  if (n >= 26 && b[0] == 'B' && b[1] == 'M') {
    int32_t bw, bh;
    std::memcpy(&bw, b + 18, 4);
    std::memcpy(&bh, b + 22, 4);
    // Negative height = top-down rows; sizes as 64-bit magnitudes.
    w = uint64_t(bw < 0 ? -int64_t(bw) : int64_t(bw));
    h = uint64_t(bh < 0 ? -int64_t(bh) : int64_t(bh));
    return true;
  }
  if (n >= 4 && b[0] == 0xff && b[1] == 0xd8) {  // JPEG: walk the markers to the frame header
    size_t i = 2;
    while (i + 4 <= n) {
      if (b[i] != 0xff) return false;
      uint8_t m = b[i + 1];
      if (m == 0xff) {  // fill byte
        ++i;
        continue;
      }
      if (m == 0x01 || (m >= 0xd0 && m <= 0xd8)) {  // markers without a length
        i += 2;
        continue;
      }
      const bool sof = m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
      if (sof && i + 9 <= n) {
        h = be16(b + i + 5);
        w = be16(b + i + 7);
        return true;
      }
      i += 2 + be16(b + i + 2);
    }
  }
  return false;
}

// Only the formats calibr8 lists images by (PNG, JPEG, BMP, binary PGM/PPM)
// reach stb_image: its other decoders (Softimage PIC, PSD, HDR, TGA...) see
// no use here, and a hostile PIC file crashed Debian's libstb.
bool supported_magic(const uint8_t* b, size_t n) {
  if (n >= 8 && b[0] == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G') return true;
  if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return true;
  if (n >= 2 && b[0] == 'B' && b[1] == 'M') return true;
  if (n >= 2 && b[0] == 'P' && (b[1] == '5' || b[1] == '6')) return true;
  return false;
}

// stb_image decodes a PGM/PPM or an uncompressed BMP that is cut short
// without a word (the missing rows read as zeros): the bytes the header
// promises are counted here first. Returns "" when complete, else the reason.
std::string pnm_shortfall(const uint8_t* b, size_t n) {
  size_t i = 2;
  uint64_t v[3] = {0, 0, 0};  // width, height, maxval
  for (int k = 0; k < 3; ++k) {
    for (;;) {  // whitespace and comments before each number
      while (i < n && std::isspace(b[i])) ++i;
      if (i < n && b[i] == '#') {
        while (i < n && b[i] != '\n' && b[i] != '\r') ++i;
        continue;
      }
      break;
    }
    if (i >= n || !std::isdigit(b[i])) return "corrupt PGM/PPM header";
    while (i < n && std::isdigit(b[i])) {
      v[k] = v[k] * 10 + uint64_t(b[i++] - '0');
      if (v[k] > (uint64_t(1) << 31)) return "corrupt PGM/PPM header (number too large)";
    }
  }
  if (i >= n || !std::isspace(b[i])) return "corrupt PGM/PPM header";
  ++i;  // exactly one whitespace byte before the pixels
  if (v[2] == 0 || v[2] > 65535) return "PGM/PPM maxval " + std::to_string(v[2]) + " (must be 1..65535)";
  // 128-bit: two 31-bit sizes times 6 bytes do not fit in 64.
  const unsigned __int128 need = (unsigned __int128)(v[0] * v[1]) * (b[1] == '6' ? 3 : 1) * (v[2] > 255 ? 2 : 1);
  if (n - i < need)
    return "truncated file: " + std::to_string(n - i) + " of the " + std::to_string(uint64_t(std::min<unsigned __int128>(need, UINT64_MAX))) +
           " pixel bytes its header declares";
  return "";
}

std::string bmp_shortfall(const uint8_t* b, size_t n) {
  auto le32 = [&](size_t o) { return uint32_t(b[o]) | uint32_t(b[o + 1]) << 8 | uint32_t(b[o + 2]) << 16 | uint32_t(b[o + 3]) << 24; };
  if (n < 30) return "truncated BMP header";
  const uint64_t offset = le32(10), dib = le32(14);
  uint64_t w, h, bpp, compression = 0;
  if (dib == 12) {  // OS/2 core header: 16-bit sizes
    w = b[18] | b[19] << 8;
    h = b[20] | b[21] << 8;
    bpp = b[24] | b[25] << 8;
  } else {
    if (n < 34) return "truncated BMP header";
    const int32_t sw = int32_t(le32(18)), sh = int32_t(le32(22));
    w = uint64_t(sw < 0 ? -int64_t(sw) : int64_t(sw));
    h = uint64_t(sh < 0 ? -int64_t(sh) : int64_t(sh));
    bpp = b[28] | b[29] << 8;
    compression = le32(30);
  }
  // Uncompressed rows only (BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS): stb_image
  // refuses RLE but decoded an unknown compression code as raw rows, so a
  // 160-byte file declaring 67590x1280 took 9 s and 1.3 GB (found by fuzzing).
  if (compression != 0 && compression != 3 && compression != 6)
    return "BMP compression " + std::to_string(compression) + " is not supported; only uncompressed BMPs are read";
  if (bpp == 0 || bpp > 32) return "BMP with " + std::to_string(bpp) + " bits per pixel";
  const uint64_t row = (bpp * w + 31) / 32 * 4;
  const unsigned __int128 need = (unsigned __int128)row * h + offset;
  if (need > n)
    return "truncated file: " + std::to_string(n) + " bytes, its header declares " +
           std::to_string(uint64_t(std::min<unsigned __int128>(need, UINT64_MAX)));
  return "";
}

}  // namespace

Image decode_image(const uint8_t* data, size_t size, const std::string& name) {
  if (size == 0) throw Error(name + ": empty file");
  if (size > size_t(INT32_MAX)) throw Error(name + ": file too large to decode");
  if (!supported_magic(data, size))
    throw Error(name + ": cannot decode image (unknown or unsupported image format; PNG, JPEG, BMP, PGM/PPM are read)");
  uint64_t hw = 0, hh = 0;
  if (header_size(data, size, hw, hh)) check_image_pixels(hw, hh, name);
  const std::string short_by = data[0] == 'P' ? pnm_shortfall(data, size) : data[0] == 'B' ? bmp_shortfall(data, size) : "";
  if (!short_by.empty()) throw Error(name + ": cannot decode image (" + short_by + ")");
  int w = 0, h = 0, comp = 0;
  const auto* buf = reinterpret_cast<const stbi_uc*>(data);
  if (!stbi_info_from_memory(buf, int(size), &w, &h, &comp))
    throw Error(name + ": " + describe_stb_failure(stbi_failure_reason()));
  // stb_image's info reports a top-down BMP's height as negative.
  check_image_pixels(uint64_t(std::llabs(w)), uint64_t(std::llabs(h)), name);
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
  std::vector<uint8_t> bytes = read_file_limited(path);  // regular files only: /dev/zero would read forever
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
