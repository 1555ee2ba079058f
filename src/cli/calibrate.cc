// calibr8 calibrate: placeholder until the command lands (owned by its implementer).
#include "cli/commands.h"
#include "runtime/error.h"

namespace c8 {

CommandAction add_calibrate_command(CLI::App& app) {
  app.add_subcommand("calibrate", "(not implemented yet)");
  return []() -> int { throw Error("'calibrate' is not implemented yet"); };
}

}  // namespace c8
