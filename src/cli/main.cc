// calibr8: FP32 ONNX model + sample images -> baseline, INT8 calibration, comparison.
#include <cstdio>
#include <vector>

#include "cli/commands.h"
#include "base/atomic_file.h"
#include "base/error.h"

// The error line: printable, and short enough to read (a model with 5000
// unsupported nodes would otherwise print a 300 KB line).
static int fail(const std::string& what, int code = 1) {
  std::string line = c8::printable(what);
  const size_t cap = 2000;
  if (line.size() > cap) line = line.substr(0, cap) + "... (" + std::to_string(line.size() - cap) + " more characters)";
  std::fprintf(stderr, "calibr8: error: %s\n", line.c_str());
  return code;
}

int main(int argc, char** argv) {
  c8::install_temp_file_cleanup();
  CLI::App app{"calibr8 — ONNX FP32 -> INT8 post-training calibration toolkit"};
  app.require_subcommand(1);
  std::vector<std::pair<CLI::App*, c8::CommandAction>> cmds;
  auto add = [&](c8::CommandAction (*f)(CLI::App&)) {
    size_t before = app.get_subcommands({}).size();
    auto action = f(app);
    cmds.emplace_back(app.get_subcommands({})[before], action);
  };
  add(c8::add_info_command);
  add(c8::add_run_command);
  add(c8::add_evaluate_command);
  add(c8::add_bench_command);
  add(c8::add_calibrate_command);
  add(c8::add_compare_command);
  add(c8::add_serve_command);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // One line like every other error (CLI11's own print adds a second one
    // and exits with its internal code); 2 = the command line was wrong.
    std::string where;
    for (auto* sub : app.get_subcommands({})) if (sub->parsed()) where = sub->get_name() + " ";
    return fail(std::string(e.what()) + " (see calibr8 " + where + "--help)", 2);
  }
  try {
    for (auto& [sub, action] : cmds)
      if (sub->parsed()) return action();
  } catch (const c8::Error& e) {
    return fail(e.what());
  } catch (const std::bad_alloc&) {
    return fail("out of memory");
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return 0;
}
