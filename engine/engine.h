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
#include "engine/snapshot.h"
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
  // Where a distributed Map's ItemReader and ResultWriter find S3 objects:
  // s3://<Bucket>/<Key> is <data_dir>/<Bucket>/<Key> (docs/distributed-map.md
  // "Data directory"). Relative paths are relative to the working directory.
  std::string data_dir = "data";
  // Identity used in ARNs and the context object.
  std::string region = "us-east-1";
  std::string account = "123456789012";
};

// What RunOptions::on_transition receives: the execution as it stands. Valid
// only during the call. Nothing is copied or serialized unless asked.
struct Checkpoint {
  const ExecutionState& state;
  const RunQueue& queue;  // what runs next, in order (see RunQueue)

  json::value to_json() const { return snapshot_to_json(state, queue); }
  ExecutionSnapshot snapshot() const { return ExecutionSnapshot{state, queue}; }
};

// Called on the engine's thread each time an execution's state has changed,
// at a point where it can be saved and resumed from (Engine::resume):
//  - once after the execution started (ExecutionStarted written, the top
//    frame ready, or the execution already failed);
//  - after each step of a frame: a state entered and left (a transition), or
//    entered and now waiting (task scheduled, Wait or retry backoff timer
//    armed, Parallel/Map children launched), a failure taken by Retry or
//    Catch, a frame that ended and handed its output or error to its parent
//    (child ended, next Map iteration launched, branches aborted);
//  - after each delivery that changed the execution: a task's completion
//    (the Task state left or caught, or a retry backoff armed), a task
//    timeout, a heartbeat (it moves the deadline), the execution timeout.
//    A timer that fires is reported by the step it lets run.
// The last call shows the terminal status; it comes before on_done. Every
// history event an execution writes reaches on_event before the call that
// follows it, so a store can write the events it received since the
// previous call and this snapshot in one transaction. Stale deliveries (a
// task completing after its timeout) change nothing and call nothing.
using TransitionSink = std::function<void(const Checkpoint&)>;

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
  // Also receives each event as it happens, as text (see EventWriter); not
  // owned: it must outlive the execution's run in the engine.
  EventWriter* event_writer = nullptr;
  // Receives the execution's state after each transition (see TransitionSink).
  // Unset: no snapshot is taken and the run costs nothing extra.
  TransitionSink on_transition;
};

// What Engine::prepare builds: an execution recorded before any engine runs it.
struct PreparedExecution {
  ExecutionSnapshot snapshot;         // ExecutionStarted written, the top frame ready
  std::vector<HistoryEvent> events;   // ExecutionStarted (and ExecutionFailed if the input is too large)
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

  // Continues an execution from a snapshot taken by RunOptions::on_transition
  // (possibly in another process), against the definition it ran. Ready
  // frames run and pending deliveries are re-created in the snapshot's order
  // (RunQueue); Wait and retry-backoff timers fire
  // at their original due times (at once if already past); a task that was
  // in flight is invoked again with the same payload, attempt and
  // idempotency key (at-least-once), its timeout and heartbeat deadlines kept;
  // Parallel and Map states keep the results collected so far while their
  // running children continue; the execution timeout keeps its deadline.
  // A snapshot of an execution that had ended reports its result at once.
  // The identity (ARN, names) comes from the snapshot: the RunOptions naming
  // fields are ignored; type, invoker, history and hooks apply. History
  // continues at the next event id; ExecutionResult::history holds only the
  // events written after the resume.
  // Fails (nothing started) when the snapshot is malformed or does not fit
  // the definition (check_snapshot). Returns the execution ARN.
  Result<std::string> resume(std::shared_ptr<const states::Definition> definition, ExecutionSnapshot snapshot,
                             RunOptions options, std::function<void(ExecutionResult)> on_done);
  Result<std::string> resume(std::shared_ptr<const states::Definition> definition, const json::value& snapshot,
                             RunOptions options, std::function<void(ExecutionResult)> on_done);

  // Builds the execution start() would begin (identity, ExecutionStarted,
  // the top frame ready) without running it: for a caller that records the
  // execution first and runs it later with resume() (start-execution, then a
  // worker). Nothing stays in the engine.
  PreparedExecution prepare(std::shared_ptr<const states::Definition> definition, json::value input,
                            RunOptions options = {});

  // Stops a running execution as StopExecution does: every state in
  // progress writes its ...StateAborted event (Task, Wait, Parallel, Map),
  // then ExecutionAborted with the given error and cause; the final
  // checkpoint and on_done follow as for any end. In-flight tasks are not
  // cancelled; their answers are ignored. False when the engine runs no such
  // execution (or it has ended). Call from the engine's thread, between
  // run/poll calls.
  bool stop(const std::string& execution_arn, std::optional<std::string> error, std::optional<std::string> cause);

  // Forgets an execution without ending it: no event, no checkpoint, no
  // on_done (someone else ended it or owns it now, e.g. a stop recorded by
  // another process). Late task answers and timers for it are ignored.
  // False when the engine runs no such execution. Safe from inside an
  // on_transition / on_event / on_done callback.
  bool abandon(const std::string& execution_arn);

  // An activity worker took the task waiting with `task_token` (see
  // TaskDispatch::awaits_worker): writes ActivityStarted with its name (none
  // when empty). False when no task of a running execution waits for a
  // worker with that token. Call from the engine's thread: between run/poll
  // calls, or from an invoker's invoke() (the step under way then reports
  // the change to on_transition).
  bool task_started(const std::string& execution_arn, const std::string& task_token, const std::string& worker_name);
  // A heartbeat sent at `at` for the task waiting with `task_token`: its
  // heartbeat deadline becomes at + HeartbeatSeconds unless already later (so
  // the same heartbeat told twice changes nothing). False when nothing
  // changed. Called as task_started.
  bool task_heartbeat(const std::string& execution_arn, const std::string& task_token, Nanos at);

  // Drives every started execution until all have ended.
  void run_pending();

  // Runs whatever is ready and due, and returns once that is done. When
  // nothing was, waits for a task answer or a timer (virtual time: moves the
  // clock to the next timer) and runs what it brings; returns after
  // `max_wait` of real time in any case, or at once when no execution is
  // waiting for anything. For a caller with its own loop (a worker that
  // commits between rounds).
  void poll(Nanos max_wait);

  // Executions started or resumed and not yet ended.
  std::size_t active() const;
  // Work is ready to run now (frames queued, answers or timers delivered but
  // not yet run): a poll that returned at the end of its work slice.
  bool busy() const;

  const EngineOptions& options() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace stepwise
