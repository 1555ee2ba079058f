#pragma once
// Workbench jobs run calibr8's own commands in child processes, so a job that
// crashes or hangs never takes the server down: its stdout and stderr go to
// files, and the server only waits, cancels (SIGTERM, then SIGKILL) or times
// it out.
#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace c8 {

struct ChildResult {
  int exit_code = -1;        // the child's status, or -1 when it died of a signal
  bool cancelled = false;    // `cancel` was set while it ran
  bool timed_out = false;
  std::string out, err;      // what it wrote (the files, read back)
};

// Runs `exe args...` with stdout / stderr in log_prefix + ".out" / ".err",
// and C8_PROGRESS_LINES=1 in its environment (base/progress_lines.h);
// `on_tick`, when given, is called about 4 times a second while it runs.
// Throws c8::Error when the child cannot be started.
ChildResult run_child(const std::string& exe, const std::vector<std::string>& args, const std::string& log_prefix,
                      const std::atomic<bool>& cancel, double timeout_seconds,
                      const std::function<void()>& on_tick = nullptr);

// The last non-empty line of a child's stderr that is not a progress line
// (calibr8's one-line error).
std::string last_line(const std::string& text);

// The last `max_bytes` of a file ("" when it cannot be read).
std::string file_tail(const std::string& path, size_t max_bytes);

}  // namespace c8
