#pragma once
// Limits on what calibr8 reads from files the user points it at, so that a
// hostile or mistaken input (/dev/zero, a PNG header claiming 30000x30000, a
// gzip bomb posing as an IDX file) gets one clear line instead of a hang or
// gigabytes of memory. Flags raise them (--max-image-pixels, --max-file-mb).
#include <cstdint>
#include <string>
#include <vector>

namespace c8 {

struct InputLimits {
  // Pillow's MAX_IMAGE_PIXELS default (1024^3 / 4 / 3): the convention users know.
  uint64_t max_image_pixels = 89478485;
  uint64_t max_file_bytes = uint64_t(2) << 30;  // one image or data file, decompressed
};
InputLimits& input_limits();  // process-wide; 0 = no limit

// Throws c8::Error "<name>: image is WxH (N pixels), more than the limit of M
// (raise it with --max-image-pixels, 0 = no limit)" when over the limit.
void check_image_pixels(uint64_t width, uint64_t height, const std::string& name);

// Throws when `bytes` is over max_file_bytes ("<name>: <what> is N MB, more
// than the limit of M MB (raise it with --max-file-mb)").
void check_file_bytes(uint64_t bytes, const std::string& name, const std::string& what);

// Reads a whole regular file (not a device, FIFO or folder) within the limit.
std::vector<uint8_t> read_file_limited(const std::string& path);

}  // namespace c8
