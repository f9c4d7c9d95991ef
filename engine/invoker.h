// How Task states reach the work they run. An Invoker receives a TaskRequest
// and reports exactly one TaskOutcome through the completion it is given, from
// any thread, now or later. The engine never blocks on a task in flight.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "states/failure.h"
#include "states/json.h"

namespace stepwise {

struct TaskRequest {
  std::string execution_id;  // execution ARN
  std::string state_name;
  std::string resource;      // the Task's Resource, as written
  json::value payload;       // effective input: after InputPath and Parameters
  int attempt = 0;           // 0 on the first try, then 1, 2, ... on retries
  // Stable across a crash and resume of the same attempt: execution, state, attempt.
  std::string idempotency_key;
  std::optional<std::string> task_token;  // set for .waitForTaskToken resources
  double timeout_seconds = 0;             // 0: none
  std::optional<double> heartbeat_seconds;
  // Index of the Map iteration this task runs in, if any (mocks key on it).
  std::optional<long long> map_index;
  // How many calls of this state (by name) the execution made before this
  // one, retries and Map iterations included; the same again when a resumed
  // execution invokes a task in flight again. Mocks answer by it.
  std::uint32_t call_index = 0;
};

// What one function invocation cost, as Lambda's REPORT line tells it. Set by
// invokers that run functions in worker processes (runtime/), absent
// otherwise.
struct InvocationReport {
  std::string function_name;
  std::string request_id;
  double duration_ms = 0;               // the handler's run, from request sent to result read
  std::int64_t billed_duration_ms = 0;  // duration rounded up to the millisecond
  int memory_size_mb = 0;               // the function's MemorySize
  int max_memory_used_mb = 0;           // peak resident memory of the worker process so far
  std::optional<double> init_duration_ms;  // cold start: loading the runtime and the handler
  bool cold = false;                       // served by a worker started for it
  bool throttled = false;                  // refused at the concurrency limit (nothing ran)
  std::string error;                       // the Error when the invocation failed; empty when it succeeded
  std::int64_t start_time = 0;             // ns since the epoch, by the invoker's clock
  std::string execution_arn;               // the execution whose task called it; empty when invoked directly
  std::string state_name;
};

struct TaskOutcome {
  bool ok = true;
  json::value output;  // the raw task result when ok
  Failure failure;     // when !ok: Error and Cause as the service reported them
  std::optional<InvocationReport> report;  // accounting, when the invoker ran a function

  static TaskOutcome success(json::value v) { return TaskOutcome{true, std::move(v), {}}; }
  static TaskOutcome fail(std::string error, std::string cause) {
    return TaskOutcome{false, nullptr, Failure{std::move(error), std::move(cause), false}};
  }
};

// Called exactly once per invocation. Thread-safe to call from any thread.
using TaskCompletion = std::function<void(TaskOutcome)>;
// Extends a task's heartbeat deadline. Thread-safe.
using TaskHeartbeat = std::function<void()>;

// How a task will run, as its invoker tells the engine before the task is
// scheduled (Invoker::dispatch).
struct TaskDispatch {
  // Set: the task cannot run (e.g. its activity does not exist). The state
  // fails with States.Runtime and this cause, before any ...Scheduled event.
  std::optional<std::string> refusal;
  // An activity worker will take the task later: ActivityStarted waits for
  // Engine::task_started instead of following ActivityScheduled at once.
  bool awaits_worker = false;
};

// arn:aws:states:REGION:ACCOUNT:activity:NAME
inline bool is_activity_resource(const std::string& resource) {
  return resource.rfind("arn:aws:states:", 0) == 0 && resource.find(":activity:") != std::string::npos;
}
// A callback task: the Resource ends in .waitForTaskToken.
inline bool is_callback_resource(const std::string& resource) {
  constexpr std::string_view kSuffix = ".waitForTaskToken";
  return resource.size() > kSuffix.size() && resource.compare(resource.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

// The resource of the request a Distributed Map makes when its invoker runs
// map runs (Invoker::runs_map_runs): the payload carries the map run (see
// docs/distributed-map.md, "Map runs"), the outcome is the Map's result.
inline constexpr std::string_view kMapRunResource = "stepwise:mapRun";

class Invoker {
 public:
  virtual ~Invoker() = default;
  // Whether this invoker runs a Distributed Map's items as child executions
  // (a durable worker does): the Map state then makes one request of
  // resource kMapRunResource instead of running its iterations in-process.
  virtual bool runs_map_runs() const { return false; }
  // Starts the work. May call done inline (synchronous work) or later.
  virtual void invoke(const TaskRequest& request, TaskCompletion done, TaskHeartbeat heartbeat) = 0;
  // Asked before the Task state `state_name` schedules work on `resource`.
  virtual TaskDispatch dispatch(const std::string& resource, const std::string& state_name) {
    (void)resource;
    (void)state_name;
    return {};
  }
  // Whether this invoker itself answers the tasks of `state_name` (a mock),
  // callbacks and activity tasks included: then nobody waits for
  // SendTaskSuccess or an activity worker.
  virtual bool answers_itself(const std::string& state_name) const {
    (void)state_name;
    return false;
  }
};

// Forwards to another invoker; override one method to inject a fault.
class InvokerWrapper : public Invoker {
 public:
  explicit InvokerWrapper(std::shared_ptr<Invoker> target) : target_(std::move(target)) {}
  void invoke(const TaskRequest& r, TaskCompletion done, TaskHeartbeat hb) override {
    target_->invoke(r, std::move(done), std::move(hb));
  }
  TaskDispatch dispatch(const std::string& resource, const std::string& state_name) override {
    return target_->dispatch(resource, state_name);
  }
  bool answers_itself(const std::string& state_name) const override { return target_->answers_itself(state_name); }
  bool runs_map_runs() const override { return target_->runs_map_runs(); }

 protected:
  std::shared_ptr<Invoker> target_;
};

}  // namespace stepwise
