// calibr8 compare: placeholder until the command lands (owned by its implementer).
#include "cli/commands.h"
#include "runtime/error.h"

namespace c8 {

CommandAction add_compare_command(CLI::App& app) {
  app.add_subcommand("compare", "(not implemented yet)");
  return []() -> int { throw Error("'compare' is not implemented yet"); };
}

}  // namespace c8
