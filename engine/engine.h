// The Stepwise engine: runs ASL state machines. This is the public header for
// programs that embed Stepwise (see docs/embedding.md).
//
//   stepwise::Engine engine;
//   engine.functions().add("Echo", [](const json::value& e, const auto&) { return e; });
//   auto def = stepwise::states::parse_definition_text(text);   // check def.diagnostics
//   auto result = engine.run(*def.definition, input);
//
// Thread safety: an Engine is driven by one thread at a time (the one calling
// run/run_pending). Functions may complete asynchronously from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/clock.h"
#include "engine/execution_state.h"
#include "engine/functions.h"
#include "engine/history.h"
#include "engine/invoker.h"
#include "states/definition.h"
#include "states/scope.h"

namespace stepwise {


struct EngineOptions {
  // Time source. Null: the system clock.
  std::shared_ptr<Clock> clock;
  // When true (tests, conformance), the engine never sleeps: with nothing
  // left to do but wait, it moves `clock` (which must be a ManualClock)
  // straight to the next due timer.
  bool virtual_time = false;
  // Random source for jitter, States.MathRandom and States.UUID. Null: seeded from the OS.
  std::shared_ptr<states::RandomSource> random;
  // Largest state input/output or task result in bytes (AWS: 256 KiB).
  std::size_t payload_limit = 256 * 1024;
  // Identity used in ARNs and the context object.
  std::string region = "us-east-1";
  std::string account = "123456789012";
};

struct RunOptions {
  std::string state_machine_name = "StateMachine";
  std::string execution_name;  // empty: a random UUID
  std::string role_arn;        // empty: arn:aws:iam::ACCOUNT:role/StepwiseExecutionRole
  // STANDARD, or EXPRESS started asynchronously (StartExecution) or
  // synchronously (StartSyncExecution). An Express execution ARN reads
  // ...:express:SM:NAME:UUID; a synchronous one's context has no RedriveCount.
  enum class Type { Standard, Express, ExpressSync } type = Type::Standard;
  // The execution ARN, when the caller (e.g. a store) assigns it; empty: derived
  // from the region, account, state machine name and execution name.
  std::string execution_arn;
  // Replaces the engine's invoker for this execution's tasks (e.g. a MockInvoker).
  std::shared_ptr<Invoker> invoker;
  // Keep the full history in ExecutionResult::history.
  bool record_history = false;
  // Receives each event as it happens (e.g. --trace).
  EventSink on_event;
};

struct ExecutionResult {
  ExecutionStatus status = ExecutionStatus::Running;
  json::value output;  // when Succeeded
  std::string error;   // when Failed / TimedOut / Aborted
  std::string cause;
  bool has_error = false;
  bool has_cause = false;
  std::string execution_arn;
  std::int64_t events = 0;  // number of history events written
  std::int64_t states_entered = 0;
  std::vector<HistoryEvent> history;  // when RunOptions::record_history
};

class Engine {
 public:
  explicit Engine(EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // In-process functions, reached by Lambda ARNs and lambda:invoke.
  FunctionRegistry& functions();

  // Replaces the default invoker (the function registry) for all executions.
  void set_invoker(std::shared_ptr<Invoker> invoker);
  // The invoker executions use unless RunOptions::invoker says otherwise
  // (e.g. the fallback of a MockInvoker).
  std::shared_ptr<Invoker> invoker() const;

  // Runs one execution to its end and returns its result. Other executions
  // started with start() progress meanwhile.
  ExecutionResult run(std::shared_ptr<const states::Definition> definition, json::value input,
                      RunOptions options = {});

  // Starts an execution; on_done is called (on the engine's thread) when it ends.
  // Returns the execution ARN.
  std::string start(std::shared_ptr<const states::Definition> definition, json::value input,
                    RunOptions options, std::function<void(ExecutionResult)> on_done);

  // Drives every started execution until all have ended.
  void run_pending();

  const EngineOptions& options() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace stepwise
