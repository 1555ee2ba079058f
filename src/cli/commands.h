#pragma once
#include <CLI/CLI.hpp>

#include <functional>

namespace c8 {

// Each command file adds its sub-command and returns the action to run when it
// was chosen; the action returns the process exit code.
using CommandAction = std::function<int()>;
CommandAction add_info_command(CLI::App& app);
CommandAction add_run_command(CLI::App& app);
CommandAction add_evaluate_command(CLI::App& app);
CommandAction add_bench_command(CLI::App& app);
CommandAction add_calibrate_command(CLI::App& app);
CommandAction add_compare_command(CLI::App& app);
CommandAction add_serve_command(CLI::App& app);

}  // namespace c8
