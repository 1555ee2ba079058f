#pragma once
// Workbench jobs run calibr8's own commands in child processes, so a job that
// crashes or hangs never takes the server down: its stdout and stderr go to
// files, and the server only waits, cancels (SIGTERM, then SIGKILL) or times
// it out.
#include <atomic>
#include <string>
#include <vector>

namespace c8 {

struct ChildResult {
  int exit_code = -1;        // the child's status, or -1 when it died of a signal
  bool cancelled = false;    // `cancel` was set while it ran
  bool timed_out = false;
  std::string out, err;      // what it wrote (the files, read back)
};

// Runs `exe args...` with stdout / stderr in log_prefix + ".out" / ".err".
// Throws c8::Error when the child cannot be started.
ChildResult run_child(const std::string& exe, const std::vector<std::string>& args, const std::string& log_prefix,
                      const std::atomic<bool>& cancel, double timeout_seconds);

// The last non-empty line of a child's stderr (calibr8's one-line error).
std::string last_line(const std::string& text);

}  // namespace c8
