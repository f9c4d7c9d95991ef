// In-process functions registered by name, and the resolution of Task
// resources to them: a Lambda ARN "arn:aws:lambda:REGION:ACCOUNT:function:NAME"
// (with an optional version or alias suffix) and the integration
// "arn:aws:states:::lambda:invoke" with Parameters.FunctionName (a name or an
// ARN) and Parameters.Payload, whose result is wrapped as AWS wraps it:
// {"ExecutedVersion":"$LATEST","Payload":<result>,"StatusCode":200}.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "engine/invoker.h"

namespace stepwise {

// What an in-process function learns about its invocation.
struct InvocationContext {
  std::string function_name;
  std::string execution_id;
  std::string state_name;
  std::string idempotency_key;
  int attempt = 0;
  TaskHeartbeat heartbeat;  // call to extend a HeartbeatSeconds deadline
};

// Thrown by a synchronous function to fail its task with a chosen Error and
// Cause (any other exception fails it with Error = "Exception").
struct TaskError : std::runtime_error {
  TaskError(std::string error, std::string cause)
      : std::runtime_error(cause), error(std::move(error)), cause(std::move(cause)) {}
  std::string error;
  std::string cause;
};

using SyncFunction = std::function<json::value(const json::value& event, const InvocationContext& ctx)>;
using AsyncFunction =
    std::function<void(const json::value& event, const InvocationContext& ctx, TaskCompletion done)>;

// The name a Task resource designates, or nullopt when it is not a function
// resource. For lambda:invoke the name comes from payload.FunctionName.
std::optional<std::string> function_name_for(std::string_view resource, const json::value& payload);

// True for "arn:aws:states:::lambda:invoke" (and its ".waitForTaskToken" form).
bool is_lambda_invoke(std::string_view resource);
// The event a function receives for a task: for lambda:invoke, payload.Payload
// (an empty object when absent); otherwise the payload itself.
const json::value& function_event_for(std::string_view resource, const json::value& payload);
// A function's result as the task sees it: wrapped as lambda:invoke returns it
// ({"ExecutedVersion":"$LATEST","Payload":<result>,"StatusCode":200}) for
// that resource, unchanged for a Lambda ARN.
json::value function_task_result(std::string_view resource, json::value result);

// Registry of in-process functions; also the Invoker that runs them.
// Thread-safe.
class FunctionRegistry final : public Invoker {
 public:
  void add(std::string name, SyncFunction fn);
  void add_async(std::string name, AsyncFunction fn);
  bool contains(const std::string& name) const;

  void invoke(const TaskRequest& request, TaskCompletion done, TaskHeartbeat heartbeat) override;

 private:
  struct Entry {
    SyncFunction sync;
    AsyncFunction async;
  };
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Entry>, std::less<>> fns_;
};

}  // namespace stepwise
