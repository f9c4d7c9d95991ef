// Redrive (AWS RedriveExecution): a FAILED, TIMED_OUT or ABORTED Standard
// execution continues from where it stopped, with the same ARN, definition
// and input. Pure: from the execution's final snapshot to the snapshot that
// continues it; the caller records the result and runs it with
// Engine::resume.
//
//   auto plan = prepare_redrive(*def, final_snapshot, clock.now());
//   if (!plan) ... plan.failure().error == "ExecutionNotRedrivable" ...
//   store: append plan->events, save plan->snapshot, redriveCount/redriveDate
//   engine.resume(def, std::move(plan->snapshot), options, on_done);
//
// What runs again (as the AWS developer guide describes redrive): every state
// that was entered and not left, entered anew with the input it had, its
// retry counts back at 0 and its TimeoutSeconds from the redrive; states
// already left are not run again. Inside a Parallel only the branches that
// failed or were aborted run again, inside a Map only the iterations that
// failed (tolerated or not), were aborted, or had not started; the others keep
// their results, in order. A Parallel or Map whose own output processing
// failed (e.g. States.DataLimitExceeded) runs again whole. A Fail state
// fails again; a Wait waits again (a past timestamp at once); a Choice
// evaluates its rules again. The machine's TimeoutSeconds counts from the
// redrive.
//
// History: ExecutionRedriven {"redriveCount": n} follows the last event; then
// each state run again writes its ...StateEntered again; a Parallel or Map
// continued writes ParallelStateEntered + ParallelStateStarted (Map:
// MapStateEntered + MapStateStarted with the full length, and
// MapIterationStarted for each iteration it runs again, by index, under
// MaxConcurrency), then its exit as usual. $$.Execution.RedriveCount is n and
// $$.Execution.RedriveTime the redrive's time.
//
// The final snapshot holds what this needs only if the execution ran with
// RunOptions::on_transition (see engine/execution_state.h); the snapshot
// format is in engine/snapshot.h.
#pragma once

#include <vector>

#include "engine/clock.h"
#include "engine/history.h"
#include "engine/snapshot.h"
#include "states/definition.h"
#include "states/failure.h"

namespace stepwise {

struct RedrivePlan {
  ExecutionSnapshot snapshot;        // RUNNING again, ready to pass to Engine::resume
  std::vector<HistoryEvent> events;  // ExecutionRedriven (its id follows the history's last)
};

// The most events a history may hold to be redriven: AWS redrives an
// execution whose history holds fewer than 24,999 events (room for
// ExecutionRedriven and one more under the 25,000 limit).
inline constexpr std::int64_t kRedriveMaxEvents = 24999;

// From the snapshot an execution had when it ended (status FAILED, TIMED_OUT
// or ABORTED), builds the snapshot that continues it as RedriveExecution
// does; `now` is the redrive's time. Fails with error
// "ExecutionNotRedrivable" and AWS's reason as the cause when the execution
// is RUNNING or SUCCEEDED, belongs to an EXPRESS state machine, has a history
// of kRedriveMaxEvents events or more, was started more than a year before
// `now`, or ended before its first state ran; with "Stepwise.SnapshotMismatch"
// when the snapshot does not fit `def`. The 14-day redrivable period counts
// from the execution's stop date, which the snapshot does not hold: the
// caller checks it.
Result<RedrivePlan> prepare_redrive(const states::Definition& def, const ExecutionSnapshot& ended, Nanos now);

}  // namespace stepwise
