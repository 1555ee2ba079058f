// calibr8: FP32 ONNX model + sample images -> baseline, INT8 calibration, comparison.
#include <cstdio>
#include <vector>

#include "cli/commands.h"
#include "runtime/atomic_file.h"
#include "runtime/error.h"

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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, action] : cmds)
      if (sub->parsed()) return action();
  } catch (const c8::Error& e) {
    std::fprintf(stderr, "calibr8: error: %s\n", c8::printable(e.what()).c_str());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "calibr8: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "calibr8: error: %s\n", c8::printable(e.what()).c_str());
    return 1;
  }
  return 0;
}
