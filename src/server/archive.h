#pragma once
// Safe extraction of an uploaded data set archive (.zip, .tar, .tar.gz, ...:
// libarchive detects the format). Refused, with nothing left behind: absolute
// paths, ".." components, links and device files, more than max_files
// entries, and more than max_bytes of expanded data (counted as it is
// written, so a zip bomb stops at the limit).
#include <cstddef>
#include <string>

namespace c8 {

struct ExtractLimits {
  size_t max_bytes = size_t(4) << 30;
  size_t max_files = 200000;
};

// Extracts `data` into the folder `dest` (created; must not exist). Throws
// c8::Error "<name>: <reason>" and removes `dest` on any failure.
void extract_archive(const std::string& data, const std::string& dest, const std::string& name,
                     const ExtractLimits& lim = {});

}  // namespace c8
