// Everything one execution changes while it runs, as plain data: the parsed
// definition stays immutable and shared; this is what the durable store saves
// at every transition and restores after a crash.
//
// An execution is a tree of frames. A frame runs one (sub)machine: the top
// level, one Parallel branch, or one Map iteration. A frame is in one phase:
// ready to run its current state, waiting for a task, a timer (Wait, retry
// backoff) or its children (Parallel/Map), or done: halted, kept for a
// redrive (see Frame::halted and engine/redrive.h).
//
// When an execution runs with RunOptions::on_transition, what a redrive needs
// is kept as it fails: a branch or iteration that fails, and the siblings
// aborted with it, stay (phase Done) under their Parallel/Map frame, which
// keeps the results of the others, until that state is left (retried,
// caught, or succeeded with tolerated failures); a frame whose state fails
// keeps that state's raw input. So the final snapshot of a FAILED,
// TIMED_OUT or ABORTED execution shows every state that was entered and not
// left, with its input.
//
// engine/snapshot.h turns this into JSON and back; Engine::resume continues
// an execution from it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/clock.h"
#include "states/definition.h"
#include "states/json.h"

namespace stepwise {

enum class ExecutionStatus : std::uint8_t { Running, Succeeded, Failed, TimedOut, Aborted };
const char* status_name(ExecutionStatus s);  // "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"

enum class FramePhase : std::uint8_t { Ready, Task, Timer, Children, Done };
enum class TimerKind : std::uint8_t { None, Wait, Retry };

struct Frame {
  std::uint32_t id = 0;
  std::int32_t parent = -1;  // owning Parallel/Map frame, -1 for the top level
  std::uint32_t slot = 0;    // branch or item index within the parent
  states::MachineId machine = 0;
  states::StateIndex state = 0;
  FramePhase phase = FramePhase::Ready;
  bool entered = false;  // the current state's ...StateEntered event is written
  bool in_use = false;
  // Runs inside a distributed Map: its events belong to the child execution's
  // history (see the distributed Map issue), not to this one.
  bool quiet = false;

  json::value input;  // raw input of the current state
  // Effective input (after InputPath and Parameters): a Wait's, a Map's, and
  // a Task's request payload while the task is in flight (so a resumed
  // execution invokes it again with the very same payload).
  json::value effective;
  std::int64_t entered_event = 0;
  Nanos entered_time = 0;
  std::int64_t last_event = 0;  // previousEventId for this frame's next event

  // The workflow variables this frame's (sub)machine has assigned: the
  // execution's for the top-level frame, a Parallel branch's or Map
  // iteration's own scope otherwise (outer scopes are read through `parent`).
  json::object variables;

  // Retry bookkeeping of the current state.
  std::uint32_t retry_count = 0;
  std::vector<std::uint32_t> attempts;  // per retrier

  // What the frame waits for: a completion or timer carrying this token.
  std::uint64_t token = 0;
  TimerKind timer = TimerKind::None;
  Nanos due = 0;                 // when the Wait or retry-backoff timer fires
  Nanos task_deadline = 0;       // 0: none
  double task_timeout_seconds = 0;  // the request's TimeoutSeconds, 0: none
  Nanos heartbeat_deadline = 0;  // 0: none
  double heartbeat_seconds = 0;
  std::optional<std::string> task_token;  // .waitForTaskToken, .sync, activities
  // An activity task no worker has taken yet: ActivityStarted is written
  // when one does (Engine::task_started), not when it is scheduled.
  bool awaiting_worker = false;
  // The current task call's number within the execution (1-based, see
  // ExecutionState::task_calls; 0: none yet in this state) and the retry
  // attempt it was made for: a resumed task invoked again keeps its number.
  std::uint32_t call_index = 0;
  std::uint32_t call_attempt = 0;

  // Parallel / Map progress.
  json::array items;    // Map: the items
  json::array results;  // outputs by branch / item index
  std::uint32_t total = 0, launched = 0, succeeded = 0, failed = 0, running = 0;
  std::uint32_t max_concurrency = 0;  // 0: unlimited
  std::optional<double> tolerated_percentage;
  std::optional<std::int64_t> tolerated_count;
  std::vector<std::uint32_t> children;  // frame ids of running children
  // Children that stopped without finishing (failed, or aborted by a failure)
  // and are kept, in phase Done, for a redrive to run again from the state
  // where each stopped. Only while the execution runs with on_transition.
  std::vector<std::uint32_t> halted;
  // A redrive in progress: halted children waiting to run again, the next at
  // the back (by index: a Map launches them under MaxConcurrency before its
  // iterations not started yet).
  std::vector<std::uint32_t> relaunch;
  // Set by a redrive on a Parallel/Map frame that had progress: when the
  // state is entered again it runs only `relaunch` and the iterations not
  // started, keeping the other results.
  bool rerun = false;
  // A number no other frame of the execution had (0: none given; only a
  // definition with compensations numbers its frames): names the frame in
  // the scope of a completed step (see CompensationRecord).
  std::uint64_t serial = 0;

