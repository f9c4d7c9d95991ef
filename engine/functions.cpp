#include "engine/functions.h"

#include <exception>

namespace stepwise {
namespace {

constexpr std::string_view kLambdaArnPrefix = "arn:aws:lambda:";
constexpr std::string_view kLambdaInvoke = "arn:aws:states:::lambda:invoke";

// "arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]" -> NAME; a bare
// name (as FunctionName allows) is returned as it is.
std::string name_from_function_ref(std::string_view ref) {
  if (ref.substr(0, kLambdaArnPrefix.size()) != kLambdaArnPrefix) {
    // "NAME:QUALIFIER" or "ACCOUNT:function:NAME" partial forms.
    auto fpos = ref.find("function:");
    if (fpos != std::string_view::npos) ref = ref.substr(fpos + 9);
    auto colon = ref.find(':');
    return std::string(ref.substr(0, colon));
  }
  auto fpos = ref.find(":function:");
  if (fpos == std::string_view::npos) return {};
  auto rest = ref.substr(fpos + 10);
  return std::string(rest.substr(0, rest.find(':')));
}

json::value wrap_lambda_invoke(json::value payload) {
  json::object o;
  o["ExecutedVersion"] = "$LATEST";
  o["Payload"] = std::move(payload);
  o["StatusCode"] = 200;
  return o;
}

}  // namespace

bool is_lambda_invoke(std::string_view resource) {
  return resource.substr(0, kLambdaInvoke.size()) == kLambdaInvoke &&
         (resource.size() == kLambdaInvoke.size() || resource[kLambdaInvoke.size()] == '.');
}

const json::value& function_event_for(std::string_view resource, const json::value& payload) {
  static const json::value kEmpty = json::object();
  if (!is_lambda_invoke(resource)) return payload;
  const auto* obj = payload.if_object();
  const auto* p = obj ? obj->if_contains("Payload") : nullptr;
  return p ? *p : kEmpty;
}

json::value function_task_result(std::string_view resource, json::value result) {
  return is_lambda_invoke(resource) ? wrap_lambda_invoke(std::move(result)) : std::move(result);
}

std::optional<std::string> function_name_for(std::string_view resource, const json::value& payload) {
  if (is_lambda_invoke(resource)) {
    const auto* obj = payload.if_object();
    if (!obj) return std::nullopt;
    const auto* fn = obj->if_contains("FunctionName");
    if (!fn || !fn->is_string()) return std::nullopt;
    return name_from_function_ref(fn->get_string());
  }
  if (resource.substr(0, kLambdaArnPrefix.size()) == kLambdaArnPrefix) {
    auto name = name_from_function_ref(resource);
    if (!name.empty()) return name;
  }
  return std::nullopt;
}

void FunctionRegistry::add(std::string name, SyncFunction fn) {
  std::lock_guard lock(mu_);
  fns_[std::move(name)] = std::make_shared<const Entry>(Entry{std::move(fn), nullptr});
}

void FunctionRegistry::add_async(std::string name, AsyncFunction fn) {
  std::lock_guard lock(mu_);
  fns_[std::move(name)] = std::make_shared<const Entry>(Entry{nullptr, std::move(fn)});
}

bool FunctionRegistry::contains(const std::string& name) const {
  std::lock_guard lock(mu_);
  return fns_.count(name) != 0;
}

void FunctionRegistry::invoke(const TaskRequest& request, TaskCompletion done, TaskHeartbeat heartbeat) {
  auto name = function_name_for(request.resource, request.payload);
  if (!name) {
    done(TaskOutcome::fail("States.Runtime",
                           "No invoker handles the resource '" + request.resource + "'"));
    return;
  }
  std::shared_ptr<const Entry> entry;
  {
    std::lock_guard lock(mu_);
    auto it = fns_.find(*name);
    if (it != fns_.end()) entry = it->second;
  }
  if (!entry) {
    done(TaskOutcome::fail("Lambda.ResourceNotFoundException",
                           "Function not found: " + *name +
                               " (no function of that name is registered with this engine)"));
    return;
  }
  const bool wrap = is_lambda_invoke(request.resource);
  const json::value* event = &function_event_for(request.resource, request.payload);
  InvocationContext ctx{*name, request.execution_id, request.state_name, request.idempotency_key,
                        request.attempt, std::move(heartbeat)};
  if (entry->async) {
    if (!wrap) {
      entry->async(*event, ctx, std::move(done));
    } else {
      entry->async(*event, ctx, [done = std::move(done)](TaskOutcome o) {
        if (o.ok) o.output = wrap_lambda_invoke(std::move(o.output));
        done(std::move(o));
      });
    }
    return;
  }
  try {
    json::value out = entry->sync(*event, ctx);
    done(TaskOutcome::success(wrap ? wrap_lambda_invoke(std::move(out)) : std::move(out)));
  } catch (const TaskError& e) {
    done(TaskOutcome::fail(e.error, e.cause));
  } catch (const std::exception& e) {
    done(TaskOutcome::fail("Exception", e.what()));
  } catch (...) {
    done(TaskOutcome::fail("Exception", "unknown exception"));
  }
}

}  // namespace stepwise
