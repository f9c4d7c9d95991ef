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
//                 "nextToken","statesEntered","deadline"},
//    "frames":[<frame> | null, ...],   // index = frame id; null: a free slot
//    "freeFrames":[id, ...],
//    "ready":[id, ...]}
// Times are integers: nanoseconds since the Unix epoch. A frame member equal
// to its default (Frame{}) is omitted; JSON payloads (input, results, items)
// are embedded as they are, so every number keeps its kind.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/execution_state.h"
#include "states/definition.h"
#include "states/failure.h"
#include "states/json.h"

namespace stepwise {

inline constexpr std::int64_t kSnapshotVersion = 1;

struct ExecutionSnapshot {
  ExecutionState state;
  // Frames in phase Ready, in the order the engine would have advanced them.
  // On resume these run first, in this order; any other Ready frame follows.
  std::vector<std::uint32_t> ready;

  bool operator==(const ExecutionSnapshot&) const = default;
};

// The snapshot as JSON. Exact: snapshot_from_json(snapshot_to_json(s)) == s.
json::value snapshot_to_json(const ExecutionState& state, std::span<const std::uint32_t> ready);
inline json::value snapshot_to_json(const ExecutionSnapshot& s) { return snapshot_to_json(s.state, s.ready); }

// Reads a snapshot. A wrong version, a missing or mistyped member, or frames
// that do not hang together (ids, parents, children) fail with error
// "Stepwise.InvalidSnapshot" and a cause naming the member.
Result<ExecutionSnapshot> snapshot_from_json(const json::value& v);

// Whether the snapshot's frames fit `def`: every machine and state index in
// range, each frame's phase possible in its state's type (a Task phase on a
// Task state, children on a Parallel or Map, ...), each child running the
// branch or item processor its parent's state names. Returns the first
// problem as a Failure with error "Stepwise.SnapshotMismatch", or nullopt.
std::optional<Failure> check_snapshot(const states::Definition& def, const ExecutionSnapshot& snapshot);

const char* phase_name(FramePhase p);  // "READY", "TASK", "TIMER", "CHILDREN", "DONE"

}  // namespace stepwise
