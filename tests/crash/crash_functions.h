// The in-process functions the crash test's executions call, shared by the
// worker process (stepwise_crash_worker) and the test's reference run, so
// both compute the same results.
//
// Every function reports its invocation (before answering) and puts its
// idempotency key in what it returns: in its result ({"key": ...}) on
// success, as the Cause on failure. So each task completion recorded in a
// history names the invocation it completes.
//   Work  {"ms"?: n, ...}  sleeps ms (when sleeping is enabled), returns
//                          {"key", "state", "attempt", "in": <event>}.
//   Flaky                  fails attempt 0 with error "Boom", then as Work.
//   Fatal                  always fails with error "Nope".
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "engine/functions.h"
#include "states/json.h"

namespace stepwise::crashtest {

// Called once per invocation, on the engine's thread, before the answer.
using InvocationSink = std::function<void(const InvocationContext&)>;

inline json::value answer(const json::value& event, const InvocationContext& ctx) {
  return json::object{{"key", ctx.idempotency_key}, {"state", ctx.state_name}, {"attempt", ctx.attempt}, {"in", event}};
}

// Sleeps the event's "ms" when `sleep` is true: a real worker takes a few
// milliseconds per task, so kills land while tasks are in flight.
inline void take_time(const json::value& event, bool sleep) {
  if (!sleep || !event.is_object()) return;
  const auto* ms = event.get_object().if_contains("ms");
  if (ms && ms->is_int64()) std::this_thread::sleep_for(std::chrono::milliseconds(ms->get_int64()));
}

inline void register_functions(FunctionRegistry& functions, InvocationSink sink, bool sleep) {
  functions.add("Work", [sink, sleep](const json::value& event, const InvocationContext& ctx) -> json::value {
    sink(ctx);
    take_time(event, sleep);
    return answer(event, ctx);
  });
  functions.add("Flaky", [sink, sleep](const json::value& event, const InvocationContext& ctx) -> json::value {
    sink(ctx);
    take_time(event, sleep);
    if (ctx.attempt == 0) throw TaskError("Boom", ctx.idempotency_key);
    return answer(event, ctx);
  });
  functions.add("Fatal", [sink](const json::value&, const InvocationContext& ctx) -> json::value {
    sink(ctx);
    throw TaskError("Nope", ctx.idempotency_key);
  });
}

}  // namespace stepwise::crashtest
