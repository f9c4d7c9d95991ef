// The Step Functions API over a durable store: what `aws stepfunctions`
// calls, answered from a storage::Store.
//
// Shaped for the AWS JSON 1.0 protocol, so that an HTTP front end maps it
// one to one (X-Amz-Target: AWSStepFunctions.<Operation>): each operation
// takes the request body as a JSON object with AWS's member names and returns
// the response body with AWS's member names, or a ServiceError whose code is
// AWS's error name (the `__type`) and whose message is AWS's text.
//
//   stepwise::Service service(store);
//   auto r = service.call("StartExecution", {{"stateMachineArn", arn}, {"input", "{}"}});
//   if (!r.ok()) std::cerr << r.error().code << ": " << r.error().message;
//
// Dates in responses are what the wire carries: seconds since the Unix epoch
// as a JSON number with a millisecond fraction (1735689600.123).
//
// RedriveExecution records the continuation (engine/redrive.h) the same way.
// StartExecution only records the execution (RUNNING, its ExecutionStarted
// event and its initial state); a worker that claims it from the store runs
// it. StopExecution ends a running execution in the store whoever runs it: a
// worker that owned it sees a Conflict on its next commit and drops it.
//
// Stepwise extensions (documented in docs/cli.md): ListExecutions without a
// stateMachineArn lists every execution; each definition update is kept as a
// numbered version, so responses carry stateMachineVersionArn and
// StartExecution/DescribeStateMachine accept a version ARN (ARN:N); roleArn is
// optional in CreateStateMachine.
//
// Thread safety: every method may be called from any thread concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "engine/clock.h"
#include "states/definition.h"
#include "states/json.h"
#include "states/scope.h"
#include "storage/store.h"

namespace stepwise {

// An AWS error: code is the error name ("ExecutionDoesNotExist",
// "ValidationException", ...), message its text as AWS writes it.
struct ServiceError {
  std::string code;
  std::string message;
};

// A response body or the error that replaced it.
class [[nodiscard]] ServiceResult {
 public:
  ServiceResult(json::object response) : v_(std::move(response)) {}  // NOLINT: implicit by design
  ServiceResult(ServiceError error) : v_(std::move(error)) {}        // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  // REQUIRES: ok().
  const json::object& response() const { return std::get<0>(v_); }
  json::object& response() { return std::get<0>(v_); }
  // REQUIRES: !ok().
  const ServiceError& error() const { return std::get<1>(v_); }

