// Functions run in worker processes, as a serverless platform runs them.
//
// One FunctionPool per declared function. python3 and node workers load the
// handler once (the cold start, timed as init duration) and then serve
// invocations one at a time, keeping module state; an exec function runs one
// process per invocation. A pool starts a worker when an invocation finds
// none idle, up to ReservedConcurrentExecutions; beyond that invocations wait
// in order, or fail with Lambda.TooManyRequestsException when the function's
// ConcurrencyOverflow is "Throttle". ProvisionedConcurrency workers are
// started at once and never retired; others are retired after IdleTimeout
// seconds without work.
//
// Failures, as the task sees them (Error, Cause):
//   handler exception   errorType, {"errorMessage","errorType","stackTrace"}
//   handler won't load  Runtime.ImportModuleError / Runtime.HandlerNotFound / ..., same shape
//   Timeout exceeded    States.Timeout (the worker is killed)
//   crash, bad reply    Lambda.Unknown (the worker is replaced)
//   MemorySize exceeded Lambda.Unknown, errorType Runtime.OutOfMemory in the Cause (the worker is killed)
//   throttled           Lambda.TooManyRequestsException
// Every outcome carries an InvocationReport (TaskOutcome::report).
//
// Memory: a worker's peak resident memory (VmHWM) is checked every
// check_interval while it runs and once more when it answers; over
// MemorySize, the worker is killed and the invocation fails. (No cgroups and
// no RLIMIT_AS: V8 and CPython reserve far more address space than they use.)
//
// Timeouts and idle retirement are decided by the injected Clock, checked
// every check_interval of real time; durations in reports are real
// (steady-clock) time.
//
// Thread safety: all methods may be called from any thread; completions run
// on the pool's threads (or inline for a throttled or refused invocation).
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "engine/clock.h"
#include "engine/invoker.h"
#include "runtime/functions_file.h"

namespace stepwise {

struct RuntimeOptions {
  std::shared_ptr<Clock> clock;    // timeouts and idle retirement; null: the system clock
  std::string shim_dir;            // python3_shim.py and node_shim.js; empty: locate_shim_dir()
  std::string log_dir;             // each function's stdout/stderr go to DIR/NAME.log; empty: discarded
  std::string python = "python3";  // interpreters: a path, or a name looked up in PATH
  std::string node = "node";
  Nanos check_interval = 10 * kNanosPerMilli;  // real time between deadline and memory checks
  Nanos init_timeout = 10 * kNanosPerSecond;   // loading a handler, by the clock
  // Called with every invocation's report (throttled ones included), before
  // its completion, on the thread that completes it.
  std::function<void(const InvocationReport&)> on_report;
};

// Where the runtime shims are: beside the running binary (DIR/runtime), in
// DIR/../share/stepwise/runtime, else the source tree this was built from.
std::string locate_shim_dir();

struct PoolStats {
  int workers = 0;  // worker threads (started, starting or idle)
  int idle = 0;
  std::size_t queued = 0;
  std::int64_t invocations = 0;
  std::int64_t cold_starts = 0;  // worker processes started (provisioned ones included)
  std::int64_t throttles = 0;
  std::int64_t retired = 0;  // workers retired for idleness
};

class FunctionPool {
 public:
  FunctionPool(FunctionConfig config, RuntimeOptions options);
  ~FunctionPool();  // shutdown()
  FunctionPool(const FunctionPool&) = delete;
  FunctionPool& operator=(const FunctionPool&) = delete;

  // Runs the function on `event`; `done` is called once with its result or
  // failure and the report (which names the calling execution and state, if
  // given).
  void invoke(json::value event, TaskCompletion done, std::string execution_arn = {}, std::string state_name = {});

  // Fails queued invocations, kills the workers (an invocation in flight
  // fails with Lambda.ServiceException) and joins the threads. Idempotent.
  void shutdown();

  PoolStats stats() const;
  const FunctionConfig& config() const { return config_; }

 private:
  struct Job {
    json::value event;
    TaskCompletion done;
    std::string execution_arn;
    std::string state_name;
  };
  struct Slot {
    std::thread thread;
    pid_t pid = -1;         // the worker process (or exec child) while it lives
    bool retired = false;   // left for idleness (already uncounted)
    bool released = false;  // counted idle already, before its completion ran
    bool finished = false;  // its thread is done: to join
  };
  class Worker;  // one thread's loop: its process and what it is doing

  void start_slot(bool provisioned);  // mu_ held
  bool next_job(Slot& slot, Job& job);
  void slot_finished(Slot& slot);
  void join_finished();
  std::string new_request_id();
  void complete(Job& job, TaskOutcome outcome);

  const FunctionConfig config_;
  RuntimeOptions options_;
  std::string shim_dir_;
  std::string log_path_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<Job> queue_;
  std::list<Slot> slots_;
  int workers_ = 0;
  int idle_ = 0;
  bool stopping_ = false;
  PoolStats counters_;
  std::mt19937_64 random_;
};

// The Invoker over a functions file: Task resources naming a declared
// function (Lambda ARN, or lambda:invoke's FunctionName) run in its pool;
// lambda:invoke results are wrapped as AWS wraps them. Other resources go to
// `fallback` (e.g. the engine's in-process functions); with no fallback they
// fail with Lambda.ResourceNotFoundException.
class FunctionInvoker final : public Invoker {
 public:
  FunctionInvoker(const FunctionsFile& file, RuntimeOptions options, std::shared_ptr<Invoker> fallback = nullptr);
  ~FunctionInvoker() override;

  void invoke(const TaskRequest& request, TaskCompletion done, TaskHeartbeat heartbeat) override;
  // Runs a declared function directly (stepwise invoke); false when there is
  // no such function.
  bool invoke_function(const std::string& name, json::value event, TaskCompletion done);

  FunctionPool* pool(const std::string& name);
  void shutdown();

 private:
  std::map<std::string, std::unique_ptr<FunctionPool>, std::less<>> pools_;
  std::shared_ptr<Invoker> fallback_;
};

}  // namespace stepwise
