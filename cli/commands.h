// The stepwise subcommands: each registers itself on the CLI11 app and runs
// when selected. Adding a subcommand is one more entry in cli/main.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <string>

namespace stepwise::cli {

// Registers a subcommand; returns the function that runs it (its exit code).
using Command = std::function<int()>;
Command add_validate(CLI::App& app);
Command add_run(CLI::App& app);
// The aws-style commands over the database (create-state-machine, start-execution,
// describe-execution, ...) and `timeline`, each entered in `commands` by name.
void add_store_commands(CLI::App& app, std::map<std::string, Command>& commands);
Command add_timeline(CLI::App& app);
// send-task-success/-failure/-heartbeat and the activity commands (cli/task_commands.cpp).
void add_task_commands(CLI::App& app, std::map<std::string, Command>& commands);
Command add_worker(CLI::App& app);
Command add_invoke(CLI::App& app);
Command add_functions(CLI::App& app);  // `functions stats`

}  // namespace stepwise::cli
