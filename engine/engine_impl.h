// Internal to engine/: the execution loop and the interpreter of state types.
// Not part of the public API.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <deque>
#include <optional>
#include <map>
#include <mutex>
#include <memory>
#include <queue>
#include <random>
#include <thread>
#include <unordered_map>

#include "engine/engine.h"
#include "engine/execution_state.h"

namespace stepwise {

// Which states read the context object ("$$"): built once per definition so
// the engine builds the context object only where it is read.
struct DefinitionPlan {
  std::vector<std::vector<bool>> uses_context;  // [machine][state]
};

// What a resumed execution still has to re-create once the frames that ran
// first have run (see RunQueue and Engine::Impl::finish_restore).
struct ResumeRest {
  RunQueue queue;  // ready: the frames after the pending deliveries
  // Frames that were waiting for a timer or a task, by the token they waited
  // with (in arming order).
  std::vector<std::pair<std::uint32_t, std::uint64_t>> waiting;
  std::vector<std::uint64_t> token_of;  // by frame id: the token it waited with, 0: none
  bool pending_restored = false;
  std::vector<bool> handled;  // by frame id: a pending delivery took care of it
};

struct Execution {
  std::uint64_t key = 0;
  std::shared_ptr<const states::Definition> def;
  std::shared_ptr<const DefinitionPlan> plan;
  ExecutionState st;
  RunOptions options;
  std::shared_ptr<Invoker> invoker;
  std::function<void(ExecutionResult)> on_done;
  std::vector<HistoryEvent> history;
  std::deque<std::uint32_t> ready;  // frames to advance
  bool finished = false;
  bool hooked = false;           // options.on_transition is set
  bool abandoned = false;        // dropped by Engine::abandon: reaped silently
  // A resumed execution: what to do once the frames that ran first before
  // the snapshot's pending deliveries have run (see RunQueue).
  std::unique_ptr<ResumeRest> resume_rest;
  std::uint64_t checkpoints = 0;  // calls of options.on_transition so far
};

inline constexpr std::uint32_t kNoFrame = UINT32_MAX;
// Wakeup::frame of a roll-back's compensation call (engine/saga.cpp).
inline constexpr std::uint32_t kSagaFrame = UINT32_MAX - 1;

// A task completion or timer delivered back to the loop.
struct Wakeup {
  std::uint64_t exec = 0;
  std::uint32_t frame = 0;
  std::uint64_t token = 0;
  enum class Kind : std::uint8_t { TaskDone, Heartbeat, Timer, TaskTimeout, HeartbeatTimeout, ExecutionTimeout } kind;
  TaskOutcome outcome;
};

struct TimerEntry {
  Nanos due;
  std::uint64_t seq;
  Wakeup w;
  bool operator>(const TimerEntry& o) const { return due != o.due ? due > o.due : seq > o.seq; }
};

class DefaultRandom final : public states::RandomSource {
 public:
  // Seeded with 256 bits: one 32-bit seed would give only 2^32 sequences, so
  // engines made per StartExecution would repeat execution names (about one
  // collision in 100,000 starts).
  DefaultRandom() {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device(), device(), device()};
    gen_.seed(seed);
  }
  std::uint64_t next_u64() override { return gen_(); }

 private:
  std::mt19937_64 gen_;
};

// Where task completions are delivered. Completions may arrive from any
// thread and after the engine is gone (a function that outlives it): they hold
// this by shared_ptr, and the engine detaches it when destroyed.
class Mailbox {
 public:
  explicit Mailbox(Engine::Impl* impl) : impl_(impl) {}
  void deliver(Wakeup w);
  void detach() {
    std::lock_guard lock(mu_);
    impl_ = nullptr;
  }

 private:
  std::mutex mu_;
  Engine::Impl* impl_;
};

class Engine::Impl {
 public:
  explicit Impl(EngineOptions o);
  ~Impl() { mailbox->detach(); }

  // The loop (engine.cpp).
  std::uint64_t start(std::shared_ptr<const states::Definition> def, json::value input, RunOptions options,
                      std::function<void(ExecutionResult)> on_done);
  // Runs until done() or nothing is left to wait for; with `until`, also
  // returns once that real (steady) time has passed.
  using Steady = std::chrono::steady_clock;
  void run_until(const std::function<bool()>& done, std::optional<Steady::time_point> until = std::nullopt);
  Execution* find(const std::string& arn);
  // The engine's StopExecution (interpreter.cpp).
  void stop(Execution& ex, std::optional<std::string> error, std::optional<std::string> cause);
  void deliver(Wakeup w);  // from any thread
  void arm(Nanos due, Wakeup w);
  Result<std::uint64_t> resume(std::shared_ptr<const states::Definition> def, ExecutionSnapshot snapshot,
                               RunOptions options, std::function<void(ExecutionResult)> on_done);
  void schedule(Execution& ex, std::uint32_t fid);
  // Reports the execution to options.on_transition; `current` is the frame
  // being advanced when it is still ready (it runs before ex.ready).
  void checkpoint(Execution& ex, std::uint32_t current = kNoFrame);
  void complete(Execution& ex);  // the execution has ended: report it
  // Registers a new execution (not started yet).
  Execution& add_execution(std::shared_ptr<const states::Definition> def, RunOptions options,
                           std::function<void(ExecutionResult)> on_done);
  std::shared_ptr<const DefinitionPlan> plan_for(const std::shared_ptr<const states::Definition>& def);

