// The stepwise subcommands: each registers itself on the CLI11 app and runs
// when selected. Adding a subcommand is one more entry in cli/main.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace stepwise::cli {

// Registers a subcommand; returns the function that runs it (its exit code).
using Command = std::function<int()>;
Command add_validate(CLI::App& app);
Command add_run(CLI::App& app);

}  // namespace stepwise::cli
