#pragma once
// Every file calibr8 writes goes through write_file_atomic: a temp file in
// the target's folder, fsync, rename over the target, fsync of the folder.
// Temp files are removed on failure and when SIGINT / SIGTERM / SIGHUP
// arrives mid-write: an interrupted save leaves neither a partial output nor
// an OUT.tmp.* file behind.
#include <string>

namespace c8 {

// Installs the handlers (once; the CLI's main calls it). After cleaning up,
// the signal is re-raised with its default action, so the exit status still
// says how the process ended.
void install_temp_file_cleanup();

// Writes `content` to `path` atomically (mode 0666 minus umask). Throws
// c8::Error "<path>: cannot write: <reason>"; `path` is untouched on failure.
void write_file_atomic(const std::string& path, const std::string& content);

// Registers a temp file for the duration of a write (RAII).
class TempFileGuard {
 public:
  explicit TempFileGuard(const std::string& path);
  ~TempFileGuard();
  TempFileGuard(const TempFileGuard&) = delete;
  TempFileGuard& operator=(const TempFileGuard&) = delete;

 private:
  int slot_ = -1;
};

}  // namespace c8
