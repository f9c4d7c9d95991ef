// stepwise validate FILE...: every problem of every file, each with a JSON pointer.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"

namespace stepwise::cli {

Command add_validate(CLI::App& app) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand("validate", "Check state machine definitions and report every problem.");
  cmd->add_option("files", *files, "Definition files (ASL JSON)")->required();
  cmd->footer(
      "Prints 'FILE: valid' or one line per problem: 'FILE: /json/pointer: message'.\n"
      "Exit status: 0 all valid, 1 some definition invalid, 2 a file unreadable or not JSON.");
  return [files]() {
    int rc = kExitOk;
    for (const auto& f : *files) {
      bool syntax = false;
      auto def = load_definition(f, &syntax);
      if (def) {
        std::cout << f << ": valid\n";
      } else if (syntax) {
        rc = kExitUsage;
      } else if (rc == kExitOk) {
        rc = kExitFailed;
      }
    }
    return rc;
  };
}

}  // namespace stepwise::cli
