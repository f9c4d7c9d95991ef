// Callbacks and activities, named as `aws stepfunctions` names them:
// send-task-success, send-task-failure, send-task-heartbeat, create-activity,
// list-activities, describe-activity, delete-activity, get-activity-task.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/store_cli.h"

namespace stepwise::cli {
namespace {

using Commands = std::map<std::string, Command>;

// An activity given by ARN or by name.
std::string activity_arn_of(const Service& service, const std::string& text) {
  if (text.rfind("arn:", 0) == 0) return text;
  return activity_arn(service.options(), text);
}

void add_send_task_success(CLI::App& app, Commands& commands) {
  struct Args {
    StoreArgs store;
    std::string token, output;
  };
  auto a = std::make_shared<Args>();
  auto* cmd =
      app.add_subcommand("send-task-success", "Report that the task waiting with a token succeeded, with its output.");
  cmd->add_option("--task-token", a->token, "The task token ($$.Task.Token, or from get-activity-task)")->required();
  cmd->add_option("--task-output", a->output, "The task's output: JSON text or file://PATH")->required();
  add_store_options(cmd, a->store);
  commands["send-task-success"] = [a] {
    auto output = parameter_value("--task-output", a->output);
    if (!output) return kExitUsage;
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    return print_result(a->store, "SendTaskSuccess",
                        service->send_task_success({{"taskToken", a->token}, {"output", *output}}));
  };
}

void add_send_task_failure(CLI::App& app, Commands& commands) {
  struct Args {
    StoreArgs store;
    std::string token, error, cause;
    CLI::Option* error_opt = nullptr;
    CLI::Option* cause_opt = nullptr;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("send-task-failure", "Report that the task waiting with a token failed.");
  cmd->add_option("--task-token", a->token, "The task token")->required();
  a->error_opt = cmd->add_option("--error", a->error, "The error name (Retry and Catch match it)");
  a->cause_opt = cmd->add_option("--cause", a->cause, "A description of the failure");
  add_store_options(cmd, a->store);
  commands["send-task-failure"] = [a] {
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    json::object request{{"taskToken", a->token}};
    if (a->error_opt->count() > 0) request["error"] = a->error;
    if (a->cause_opt->count() > 0) request["cause"] = a->cause;
    return print_result(a->store, "SendTaskFailure", service->send_task_failure(request));
  };
}

void add_send_task_heartbeat(CLI::App& app, Commands& commands) {
  struct Args {
    StoreArgs store;
    std::string token;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("send-task-heartbeat",
                                 "Report that the task waiting with a token is still at work (HeartbeatSeconds).");
  cmd->add_option("--task-token", a->token, "The task token")->required();
  add_store_options(cmd, a->store);
  commands["send-task-heartbeat"] = [a] {
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    return print_result(a->store, "SendTaskHeartbeat", service->send_task_heartbeat({{"taskToken", a->token}}));
  };
}

void add_create_activity(CLI::App& app, Commands& commands) {
  struct Args {
    StoreArgs store;
    std::string name;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("create-activity", "Create an activity: a queue of tasks that workers poll.");
  cmd->add_option("--name", a->name, "Activity name")->required();
  add_store_options(cmd, a->store);
  commands["create-activity"] = [a] {
    auto service = open_service(a->store, true);
    if (!service) return kExitUsage;
    return print_result(a->store, "CreateActivity", service->create_activity({{"name", a->name}}));
  };
}

void add_list_activities(CLI::App& app, Commands& commands) {
  struct Args {
    StoreArgs store;
    int max_results = 0;
    std::string next_token;
    CLI::Option* max_opt = nullptr;
    CLI::Option* token_opt = nullptr;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("list-activities", "List the activities.");
  a->max_opt = cmd->add_option("--max-results", a->max_results, "Page size (1-1000); prints one page and its nextToken")
                   ->check(CLI::Range(0, 1000));
  a->token_opt = cmd->add_option("--next-token", a->next_token, "Continue from the nextToken a previous page printed");
  add_store_options(cmd, a->store);
  commands["list-activities"] = [a] {
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    json::object request;
    if (a->max_opt->count() > 0) request["maxResults"] = a->max_results;
    if (a->token_opt->count() > 0) request["nextToken"] = a->next_token;
    if (!request.empty()) return print_result(a->store, "ListActivities", service->list_activities(request));
    return print_result(a->store, "ListActivities",
                        call_all_pages(*service, "ListActivities", std::move(request), "activities"));
  };
}

// describe-activity and delete-activity: one activity, nothing else.
void add_activity_command(CLI::App& app, Commands& commands, const std::string& name, const char* description,
                          std::string operation) {
  struct Args {
    StoreArgs store;
    std::string activity;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(name, description);
  cmd->add_option("--activity-arn,--activity", a->activity, "The activity: its ARN or name")->required();
  add_store_options(cmd, a->store);
  commands[name] = [a, operation] {
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    return print_result(a->store, operation,
                        service->call(operation, {{"activityArn", activity_arn_of(*service, a->activity)}}));
  };
}

void add_get_activity_task(CLI::App& app, Commands& commands) {
  struct Args {
    StoreArgs store;
    std::string activity, worker_name;
    double wait_seconds = 60;
    CLI::Option* worker_opt = nullptr;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("get-activity-task",
                                 "Wait for a task of an activity (up to 60 s) and print its taskToken and input; "
                                 "an empty taskToken when none came.");
  cmd->add_option("--activity-arn,--activity", a->activity, "The activity: its ARN or name")->required();
  a->worker_opt = cmd->add_option("--worker-name", a->worker_name, "Recorded in the ActivityStarted event");
  cmd->add_option("--wait-seconds", a->wait_seconds, "How long to wait for a task (default 60, AWS's long poll)")
      ->check(CLI::Range(0.0, 60.0));
  add_store_options(cmd, a->store);
  commands["get-activity-task"] = [a] {
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    ServiceOptions options = service->options();
    options.activity_poll_timeout = static_cast<Nanos>(a->wait_seconds * kNanosPerSecond);
    Service polling(service->store(), options);
    json::object request{{"activityArn", activity_arn_of(polling, a->activity)}};
    if (a->worker_opt->count() > 0) request["workerName"] = a->worker_name;
    return print_result(a->store, "GetActivityTask", polling.get_activity_task(request));
  };
}

}  // namespace

void add_task_commands(CLI::App& app, Commands& commands) {
  add_send_task_success(app, commands);
  add_send_task_failure(app, commands);
  add_send_task_heartbeat(app, commands);
  add_create_activity(app, commands);
  add_list_activities(app, commands);
  add_activity_command(app, commands, "describe-activity", "Show an activity.", "DescribeActivity");
  add_activity_command(app, commands, "delete-activity",
                       "Delete an activity (tasks already scheduled on it stay until they time out).",
                       "DeleteActivity");
  add_get_activity_task(app, commands);
}

}  // namespace stepwise::cli
