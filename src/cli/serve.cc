// calibr8 serve: the web workbench's server (src/server/workbench.h).
#include <unistd.h>

#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "base/error.h"
#include "cli/commands.h"
#include "server/workbench.h"

namespace c8 {

namespace {

std::string default_data_dir() {
  const char* xdg = std::getenv("XDG_DATA_HOME");
  if (xdg && *xdg) return std::string(xdg) + "/calibr8/workbench";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.local/share/calibr8/workbench";
}

bool loopback(const std::string& host) { return host == "127.0.0.1" || host == "localhost" || host == "::1"; }

std::string new_token() {
  std::random_device rd;
  std::string t;
  const char* hex = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) t += hex[rd() % 16];
  return t;
}

}  // namespace

CommandAction add_serve_command(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand("serve", "Web workbench: models, data sets, projects, calibration jobs (REST API, docs/workbench-api.md)");
  cmd->add_option("--host", o->host, "address to listen on (default 127.0.0.1; any other needs a token)");
  cmd->add_option("--port", o->port, "port (default 8080; 0: any free port, printed)")->check(CLI::Range(0, 65535));
  cmd->add_option("--data-dir", o->data_dir, "where models, data sets and the SQLite state live (default $XDG_DATA_HOME/calibr8/workbench)");
  cmd->add_option("--token", o->token, "token every request must carry (Authorization: Bearer TOKEN); generated when --host is not loopback");
  return [cmd, o]() {
    (void)cmd;
    if (o->data_dir.empty()) o->data_dir = default_data_dir();
    std::error_code ec;
    o->exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    if (ec) throw Error("serve: cannot find its own binary (/proc/self/exe): " + ec.message());
    if (!loopback(o->host) && o->token.empty()) o->token = new_token();
    // SIGINT / SIGTERM stop the server from a thread of its own (stop()
    // takes locks, which a signal handler must not): blocked here, before any
    // thread starts, so every thread inherits the mask and sigwait gets them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    Workbench wb(*o);
    const int port = wb.bind();
    std::printf("calibr8 workbench on http://%s:%d  (data: %s)\n", o->host.c_str(), port, o->data_dir.c_str());
    if (!o->token.empty()) std::printf("token: %s\n", o->token.c_str());
    std::fflush(stdout);
    std::thread waiter([&] {
      int sig = 0;
      sigwait(&stop_signals, &sig);
      wb.stop();
    });
    wb.run();
    pthread_kill(waiter.native_handle(), SIGTERM);  // wakes the waiter if run() ended otherwise
    waiter.join();
    return 0;
  };
}

}  // namespace c8
