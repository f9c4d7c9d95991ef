// The commands named as `aws stepfunctions` has them, over the database:
// each builds the AWS request, calls the Service and prints the response as
// the AWS CLI does (or as a table).
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/output.h"
#include "cli/store_cli.h"

namespace stepwise::cli {

int print_result(const StoreArgs& args, std::string_view operation, const ServiceResult& r) {
  if (!r.ok()) {
    print_service_error(operation, r.error());
    return kExitFailed;
  }
  json::value shown = with_cli_dates(r.response());
  if (args.output == "table") {
    std::cout << render_table(operation, shown.get_object());
  } else if (!r.response().empty()) {  // the AWS CLI prints nothing for an empty response
    std::cout << aws_cli_json(shown) << "\n";
  }
  return kExitOk;
}

namespace {

// An option that may be given or not: its value and whether it was given.
struct Optional {
  std::string value;
  CLI::Option* option = nullptr;
  bool given() const { return option && option->count() > 0; }
};

void add_paging(CLI::App* cmd, int* max_results, Optional* max_opt, Optional* token) {
  max_opt->option =
      cmd->add_option("--max-results", *max_results, "Page size (1-1000); prints one page and its nextToken")
          ->check(CLI::Range(0, 1000));
  token->option = cmd->add_option("--next-token", token->value, "Continue from the nextToken a previous page printed");
}

void add_paging_request(json::object& request, int max_results, const Optional& max_opt, const Optional& token) {
  if (max_opt.given()) request["maxResults"] = max_results;
  if (token.given()) request["nextToken"] = token.value;
}

bool paging_asked(const Optional& max_opt, const Optional& token) {
  return max_opt.given() || token.given();
}

// Where an execution is expected: a positional EXEC or --execution-arn.
struct ExecutionArg {
  std::string positional;
  std::string option;
  void add(CLI::App* cmd) {
    auto* pos = cmd->add_option("execution", positional, "The execution: its ARN, MACHINE:NAME, or its name");
    auto* opt = cmd->add_option("--execution-arn", option, "The execution (as the positional EXEC)");
    pos->excludes(opt);
  }
  const std::string& text() const { return positional.empty() ? option : positional; }
};

using Commands = std::map<std::string, Command>;

void add_create_state_machine(CLI::App& app, Commands& commands) {
  struct Args {
    StoreArgs store;
    std::string name, definition;
    Optional role, type;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("create-state-machine", "Create a state machine from a validated definition.");
  cmd->add_option("--name", a->name, "State machine name")->required();
  cmd->add_option("--definition", a->definition, "The definition: file://PATH or the JSON text")->required();
  a->role.option = cmd->add_option("--role-arn", a->role.value,
                                   "Execution role (default arn:aws:iam::ACCOUNT:role/StepwiseExecutionRole)");
  a->type.option = cmd->add_option("--type", a->type.value, "STANDARD (default) or EXPRESS");
  add_store_options(cmd, a->store);
  commands["create-state-machine"] = [a] {
    auto definition = parameter_value("--definition", a->definition);
    if (!definition) return kExitUsage;
    auto service = open_service(a->store, true);
    if (!service) return kExitUsage;
    json::object request{{"name", a->name}, {"definition", *definition}};
    if (a->role.given()) request["roleArn"] = a->role.value;
    if (a->type.given()) request["type"] = a->type.value;
    return print_result(a->store, "CreateStateMachine", service->create_state_machine(request));
  };
}

void add_update_state_machine(CLI::App& app, Commands& commands) {
  struct Args {
    StoreArgs store;
    std::string machine;
    Optional definition, role;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("update-state-machine",
                                 "Change a state machine's definition (kept as a new version) or role.");
  cmd->add_option("--state-machine-arn,--state-machine", a->machine, "The state machine: its ARN or name")->required();
  a->definition.option = cmd->add_option("--definition", a->definition.value, "file://PATH or the JSON text");
  a->role.option = cmd->add_option("--role-arn", a->role.value, "Execution role");
  add_store_options(cmd, a->store);
  commands["update-state-machine"] = [a] {
    json::object request;
    if (a->definition.given()) {
      auto definition = parameter_value("--definition", a->definition.value);
      if (!definition) return kExitUsage;
      request["definition"] = *definition;
    }
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    request["stateMachineArn"] = state_machine_arn_of(*service, a->machine);
    if (a->role.given()) request["roleArn"] = a->role.value;
    return print_result(a->store, "UpdateStateMachine", service->update_state_machine(request));
  };
}

// describe-state-machine and delete-state-machine: one machine, nothing else.
void add_machine_command(CLI::App& app, Commands& commands, const std::string& name, const char* description,
                         std::string operation) {
  struct Args {
    StoreArgs store;
    std::string machine;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(name, description);
  cmd->add_option("--state-machine-arn,--state-machine", a->machine, "The state machine: its ARN or name")->required();
  add_store_options(cmd, a->store);
  commands[name] = [a, operation] {
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    json::object request{{"stateMachineArn", state_machine_arn_of(*service, a->machine)}};
    return print_result(a->store, operation, service->call(operation, request));
  };
}

void add_list_state_machines(CLI::App& app, Commands& commands) {
  struct Args {
    StoreArgs store;
    int max_results = 0;
    Optional max_opt, token;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("list-state-machines", "List the state machines, by name.");
  add_paging(cmd, &a->max_results, &a->max_opt, &a->token);
  add_store_options(cmd, a->store);
  commands["list-state-machines"] = [a] {
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    json::object request;
    add_paging_request(request, a->max_results, a->max_opt, a->token);
    auto r = paging_asked(a->max_opt, a->token)
                 ? service->list_state_machines(request)
                 : call_all_pages(*service, "ListStateMachines", request, "stateMachines");
    return print_result(a->store, "ListStateMachines", r);
  };
}

void add_start_execution(CLI::App& app, Commands& commands) {
  struct Args {
    StoreArgs store;
    std::string machine;
    Optional name, input;
  };
  auto a = std::make_shared<Args>();
  auto* cmd =
      app.add_subcommand("start-execution", "Start an execution and return at once; `stepwise worker` runs it.");
  cmd->add_option("--state-machine-arn,--state-machine", a->machine,
                  "The state machine: its ARN, its name, or a version (NAME:N or its version ARN)")
      ->required();
  a->name.option = cmd->add_option("--name", a->name.value, "Execution name (default: a random UUID)");
  a->input.option =
      cmd->add_option("--input", a->input.value, "Execution input: JSON text or file://PATH (default {})");
  add_store_options(cmd, a->store);
  commands["start-execution"] = [a] {
    json::object request;
    if (a->input.given()) {
      auto input = parameter_value("--input", a->input.value);
      if (!input) return kExitUsage;
      request["input"] = *input;
    }
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    request["stateMachineArn"] = state_machine_arn_of(*service, a->machine);
    if (a->name.given()) request["name"] = a->name.value;
    return print_result(a->store, "StartExecution", service->start_execution(request));
  };
}

void add_describe_execution(CLI::App& app, Commands& commands) {
  struct Args {
    StoreArgs store;
    ExecutionArg execution;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("describe-execution", "Show an execution: status, input, output or error, dates.");
  a->execution.add(cmd);
  add_store_options(cmd, a->store);
  commands["describe-execution"] = [a, cmd] {
    if (a->execution.text().empty()) {
      std::cerr << "stepwise describe-execution: give the execution (EXEC or --execution-arn)\n" << cmd->help();
      return kExitUsage;
    }
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    int rc = kExitOk;
    auto arn = execution_arn_of(*service, a->execution.text(), "DescribeExecution", &rc);
    if (!arn) return rc;
    return print_result(a->store, "DescribeExecution", service->describe_execution({{"executionArn", *arn}}));
  };
}

void add_list_executions(CLI::App& app, Commands& commands) {
  struct Args {
    StoreArgs store;
    Optional machine, status, map_run;
    int max_results = 0;
    Optional max_opt, token;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("list-executions", "List executions, newest first.");
  a->map_run.option = cmd->add_option("--map-run-arn", a->map_run.value,
                                      "Only the child executions of this Distributed Map run");
  a->machine.option = cmd->add_option("--state-machine-arn,--state-machine", a->machine.value,
                                      "Only this state machine's executions (its ARN or name; default: all)");
  a->status.option = cmd->add_option("--status-filter", a->status.value,
                                     "RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE");
  add_paging(cmd, &a->max_results, &a->max_opt, &a->token);
  add_store_options(cmd, a->store);
  commands["list-executions"] = [a] {
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    json::object request;
    if (a->machine.given()) request["stateMachineArn"] = state_machine_arn_of(*service, a->machine.value);
    if (a->map_run.given()) request["mapRunArn"] = a->map_run.value;
    if (a->status.given()) request["statusFilter"] = a->status.value;
    add_paging_request(request, a->max_results, a->max_opt, a->token);
    auto r = paging_asked(a->max_opt, a->token) ? service->list_executions(request)
                                                : call_all_pages(*service, "ListExecutions", request, "executions");
    return print_result(a->store, "ListExecutions", r);
  };
}

void add_get_execution_history(CLI::App& app, Commands& commands) {
  struct Args {
    StoreArgs store;
    ExecutionArg execution;
    bool reverse = false;
    bool include_data = true;
    int max_results = 0;
    Optional max_opt, token;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("get-execution-history", "Print an execution's history events.");
  a->execution.add(cmd);
  cmd->add_flag("--reverse-order", a->reverse, "Newest event first");
  cmd->add_flag("--include-execution-data,!--no-include-execution-data", a->include_data,
                "Whether events show their input and output (default: they do)");
  add_paging(cmd, &a->max_results, &a->max_opt, &a->token);
  add_store_options(cmd, a->store);
  commands["get-execution-history"] = [a, cmd] {
    if (a->execution.text().empty()) {
      std::cerr << "stepwise get-execution-history: give the execution (EXEC or --execution-arn)\n" << cmd->help();
      return kExitUsage;
    }
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    int rc = kExitOk;
    auto arn = execution_arn_of(*service, a->execution.text(), "GetExecutionHistory", &rc);
    if (!arn) return rc;
    json::object request{{"executionArn", *arn}};
    if (a->reverse) request["reverseOrder"] = true;
    if (!a->include_data) request["includeExecutionData"] = false;
    add_paging_request(request, a->max_results, a->max_opt, a->token);
    auto r = paging_asked(a->max_opt, a->token) ? service->get_execution_history(request)
                                                : call_all_pages(*service, "GetExecutionHistory", request, "events");
    return print_result(a->store, "GetExecutionHistory", r);
  };
}

void add_stop_execution(CLI::App& app, Commands& commands) {
  struct Args {
    StoreArgs store;
    ExecutionArg execution;
    Optional error, cause;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("stop-execution", "Stop a running execution (ABORTED).");
  a->execution.add(cmd);
  a->error.option = cmd->add_option("--error", a->error.value, "Error code recorded with the stop");
  a->cause.option = cmd->add_option("--cause", a->cause.value, "Cause recorded with the stop");
  add_store_options(cmd, a->store);
  commands["stop-execution"] = [a, cmd] {
    if (a->execution.text().empty()) {
      std::cerr << "stepwise stop-execution: give the execution (EXEC or --execution-arn)\n" << cmd->help();
      return kExitUsage;
    }
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    int rc = kExitOk;
    auto arn = execution_arn_of(*service, a->execution.text(), "StopExecution", &rc);
    if (!arn) return rc;
    json::object request{{"executionArn", *arn}};
    if (a->error.given()) request["error"] = a->error.value;
    if (a->cause.given()) request["cause"] = a->cause.value;
    return print_result(a->store, "StopExecution", service->stop_execution(request));
  };
}

void add_redrive_execution(CLI::App& app, Commands& commands) {
  struct Args {
    StoreArgs store;
    ExecutionArg execution;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("redrive-execution",
                                 "Continue a FAILED, TIMED_OUT or ABORTED execution from where it stopped (a worker "
                                 "runs it).");
  a->execution.add(cmd);
  add_store_options(cmd, a->store);
  commands["redrive-execution"] = [a, cmd] {
    if (a->execution.text().empty()) {
      std::cerr << "stepwise redrive-execution: give the execution (EXEC or --execution-arn)\n" << cmd->help();
      return kExitUsage;
    }
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    int rc = kExitOk;
    auto arn = execution_arn_of(*service, a->execution.text(), "RedriveExecution", &rc);
    if (!arn) return rc;
    return print_result(a->store, "RedriveExecution", service->redrive_execution({{"executionArn", *arn}}));
  };
}

void add_describe_map_run(CLI::App& app, Commands& commands) {
  struct Args {
    StoreArgs store;
    std::string map_run;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("describe-map-run",
                                 "Show a Distributed Map run: status, concurrency, tolerance, item and execution counts.");
  cmd->add_option("--map-run-arn", a->map_run, "The map run's ARN (from list-map-runs or the MapRunStarted event)")
      ->required();
  add_store_options(cmd, a->store);
  commands["describe-map-run"] = [a] {
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    return print_result(a->store, "DescribeMapRun", service->describe_map_run({{"mapRunArn", a->map_run}}));
  };
}

void add_update_map_run(CLI::App& app, Commands& commands) {
  struct Args {
    StoreArgs store;
    std::string map_run;
    std::int64_t max_concurrency = 0, tolerated_count = 0;
    double tolerated_percentage = 0;
    CLI::Option* max_concurrency_opt = nullptr;
    CLI::Option* tolerated_count_opt = nullptr;
    CLI::Option* tolerated_percentage_opt = nullptr;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "update-map-run", "Change a running Distributed Map run's MaxConcurrency or tolerated failures.");
  cmd->add_option("--map-run-arn", a->map_run, "The map run's ARN (from list-map-runs or the MapRunStarted event)")
      ->required();
  a->max_concurrency_opt =
      cmd->add_option("--max-concurrency", a->max_concurrency, "Child executions running at once (0: no limit)");
  a->tolerated_percentage_opt = cmd->add_option("--tolerated-failure-percentage", a->tolerated_percentage,
                                                "Failed items tolerated, in percent of all items (0-100)");
  a->tolerated_count_opt =
      cmd->add_option("--tolerated-failure-count", a->tolerated_count, "Failed items tolerated");
  add_store_options(cmd, a->store);
  commands["update-map-run"] = [a] {
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    json::object request{{"mapRunArn", a->map_run}};
    if (a->max_concurrency_opt->count()) request["maxConcurrency"] = a->max_concurrency;
    if (a->tolerated_percentage_opt->count()) request["toleratedFailurePercentage"] = a->tolerated_percentage;
    if (a->tolerated_count_opt->count()) request["toleratedFailureCount"] = a->tolerated_count;
    return print_result(a->store, "UpdateMapRun", service->update_map_run(request));
  };
}

void add_list_map_runs(CLI::App& app, Commands& commands) {
  struct Args {
    StoreArgs store;
    ExecutionArg execution;
    int max_results = 0;
    Optional max_opt, token;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("list-map-runs", "List the Distributed Map runs an execution started, oldest first.");
  a->execution.add(cmd);
  add_paging(cmd, &a->max_results, &a->max_opt, &a->token);
  add_store_options(cmd, a->store);
  commands["list-map-runs"] = [a, cmd] {
    if (a->execution.text().empty()) {
      std::cerr << "stepwise list-map-runs: give the execution (EXEC or --execution-arn)\n" << cmd->help();
      return kExitUsage;
    }
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    int rc = kExitOk;
    auto arn = execution_arn_of(*service, a->execution.text(), "ListMapRuns", &rc);
    if (!arn) return rc;
    json::object request{{"executionArn", *arn}};
    add_paging_request(request, a->max_results, a->max_opt, a->token);
    auto r = paging_asked(a->max_opt, a->token) ? service->list_map_runs(request)
                                                : call_all_pages(*service, "ListMapRuns", request, "mapRuns");
    return print_result(a->store, "ListMapRuns", r);
  };
}

}  // namespace

void add_store_commands(CLI::App& app, std::map<std::string, Command>& commands) {
  add_create_state_machine(app, commands);
  add_update_state_machine(app, commands);
  add_machine_command(app, commands, "describe-state-machine", "Show a state machine and its definition.",
                      "DescribeStateMachine");
  add_list_state_machines(app, commands);
  add_machine_command(app, commands, "delete-state-machine",
                      "Delete a state machine (its executions and their history stay).", "DeleteStateMachine");
  add_start_execution(app, commands);
  add_describe_execution(app, commands);
  add_list_executions(app, commands);
  add_get_execution_history(app, commands);
  add_stop_execution(app, commands);
  add_redrive_execution(app, commands);
  add_describe_map_run(app, commands);
  add_list_map_runs(app, commands);
  add_update_map_run(app, commands);
  add_task_commands(app, commands);
  commands["timeline"] = add_timeline(app);
}

}  // namespace stepwise::cli
