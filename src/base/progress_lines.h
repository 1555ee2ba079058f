#pragma once
// How a calibr8 command tells a parent process (calibr8 serve) how far it has
// got: with C8_PROGRESS_LINES set and stderr not a terminal, each progress
// update is one line "c8-progress<TAB>done<TAB>total<TAB>label" on stderr,
// where a terminal would get a progress bar.
#include <cstddef>
#include <optional>
#include <string>

namespace c8 {

inline constexpr const char* kProgressLinesEnv = "C8_PROGRESS_LINES";
inline constexpr const char* kProgressLinePrefix = "c8-progress\t";

struct ProgressLine {
  size_t done = 0, total = 0;
  std::string label;
};

inline bool is_progress_line(const std::string& line) { return line.rfind(kProgressLinePrefix, 0) == 0; }

// On in a child when the variable is set to anything but "" or "0".
inline bool progress_lines_requested(const char* value) { return value && *value && std::string(value) != "0"; }

namespace progress_detail {
inline bool digits(const std::string& s) { return !s.empty() && s.size() < 20 && s.find_first_not_of("0123456789") == std::string::npos; }
}  // namespace progress_detail

// One line "c8-progress\tDONE\tTOTAL\tLABEL" (a trailing \r dropped), or nullopt.
inline std::optional<ProgressLine> parse(std::string line) {
  if (!is_progress_line(line)) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const size_t a = std::string(kProgressLinePrefix).size();
  const size_t t1 = line.find('\t', a), t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
  if (t2 == std::string::npos) return std::nullopt;
  const std::string done = line.substr(a, t1 - a), total = line.substr(t1 + 1, t2 - t1 - 1);
  if (!progress_detail::digits(done) || !progress_detail::digits(total)) return std::nullopt;
  ProgressLine p;
  p.done = std::stoull(done);
  p.total = std::stoull(total);
  p.label = line.substr(t2 + 1);
  return p;
}

// The last complete, well-formed progress line in `text` (a tail of a child's stderr).
inline std::optional<ProgressLine> last_progress_line(const std::string& text) {
  size_t end = text.rfind('\n');
  while (end != std::string::npos && end > 0) {
    size_t start = text.rfind('\n', end - 1);
    start = start == std::string::npos ? 0 : start + 1;
    const std::string line = text.substr(start, end - start);
    if (auto p = parse(line)) return p;  // a malformed line: look further back
    if (start == 0) break;
    end = start - 1;
  }
  return std::nullopt;
}

}  // namespace c8