  bool operator==(const Frame&) const = default;
};

// ---- Sagas (docs/sagas.md) ------------------------------------------------

// A completed step that declares a Compensate block, in order of completion.
struct CompensationRecord {
  states::MachineId machine = 0;
  states::StateIndex state = 0;
  json::value input;   // the step's effective input
  json::value result;  // the step's result (before ResultSelector)
  // Serials of the frames the step ran in, innermost first: a Compensate
  // state rolls back the steps whose scope holds its own frame.
  std::vector<std::uint64_t> scope;
  enum class Status : std::uint8_t { Pending, Running, Succeeded, Failed } status = Status::Pending;
  std::string error, cause;  // when Failed
  bool operator==(const CompensationRecord&) const = default;
};

// A roll-back in progress: compensations run one at a time, in `order`.
struct RollBack {
  // The frame at the Compensate state that asked for it; kRollBackExecution
  // when the execution failed with an error nothing caught.
  std::uint32_t frame = 0;
  std::vector<std::uint32_t> order;  // indexes into SagaState::records, the next at `next`
  std::uint32_t next = 0;
  std::uint32_t failed = 0;  // compensations that failed after their retries
  // The current compensation call.
  enum class Phase : std::uint8_t { Ready, Task, Timer } phase = Phase::Ready;
  std::uint64_t token = 0;
  std::uint32_t retry_count = 0;
  std::vector<std::uint32_t> attempts;  // per retrier
  json::value payload;                  // the request, while in flight
  Nanos due = 0;                        // retry backoff
  Nanos task_deadline = 0;              // 0: none
  double timeout_seconds = 0;
  bool operator==(const RollBack&) const = default;
};
inline constexpr std::uint32_t kRollBackExecution = UINT32_MAX;

struct SagaState {
  std::vector<CompensationRecord> records;
  std::optional<RollBack> active;
  std::vector<std::uint32_t> waiting;  // Compensate-state frames queued behind `active`, first first
  // The execution failed with an error nothing caught: every frame stands
  // still, and once the roll-back has run the execution ends FAILED with it.
  bool failing = false;
  std::string error, cause;
  bool has_error = false, has_cause = false;
  std::uint64_t next_serial = 1;
  bool operator==(const SagaState&) const = default;
};

struct ExecutionState {
  std::string arn;
  std::string name;
  std::string state_machine_arn;
  std::string state_machine_name;
  std::string role_arn;
  json::value input;
  Nanos start_time = 0;
  std::string start_time_text;

  ExecutionStatus status = ExecutionStatus::Running;
  json::value output;
  std::string error, cause;
  bool has_error = false, has_cause = false;

  std::deque<Frame> frames;  // stable addresses; ids index this
  std::vector<std::uint32_t> free_frames;
  // Not part of the execution's value (not in the snapshot, not compared):
  // an upper bound on the serialized size of the variables of every frame
  // in use, with which the interpreter checks the execution's 10 MiB limit;
  // kUnknownBytes until first measured.
  static constexpr std::size_t kUnknownBytes = static_cast<std::size_t>(-1);
  struct VariablesBound {
    std::size_t bytes = kUnknownBytes;
    bool operator==(const VariablesBound&) const { return true; }
  };
  VariablesBound variables_bound;
  std::int64_t next_event_id = 1;
  std::uint64_t next_token = 1;
  std::int64_t states_entered = 0;
  Nanos deadline = 0;  // machine-level TimeoutSeconds, 0: none
  // Task calls made so far, by state name (retries and Map iterations
  // included): mocks answer the N-th call of a state (TaskRequest::call_index).
  std::map<std::string, std::uint32_t> task_calls;
  // Redrives so far ($$.Execution.RedriveCount) and when the last one
  // happened ($$.Execution.RedriveTime, 0: never redriven).
  std::int64_t redrive_count = 0;
  Nanos redrive_time = 0;
  // Completed compensable steps and the roll-back in progress (only a
  // definition with compensations fills it).
  SagaState saga;

  bool operator==(const ExecutionState&) const = default;
};

}  // namespace stepwise
