// stepwise functions stats [NAME]: invocation figures from the database, as
// Lambda's metrics would show them.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/store_cli.h"
#include "runtime/invocation_stats.h"

namespace stepwise::cli {
namespace {

struct StatsArgs {
  std::string name;
  StoreArgs store;
};

json::object stats_json(const FunctionStats& s) {
  return json::object{{"FunctionName", s.function_name},
                      {"Invocations", s.invocations},
                      {"Errors", s.errors},
                      {"Throttles", s.throttles},
                      {"ColdStarts", s.cold_starts},
                      {"ColdStartRate", s.cold_start_rate},
                      {"DurationP50Ms", s.p50_duration_ms},
                      {"DurationP99Ms", s.p99_duration_ms},
                      {"GbSeconds", s.gb_seconds},
                      {"EstimatedCostUsd", s.estimated_cost_usd}};
}

void print_table(const std::vector<FunctionStats>& all) {
  std::printf("%-24s %11s %7s %9s %6s %10s %10s %12s %12s\n", "FUNCTION", "INVOCATIONS", "ERRORS", "THROTTLES", "COLD%",
              "P50(ms)", "P99(ms)", "GB-SECONDS", "COST(USD)");
  for (const auto& s : all) {
    std::printf("%-24s %11lld %7lld %9lld %6.1f %10.2f %10.2f %12.6f %12.8f\n", s.function_name.c_str(),
                static_cast<long long>(s.invocations), static_cast<long long>(s.errors),
                static_cast<long long>(s.throttles), s.cold_start_rate * 100, s.p50_duration_ms, s.p99_duration_ms,
                s.gb_seconds, s.estimated_cost_usd);
  }
}

int stats_command(const StatsArgs& a) {
  auto service = open_service(a.store, /*create=*/false);
  if (!service) return kExitUsage;
  auto records = service->store()->list_invocations(a.name);
  if (!records.ok()) {
    std::cerr << "stepwise: cannot read the invocations: " << records.status().to_string() << "\n";
    return kExitFailed;
  }
  auto stats = summarize_invocations(*records);
  if (!a.name.empty() && stats.empty()) {
    std::cerr << "stepwise: no invocations of " << a.name << " recorded in " << database_path(a.store) << "\n";
    return kExitFailed;
  }
  if (a.store.output == "table") {
    print_table(stats);
  } else {
    json::array list;
    for (const auto& s : stats) list.push_back(stats_json(s));
    std::cout << to_pretty_json(json::object{{"Functions", std::move(list)}}) << "\n";
  }
  return kExitOk;
}

}  // namespace

Command add_functions(CLI::App& app) {
  auto* group = app.add_subcommand("functions", "Functions of the functions file: accounting");
  group->require_subcommand(1);
  auto a = std::make_shared<StatsArgs>();
  auto* stats = group->add_subcommand(
      "stats",
      "Invocations, errors, throttles, cold-start rate, p50/p99 duration, GB-seconds and a cost estimate "
      "at Lambda's public prices, per function, from the invocations recorded in the database");
  stats->add_option("name", a->name, "Only this function");
  add_store_options(stats, a->store);
  stats->footer("Exit status: 0 ok; 1 nothing recorded for NAME, or the database could not be read; 2 no database.");
  return [a]() { return stats_command(*a); };
}

}  // namespace stepwise::cli
