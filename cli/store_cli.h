// What the commands over the database share: the --db and --output options,
// opening the database, and reading names where ARNs are expected.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/service.h"

namespace stepwise::cli {

struct StoreArgs {
  std::string db;               // empty: $STEPWISE_DB, else ./stepwise.db
  std::string output = "json";  // "json" or "table"
};

// Adds --db (and --output unless with_output is false) to a subcommand.
void add_store_options(CLI::App* cmd, StoreArgs& args, bool with_output = true);

// --db, else $STEPWISE_DB, else ./stepwise.db.
std::string database_path(const StoreArgs& args);

// Opens the database and the service over it. When the file cannot be used
// (not a Stepwise database, damaged, written by a newer Stepwise, or absent
// and create is false) prints why, naming the file, and returns null; such a
// file is never modified.
std::unique_ptr<Service> open_service(const StoreArgs& args, bool create);

// The value of a parameter that may name a file as the AWS CLI allows:
// "file://PATH" (or "fileb://PATH") reads the file; anything else is the
// value itself. Prints the AWS CLI's complaint and returns nullopt when the
// file cannot be read.
std::optional<std::string> parameter_value(std::string_view option, const std::string& text);

// A state machine given by ARN or by name ("Hello" or, for a version, "Hello:2").
std::string state_machine_arn_of(const Service& service, const std::string& text);

// An execution given by ARN, by "MACHINE:NAME", or by its name alone (found
// among the state machines; refused when several machines have one so named).
// Prints the problem and returns the exit code when it cannot be resolved.
std::optional<std::string> execution_arn_of(Service& service, const std::string& text, std::string_view operation,
                                            int* exit_code);

// Prints a response as the AWS CLI does (or as a table with --output table),
// or the error; returns the exit code.
int print_result(const StoreArgs& args, std::string_view operation, const ServiceResult& r);

// Calls a list operation page after page and joins the pages under `list`
// (the AWS CLI does so unless told --max-results or --next-token).
ServiceResult call_all_pages(Service& service, std::string_view operation, json::object request, std::string_view list);

}  // namespace stepwise::cli