 private:
  std::variant<json::object, ServiceError> v_;
};

struct ServiceOptions {
  // Time source for creation, start and stop dates and event timestamps.
  // Null: the system clock.
  std::shared_ptr<Clock> clock;
  // Random source for execution names (UUIDs) when a start names none.
  // Null: seeded from the OS. One given here must be thread-safe if the
  // service is called from several threads at once.
  std::shared_ptr<states::RandomSource> random;
  // The identity in every ARN the service makes.
  std::string region = "us-east-1";
  std::string account = "123456789012";
  // How many times StopExecution re-reads and retries when another writer
  // (a worker) committed between its read and its write.
  int stop_attempts = 5;
  // GetActivityTask's long poll (real time): how long it waits for a task
  // (AWS: 60 s) and how often it looks meanwhile.
  Nanos activity_poll_timeout = 60 * kNanosPerSecond;
  Nanos activity_poll_interval = 100 * kNanosPerMilli;
};

// Whether RedriveExecution would accept the execution: "REDRIVABLE" or
// "NOT_REDRIVABLE" with AWS's reason ("Execution is RUNNING and cannot be
// redriven", "Execution is SUCCEEDED and cannot be redriven", "Execution
// redrivable period exceeded" 14 days after it stopped).
struct RedriveStatus {
  std::string status;
  std::string reason;  // empty when redrivable
};
RedriveStatus redrive_status(const storage::ExecutionRecord& execution, Nanos now);

// AWS's name rule for state machines and executions: 1 to 80 characters, none
// of them white space, < > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : / or a
// control character (U+0000-001F, U+007F-009F). Length is checked separately
// (ValidationException); this is the InvalidName part.
bool is_valid_resource_name(std::string_view name);

// The ARN of a state machine or an execution in this region and account.
std::string state_machine_arn(const ServiceOptions& options, std::string_view name);
std::string execution_arn(const ServiceOptions& options, std::string_view state_machine_name,
                          std::string_view execution_name);
// arn:aws:states:REGION:ACCOUNT:activity:NAME
std::string activity_arn(const ServiceOptions& options, std::string_view name);

class Service {
 public:
  Service(std::shared_ptr<storage::Store> store, ServiceOptions options = {});
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Runs the operation named as in X-Amz-Target (without the
  // "AWSStepFunctions." prefix). An unknown name gives UnknownOperationException.
  ServiceResult call(std::string_view operation, const json::object& request);
  // The operations call() knows, in alphabetical order.
  static const std::vector<std::string_view>& operations();

  ServiceResult create_state_machine(const json::object& request);
  ServiceResult update_state_machine(const json::object& request);
  ServiceResult describe_state_machine(const json::object& request);
  ServiceResult list_state_machines(const json::object& request);
  ServiceResult delete_state_machine(const json::object& request);
  ServiceResult start_execution(const json::object& request);
  ServiceResult describe_execution(const json::object& request);
  ServiceResult list_executions(const json::object& request);
  ServiceResult get_execution_history(const json::object& request);
  ServiceResult stop_execution(const json::object& request);
  // A FAILED, TIMED_OUT or ABORTED execution becomes RUNNING again from where
  // it stopped (engine/redrive.h), with ExecutionRedriven in its history and
  // redriveCount + 1; a worker then claims it. ExecutionNotRedrivable with
  // AWS's reason otherwise.
  ServiceResult redrive_execution(const json::object& request);
  // Distributed Map runs (docs/distributed-map.md): DescribeMapRun by
  // mapRunArn, ListMapRuns by executionArn (oldest first). An unknown map run:
  // ResourceNotFound.
  ServiceResult describe_map_run(const json::object& request);
  ServiceResult list_map_runs(const json::object& request);
  // UpdateMapRun: a RUNNING map run's maxConcurrency (0: unlimited),
  // toleratedFailurePercentage (0-100) and toleratedFailureCount; its driver
  // applies them from its next round. Answers {}.
  ServiceResult update_map_run(const json::object& request);

  // Callbacks and activity tasks. A token is answered once: SendTaskSuccess
  // (output: JSON text) or SendTaskFailure (error, cause) records the result
  // in the store, with the token closed in the same transaction, and wakes
  // the execution if it is parked; its worker continues it. Errors as AWS
  // names them: InvalidToken (not a token Stepwise hands out),
  // TaskDoesNotExist (no such token), TaskTimedOut (the task is over: answered,
  // timed out, or its execution ended), InvalidOutput (output not JSON).
  ServiceResult send_task_success(const json::object& request);
  ServiceResult send_task_failure(const json::object& request);
  // Moves the task's heartbeat deadline to now + HeartbeatSeconds.
  ServiceResult send_task_heartbeat(const json::object& request);
  // CreateActivity is idempotent by name. DescribeActivity/GetActivityTask on
  // an unknown activity: ActivityDoesNotExist.
  ServiceResult create_activity(const json::object& request);
  ServiceResult describe_activity(const json::object& request);
  ServiceResult list_activities(const json::object& request);
  ServiceResult delete_activity(const json::object& request);
  // Long poll (ServiceOptions::activity_poll_timeout): {"taskToken", "input"}
  // of the oldest task scheduled on the activity that no worker took yet,
  // or {"taskToken": ""} when none came.
  ServiceResult get_activity_task(const json::object& request);

  const ServiceOptions& options() const { return options_; }
  // The store it answers from (e.g. for a Worker in the same process).
  const std::shared_ptr<storage::Store>& store() const { return store_; }

  // The parsed definition of a state machine version (cached by ARN and
  // version). Null, with *error set, when the version is absent or its
  // stored definition no longer parses.
  std::shared_ptr<const states::Definition> definition(const std::string& state_machine_arn, std::int64_t version,
                                                       ServiceError* error);

 private:
  std::shared_ptr<const states::Definition> cached_definition(const std::string& arn, std::int64_t version);
  // A stopped execution's running map runs become ABORTED and their running
  // children are stopped.
  void abort_map_runs(const std::string& execution_arn, std::int64_t stop_date);
  void cache_definition(const std::string& arn, std::int64_t version,
                        std::shared_ptr<const states::Definition> definition);

  std::shared_ptr<storage::Store> store_;
  ServiceOptions options_;

  std::mutex cache_mu_;
  std::map<std::pair<std::string, std::int64_t>, std::shared_ptr<const states::Definition>> definitions_;
};

}  // namespace stepwise
