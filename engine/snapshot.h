// An execution's progress as JSON: what RunOptions::on_transition hands out
// and what Engine::resume continues from (issue #3 persists it).
//
// A snapshot holds the whole ExecutionState (identity, input, outcome,
// counters, every frame) and the order in which its ready frames run next.
// It does not hold the definition: the caller keeps the state machine version
// the execution runs, and check_snapshot() refuses a snapshot whose frames do
// not fit the definition it is restored against.
//
// Format (version 1), an object:
//   {"version":1,
//    "execution":{"arn","name","stateMachineArn","stateMachineName","roleArn",
//                 "input","startTime","startTimeText","status","output",
//                 "error","cause","hasError","hasCause","nextEventId",
//                 "nextToken","statesEntered","deadline",
//                 "redriveCount","redriveTime"},   // the last two only once redriven
//    "frames":[<frame> | null, ...],   // index = frame id; null: a free slot
//    "freeFrames":[id, ...],
//    "ready":[id, ...], "readyFirst":n,
//    "pending":[{"frame":id,"kind":"TASK_DONE"|"TIMER"|"TASK_TIMEOUT"|
//                "HEARTBEAT_TIMEOUT"|"EXECUTION_TIMEOUT"}, ...]}
// Times are integers: nanoseconds since the Unix epoch. A frame member equal
// to its default (Frame{}) is omitted; JSON payloads (input, results, items)
// are embedded as they are, so every number keeps its kind.
//
// Format changes (the version stays 1: each addition is an optional member,
// so older snapshots read as before):
//  - redrive (engine/redrive.h): execution "redriveCount" and "redriveTime";
//    frame phase "DONE" (a halted branch or iteration kept for a redrive),
//    frame members "halted" and "relaunch" (ids of such children) and
//    "rerun" (a Parallel/Map that a redrive continues). A Wait frame waiting
//    on its timer now keeps its raw "input" (older snapshots moved it into
//    "effective"; both resume the same).
//  - sagas (docs/sagas.md), only for a definition with compensations:
//    execution "saga" {"records":[{"machine","state","input","result",
//    "scope":[serial...],"status":"PENDING"|"RUNNING"|"SUCCEEDED"|"FAILED",
//    "error","cause"}], "active":{"frame","order","next","failed","phase":
//    "READY"|"TASK"|"TIMER","token","retryCount","attempts","payload","due",
//    "taskDeadline","timeoutSeconds"}, "waiting":[frame ids], "failing",
//    "error","cause","hasError","hasCause","nextSerial"}; frame "serial".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/execution_state.h"
#include "states/definition.h"
#include "states/failure.h"
#include "states/json.h"

namespace stepwise {

inline constexpr std::int64_t kSnapshotVersion = 1;

// A delivery that had arrived for the execution but was not processed yet.
struct PendingWakeup {
  enum class Kind : std::uint8_t {
    TaskDone,
    Timer,
    TaskTimeout,
    HeartbeatTimeout,
    ExecutionTimeout
  };
  std::uint32_t frame = 0;  // unused for ExecutionTimeout
  Kind kind = Kind::TaskDone;
  bool operator==(const PendingWakeup&) const = default;
};

// What the engine would do next for the execution, in order: advance the
// first `ready_first` frames of `ready`, process `pending` (in arrival order),
// then advance the rest of `ready`. Resume re-creates exactly this order, so
// a resumed execution interleaves its branches as the original would have
// (for in-process functions that answer at once). A pending task completion
// is not stored: the task is invoked again (at-least-once).
struct RunQueue {
  std::vector<std::uint32_t> ready;  // frames in phase Ready
  std::uint32_t ready_first = 0;
  std::vector<PendingWakeup> pending;
  bool operator==(const RunQueue&) const = default;
};

struct ExecutionSnapshot {
  ExecutionState state;
  RunQueue queue;
  bool operator==(const ExecutionSnapshot&) const = default;
};

// The snapshot as JSON. Exact: snapshot_from_json(snapshot_to_json(s)) == s.
json::value snapshot_to_json(const ExecutionState& state, const RunQueue& queue);
inline json::value snapshot_to_json(const ExecutionSnapshot& s) {
  return snapshot_to_json(s.state, s.queue);
}

// Reads a snapshot. A wrong version, a missing or mistyped member, or frames
// that do not hang together (ids, parents, children) fail with error
// "Stepwise.InvalidSnapshot" and a cause naming the member.
Result<ExecutionSnapshot> snapshot_from_json(const json::value& v);

// Whether the snapshot's frames fit `def`: every machine and state index in
// range, each frame's phase possible in its state's type (a Task phase on a
// Task state, children on a Parallel or Map, ...), each child running the
// branch or item processor its parent's state names. Returns the first
// problem as a Failure with error "Stepwise.SnapshotMismatch", or nullopt.
std::optional<Failure> check_snapshot(const states::Definition& def,
                                      const ExecutionSnapshot& snapshot);

const char* phase_name(FramePhase p);  // "READY", "TASK", "TIMER", "CHILDREN", "DONE"

}  // namespace stepwise