  // The interpreter (interpreter.cpp).
  void begin(Execution& ex);
  void advance(Execution& ex, std::uint32_t fid);
  void on_wakeup(Execution& ex, Wakeup& w);
  // Engine::task_started / Engine::task_heartbeat (interpreter.cpp).
  bool task_started(Execution& ex, const std::string& task_token, const std::string& worker_name);
  bool task_heartbeat(Execution& ex, const std::string& task_token, Nanos at);
  bool apply_wakeup(Execution& ex, Wakeup& w);  // false: stale, nothing changed
  // A resumed execution, at the loop's first visit: re-creates its pending
  // deliveries (tasks invoked again answer into the inbox in their order).
  void restore_pending(Execution& ex);
  // ... once its first ready frames have run: re-arms its other timers,
  // invokes its other tasks again, schedules its other ready frames.
  void finish_restore(Execution& ex);
  // The interpreter's side of a roll-back (interpreter.cpp): the execution
  // ends FAILED with the error the roll-back was run for; a Compensate
  // state's frame continues with the roll-back's report.
  void end_rolled_back(Execution& ex);
  void compensate_state_done(Execution& ex, std::uint32_t fid, json::value report);

  // Sagas (saga.cpp, docs/sagas.md).
  // A Task, Parallel or Map state with a Compensate block completed in frame
  // `fid`: remember it for a roll-back.
  void saga_record(Execution& ex, std::uint32_t fid, json::value input, json::value result);
  // The execution failed with an error nothing caught: true when a roll-back
  // runs first (every frame then stands still); false to end it now.
  bool saga_fail(Execution& ex, const Failure& failure);
  // A Compensate state in frame `fid` asks for the roll-back of its scope:
  // the report when there is nothing to wait for, else nullopt (the frame
  // waits in phase Children until compensate_state_done).
  std::optional<json::value> saga_request(Execution& ex, std::uint32_t fid);
  // A delivery for the roll-back's current call (Wakeup::frame kSagaFrame).
  bool saga_wakeup(Execution& ex, Wakeup& w);
  // A resumed execution: invokes the roll-back's call in flight again or
  // re-arms its retry timer.
  void saga_restore(Execution& ex);

  EngineOptions opts;
  std::shared_ptr<FunctionRegistry> functions = std::make_shared<FunctionRegistry>();
  std::shared_ptr<Invoker> invoker;  // default: functions
  std::shared_ptr<states::RandomSource> random;
  Clock* clock = nullptr;
  ManualClock* manual_clock = nullptr;

  std::shared_ptr<Mailbox> mailbox = std::make_shared<Mailbox>(this);
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard;
  std::thread::id loop_thread;
  bool in_loop = false;  // inside run_until (executions may be in use on the stack)
  std::deque<Wakeup> local_inbox;
  bool in_wakeup = false;  // processing a delivery (checkpoint() orders the queue by it)
  // checkpoint()'s working memory, kept from one transition to the next so
  // that a recorded run does not allocate and free it per transition.
  RunQueue checkpoint_queue;
  std::vector<bool> checkpoint_seen;
  // The last ...StateExited event's output as its details hold it (escaped),
  // for the ...StateEntered event that follows it in the same frame, whose
  // input is the same value: copied instead of serialized again. Valid only
  // for the event right after it (`event`) of that execution and frame.
  struct ExitedPayload {
    std::uint64_t exec = 0;  // Execution::key; 0: none
    std::uint32_t frame = kNoFrame;
    std::int64_t event = 0;  // the StateExited event's id
    Nanos time = 0;          // and its timestamp
    std::string text;
  } exited_payload;
  std::size_t in_flight = 0;  // tasks invoked and not yet completed
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timers;
  std::uint64_t timer_seq = 0;
  std::map<std::uint64_t, std::unique_ptr<Execution>> executions;
  std::deque<std::uint64_t> runnable;  // executions that have ready frames
  std::uint64_t next_key = 1;
  std::map<const states::Definition*, std::weak_ptr<const DefinitionPlan>> plans;
};

}  // namespace stepwise
