#include "eval/limits.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"

namespace c8 {

InputLimits& input_limits() {
  static InputLimits l;
  return l;
}

void check_image_pixels(uint64_t width, uint64_t height, const std::string& name) {
  const uint64_t lim = input_limits().max_image_pixels;
  if (lim == 0 || width == 0 || height == 0) return;
  if (width > lim / height)
    throw Error(name + ": image is too large: " + std::to_string(width) + "x" + std::to_string(height) + " (" +
                std::to_string(width * height) + " pixels), more than the limit of " + std::to_string(lim) +
                " (raise it with --max-image-pixels, 0 = no limit)");
}

void check_file_bytes(uint64_t bytes, const std::string& name, const std::string& what) {
  const uint64_t lim = input_limits().max_file_bytes;
  if (lim == 0 || bytes <= lim) return;
  throw Error(name + ": " + what + " is " + std::to_string(bytes >> 20) + " MB, more than the limit of " +
              std::to_string(lim >> 20) + " MB (raise it with --max-file-mb, 0 = no limit)");
}

std::vector<uint8_t> read_file_limited(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) throw Error(path + ": cannot read (" + std::strerror(errno) + ")");
  if (S_ISDIR(st.st_mode)) throw Error(path + ": is a folder, not a file");
  if (!S_ISREG(st.st_mode)) throw Error(path + ": not a regular file (a device, FIFO or socket)");
  check_file_bytes(uint64_t(st.st_size), path, "the file");
  std::vector<uint8_t> bytes(size_t(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(path + ": read error (" + std::strerror(errno) + ")");
    if (n == 0) break;  // shrank while reading
    done += size_t(n);
  }
  bytes.resize(done);
  return bytes;
}

}  // namespace c8
