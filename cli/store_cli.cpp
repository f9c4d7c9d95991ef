#include "cli/store_cli.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <vector>

#include "cli/common.h"
#include "cli/output.h"
#include "storage/store.h"

namespace stepwise::cli {

void add_store_options(CLI::App* cmd, StoreArgs& args, bool with_output) {
  cmd->add_option("--db", args.db, "Database file (default: $STEPWISE_DB, else ./stepwise.db)");
  if (with_output) {
    cmd->add_option("--output", args.output, "json (as the AWS CLI prints it) or table")
        ->check(CLI::IsMember({"json", "table"}));
  }
}

std::string database_path(const StoreArgs& args) {
  if (!args.db.empty()) return args.db;
  if (const char* env = std::getenv("STEPWISE_DB"); env && *env) return env;
  return "stepwise.db";
}

std::unique_ptr<Service> open_service(const StoreArgs& args, bool create) {
  const std::string path = database_path(args);
  std::error_code ec;
  if (!create && !std::filesystem::exists(path, ec)) {
    std::cerr << "stepwise: database '" << path
              << "' does not exist (create-state-machine creates it; --db or STEPWISE_DB choose another)\n";
    return nullptr;
  }
  storage::SqliteOptions options;
  options.create_if_missing = create;
  auto store = storage::open_sqlite(path, options);
  if (!store) {
    const auto& s = store.status();
    std::cerr << "stepwise: cannot use database '" << path << "': " << s.message();
    switch (s.code()) {
      case storage::Code::kNotOurs:
      case storage::Code::kCorrupt:
      case storage::Code::kNewerSchema:
        std::cerr << " (the file was left untouched; --db or STEPWISE_DB choose another database)";
        break;
      default:
        break;
    }
    std::cerr << "\n";
    return nullptr;
  }
  return std::make_unique<Service>(std::shared_ptr<storage::Store>(std::move(store).value()));
}

std::optional<std::string> parameter_value(std::string_view option, const std::string& text) {
  for (std::string_view scheme : {"file://", "fileb://"}) {
    if (text.rfind(scheme, 0) != 0) continue;
    const std::string path = text.substr(scheme.size());
    std::string err;
    auto content = read_file(path, &err);
    if (!content) {
      std::cerr << "\nError parsing parameter '" << option << "': Unable to load paramfile " << text << ": " << err
                << "\n";
    }
    return content;
  }
  return text;
}

std::string state_machine_arn_of(const Service& service, const std::string& text) {
  if (text.rfind("arn:", 0) == 0) return text;
  return state_machine_arn(service.options(), text);
}

std::optional<std::string> execution_arn_of(Service& service, const std::string& text, std::string_view operation,
                                            int* exit_code) {
  if (text.rfind("arn:", 0) == 0) return text;
  if (auto colon = text.find(':'); colon != std::string::npos) {
    return execution_arn(service.options(), text.substr(0, colon), text.substr(colon + 1));
  }
  // A bare name: look for it under every state machine (one lookup each).
  std::vector<std::string> found;
  std::string token;
  do {
    json::object request;
    if (!token.empty()) request["nextToken"] = token;
    auto page = service.list_state_machines(request);
    if (!page.ok()) {
      print_service_error("ListStateMachines", page.error());
      *exit_code = kExitFailed;
      return std::nullopt;
    }
    for (const auto& m : page.response().at("stateMachines").get_array()) {
      std::string arn = execution_arn(service.options(), m.at("name").get_string(), text);
      if (service.describe_execution({{"executionArn", arn}}).ok()) found.push_back(arn);
    }
    const auto* next = page.response().if_contains("nextToken");
    token = next ? std::string(next->get_string()) : "";
  } while (!token.empty());
  if (found.size() == 1) return found.front();
  if (found.empty()) {
    print_service_error(operation, {"ExecutionDoesNotExist", "Execution Does Not Exist: '" + text + "'"});
    *exit_code = kExitFailed;
    return std::nullopt;
  }
  std::cerr << "stepwise: several executions are named '" << text << "'; give one of their ARNs:\n";
  for (const auto& arn : found) std::cerr << "  " << arn << "\n";
  *exit_code = kExitUsage;
  return std::nullopt;
}

ServiceResult call_all_pages(Service& service, std::string_view operation, json::object request,
                             std::string_view list) {
  json::array all;
  while (true) {
    auto page = service.call(operation, request);
    if (!page.ok()) return page;
    auto& items = page.response()[list].as_array();
    for (auto& item : items) all.push_back(std::move(item));
    const auto* next = page.response().if_contains("nextToken");
    if (!next) {
      page.response()[list] = std::move(all);
      return page;
    }
    request["nextToken"] = *next;
  }
}

}  // namespace stepwise::cli
