#include "server/child.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/error.h"
#include "base/progress_lines.h"

extern char** environ;

namespace c8 {

namespace {

std::string slurp_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

std::string last_line(const std::string& text) {
  size_t end = text.size();
  for (;;) {
    end = text.find_last_not_of(" \r\n\t", end == 0 ? 0 : end - 1);
    if (end == std::string::npos) return "";
    const size_t nl = text.rfind('\n', end);
    const size_t start = nl == std::string::npos ? 0 : nl + 1;
    std::string line = text.substr(start, end - start + 1);
    if (!is_progress_line(line)) return line;
    if (start == 0) return "";
    end = start;
  }
}

std::string file_tail(const std::string& path, size_t max_bytes) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) return "";
  const std::streamoff size = f.tellg();
  const std::streamoff from = size > std::streamoff(max_bytes) ? size - std::streamoff(max_bytes) : 0;
  f.seekg(from);
  std::string s(size_t(size - from), '\0');
  f.read(s.data(), std::streamsize(s.size()));
  s.resize(size_t(f.gcount()));
  return s;
}

ChildResult run_child(const std::string& exe, const std::vector<std::string>& args, const std::string& log_prefix,
                      const std::atomic<bool>& cancel, double timeout_seconds,
                      const std::function<void()>& on_tick) {
  const std::string out_path = log_prefix + ".out", err_path = log_prefix + ".err";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> all{exe};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The server blocks SIGINT / SIGTERM in its threads (serve.cc waits for
  // them); a job must start with them unblocked and at their defaults, or a
  // cancel (SIGTERM) would wait for the SIGKILL.
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &defaults);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  // The job reports its progress as lines on stderr (base/progress_lines.h).
  const std::string progress_env = std::string(kProgressLinesEnv) + "=1";
  std::vector<char*> envp;
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, progress_env.c_str(), std::strlen(kProgressLinesEnv) + 1) != 0) envp.push_back(*e);
  envp.push_back(const_cast<char*>(progress_env.c_str()));
  envp.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, exe.c_str(), &fa, &at, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (rc != 0) throw Error(exe + ": cannot start a job process: " + std::strerror(rc));
  ChildResult r;
  const auto t0 = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point term_sent{};
  bool sent = false;
  int status = 0;
  auto last_tick = t0;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!sent && (cancel.load() || t > timeout_seconds)) {
      r.cancelled = cancel.load();
      r.timed_out = !r.cancelled;
      kill(pid, SIGTERM);  // calibr8 removes its temp files on SIGTERM
      term_sent = std::chrono::steady_clock::now();
      sent = true;
    }
    if (sent && std::chrono::steady_clock::now() - term_sent > std::chrono::seconds(5)) kill(pid, SIGKILL);
    if (on_tick && std::chrono::steady_clock::now() - last_tick > std::chrono::milliseconds(250)) {
      last_tick = std::chrono::steady_clock::now();
      try {
        on_tick();
      } catch (...) {  // never leave the child running unwatched
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        throw;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp_file(out_path);
  r.err = slurp_file(err_path);
  return r;
}

}  // namespace c8
