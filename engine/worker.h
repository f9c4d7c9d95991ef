// The durable runtime: a Worker runs the executions recorded in a Store with
// an Engine, and records every transition back into the store.
//
// Each execution is owned by one worker at a time through a lease (see
// Store::acquire_lease). A worker claims RUNNING executions whose lease is
// free or expired, resumes each from its last stored snapshot, and commits
// each transition (its history events, its new snapshot, its wake-up timer,
// its outcome) with the execution's version as an optimistic check and its
// lease as a guard. So after a crash (SIGKILL, power loss) an execution
// continues from its last committed transition: states whose transition was
// committed are not run again; a task that was in flight is invoked again
// with the same idempotency key (at-least-once); a timer fires at its
// original due time.
//
// Group commit: transitions are buffered and committed together, when the
// engine has nothing ready to run, when the buffer holds max_batch_events
// events, or when the oldest buffered transition is max_batch_delay old.
// With commit_in_background, a batch commits on a committer thread while the
// engine runs on and buffers the next one (at most one batch in flight: the
// next flush waits for it), so the engine's work and the store's (SQLite,
// fsync) overlap. A buffer that reaches max_batch_events (or max_batch_delay)
// while the batch in flight still commits keeps growing, up to
// max_batch_growth times max_batch_events, instead of stopping the engine to
// wait: a slower store gets larger transactions. Nothing is reported as ended (adopt's callback) before its
// end is committed. A transition that was not committed is simply run again after
// a crash: nothing outside the worker saw it but task invocations, and those
// are at-least-once anyway.
//
// A store error while committing (disk full, I/O error, ...) pauses the
// worker: it drops every execution it runs (nothing stored is lost: the
// store keeps each one's last committed transition), waits (100 ms, doubling
// to 5 s) and claims them again, as a restarted process would. A Conflict on
// one execution (stopped by StopExecution, or its lease taken over) drops
// that execution only.
//
// Callback (.waitForTaskToken) and activity tasks that no mock answers wait
// for the store: for SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat
// and, for activities, for a worker to take the task (GetActivityTask). Their
// tokens are stored with the transition that schedules them; a callback's
// integration (a lambda:invoke.waitForTaskToken function) is called once its
// token is stored, so that it may answer at once. An execution that waits only
// for such tasks and timers is parked like a hibernating one (until a second
// before its next deadline; a result or an activity worker taking its task
// makes it claimable at once), unless hibernate_after is 0. One held in
// memory reads its tokens every round.
//
// Distributed Map (docs/distributed-map.md, "Map runs"): a Map state with
// ProcessorConfig Mode DISTRIBUTED of an execution this worker runs asks it
// for its map run (Invoker::runs_map_runs, kMapRunResource). The worker
// records the map run (Store::create_map_run), creates its items as child
// executions (ordinary RUNNING executions linked to the map run, whose
// definition is the ItemProcessor) up to MaxConcurrency, runs them like any
// other execution, and reads the map run's counts (kept by the store as
// children end) every round: over the tolerated failures it aborts the
// running children and fails the Map; when every child has ended it builds
// the Map's result from the children's outputs, in item order. All of it is
// read back from the store, so a restarted worker resuming the parent picks
// the map run up where it stood: finished children are not run again.
//
// Thread safety: a Worker and its Engine are driven by one thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/engine.h"
#include "storage/store.h"

namespace stepwise {

struct WorkerOptions {
  // The lease owner this worker writes; empty: "HOST:PID:RANDOM". A worker
  // frees the leases of owners on its own host whose process is gone, so a
  // restarted worker takes over at once instead of waiting for expiry.
  std::string owner;
  Nanos lease_duration = 30 * kNanosPerSecond;
  Nanos renew_every = 10 * kNanosPerSecond;
  // How often to look for executions to claim (new, redriven, orphaned).
  Nanos claim_every = 200 * kNanosPerMilli;
  int claim_batch = 256;
  // Claim executions on its own (stepwise worker); false: run only the
  // executions given to adopt() (stepwise run).
  bool claim = true;
  // The invoker for an execution's tasks, by state machine name (e.g. mocks);
  // unset or null: the engine's.
  std::function<std::shared_ptr<Invoker>(const std::string& state_machine_name)> invoker_for;
  // An execution that only waits for timers (Wait, retry backoff) due more
  // than this far ahead is parked: the commit of its state also releases its
  // lease until a second before the timer is due (Transition::park_until),
  // and the worker forgets it. Whichever worker claims next after that time
  // loads it again. A parked execution costs no memory and no lease
  // renewals. 0: never. Only a worker that claims (`claim`) parks.
  Nanos hibernate_after = 60 * kNanosPerSecond;
  // Also receives every event the worker's executions write (e.g. --trace).
  EventSink on_event;
  // Group commit thresholds (real time).
  std::size_t max_batch_events = 8192;
  Nanos max_batch_delay = 50 * kNanosPerMilli;
  // While a batch commits (commit_in_background), the next one may grow to
  // this many times max_batch_events before the engine waits for it. 1: it
  // never grows, batches are cut where the thresholds say whatever the
  // store's speed (e.g. a test that counts the store's writes).
  std::size_t max_batch_growth = 4;
  // Commit each batch on a committer thread while the engine runs on (see
  // above); false: commit on the worker's thread, before going on.
  bool commit_in_background = true;
};

struct WorkerStats {
  std::int64_t claimed = 0;      // executions claimed or adopted (again after a pause)
  std::int64_t ended = 0;        // executions whose end was committed
  std::int64_t dropped = 0;      // executions dropped after a Conflict
  std::int64_t commits = 0;      // store transactions
  std::int64_t transitions = 0;  // transitions committed
  std::int64_t events = 0;       // history events committed
  std::int64_t store_errors = 0;
  std::int64_t hibernated = 0;   // times an execution was parked until its timer
  std::int64_t commit_wait_ns = 0;  // real time the worker's thread waited for commits
  std::int64_t committer_cpu_ns = 0;  // CPU time of the committer thread so far (commit_in_background)
};

class Worker {
 public:
  using DoneCallback = std::function<void(const ExecutionResult&)>;

  Worker(Engine& engine, std::shared_ptr<storage::Store> store, WorkerOptions options = {});
  // Does not release leases: dropping a Worker behaves like a crash. Call
  // shutdown() to stop cleanly.
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Takes the lease of one RUNNING execution and runs it. `on_done` is called
  // once its end is committed (or, if another party ends it first, with the
  // stored outcome). An adopted execution is adopted again after a pause.
  storage::Status adopt(const std::string& execution_arn, DoneCallback on_done = {});

  // One round: frees leases of dead local workers and claims executions
  // (when due), runs the engine for at most `max_wait`, commits what is
  // buffered, renews leases (when due). When the engine stopped with work
  // still ready (its work slice ended), the last batch may still be
  // committing in the background when this returns; otherwise everything
  // the round did is committed. Returns the store error that paused
  // the worker in this round, if any (it has already dropped its executions
  // and will claim them again), else OK.
  storage::Status run_once(Nanos max_wait);

  // Rounds until `stop` becomes true (e.g. set by SIGINT/SIGTERM), then
  // shutdown(). Store errors are logged and waited out.
  storage::Status run(const std::atomic<bool>& stop);

  // Commits what is buffered and releases every lease this worker holds.
  // The executions stay RUNNING in the store, for the next worker.
  storage::Status shutdown();

  // Executions this worker runs (all in memory; parked ones are not its own).
  std::size_t active() const { return tracked_.size(); }
  bool paused() const;
  const WorkerStats& stats() const { return stats_; }
  const std::string& owner() const { return options_.owner; }

 private:
  struct Tracked;
  struct MapDrive;
  class Committer;
  class TaskBridge;
  // A callback or activity task waiting for the store (SendTask*, GetActivityTask).
  struct Awaited {
    std::string arn;
    TaskCompletion done;  // at most once
  };
  // A callback integration to call once its token is stored.
  struct PendingSend {
    TaskRequest request;
    std::shared_ptr<Invoker> target;
  };
  // TaskBridge: the task `r` waits for the store.
  void await_task(const TaskRequest& r, TaskCompletion done, std::shared_ptr<Invoker> target);
  // Reads the awaited tokens: hands results, heartbeats and activity workers to the engine.
  void sweep_tasks();
  // Ends the awaited tasks of an execution the engine no longer runs.
  void release_awaited(const std::string& arn);
  // Calls the integrations of callbacks whose tokens are now stored.
  void send_pending();
  // Fills the transition's tokens to add and to close from t's live state.
  void token_changes(Tracked& t, storage::Transition& tr);
  // A batch being committed: its executions and their transitions.
  struct Batch {
    std::vector<Tracked*> executions;
    std::vector<storage::Transition> transitions;
  };

  // TaskBridge: the Map state of r.execution_id asks for its map run.
  void start_map_run(const TaskRequest& r, TaskCompletion done);
  // Each round: launches children, checks tolerance, ends finished map runs.
  void drive_map_runs();
  // One map run's round; false when it is over (or no longer this worker's).
  bool drive(MapDrive& d);
  // The Map's result once every child has ended: their outputs by item,
  // shaped by WriterConfig, or written to files by the ResultWriter (whose
  // result is then the manifest's location). nullopt: the store was busy.
  Result<std::optional<json::value>> map_run_result(MapDrive& d);
  // A redriven parent: the map run's failed, timed-out and aborted children run again.
  void redrive_map_run(MapDrive& d);
  // The ItemProcessor definition of a map run (cached).
  Result<std::shared_ptr<const states::Definition>> map_run_definition(const std::string& map_run_arn);
  // Ends a running child as StopExecution would (ExecutionAborted).
  void abort_child(const storage::ExecutionRecord& child);

  storage::Status claim_due();
  storage::Status claim(const std::string& arn, DoneCallback on_done);  // takes its lease first
  storage::Status run_claimed(const storage::ExecutionRecord& record, DoneCallback on_done);
  void free_dead_owners();
  // Waits for the batch in flight (if any) and takes in its outcome; then
  // commits what is buffered (in the background, or at once).
  storage::Status flush();
  // Waits for the batch in flight, if any, and takes in its outcome.
  storage::Status collect();
  storage::Status take_outcome(Batch& batch, storage::StatusOr<std::vector<std::int64_t>> all);
  storage::Transition transition_of(Tracked& t);  // takes t's buffered events
  // An empty buffer of events, with the memory of a committed batch's if one is spare.
  storage::EncodedEvents take_spare_events();
  // Keeps (some of) the committed transitions' event buffers for reuse.
  void recycle_events(std::vector<storage::Transition>& transitions);
  void committed(Tracked& t, const storage::Transition& tr, std::int64_t version, std::vector<Tracked*>& ended);
  void note_transition(Tracked& t, const Checkpoint& c);
  void maybe_flush_in_hook();
  void pause(const storage::Status& why);
  void drop(Tracked& t, bool notify);
  void finish(Tracked& t);  // the end is both reported and committed
  // When t only waits for a timer due beyond hibernate_after: the time to
  // park it until; else 0.
  Nanos park_time(const Tracked& t) const;
  storage::Status renew_due(Nanos now);
  Result<std::shared_ptr<const states::Definition>> definition(const std::string& arn, std::int64_t version);

  Engine& engine_;
  std::shared_ptr<storage::Store> store_;
  WorkerOptions options_;
  WorkerStats stats_;

  std::unique_ptr<Committer> committer_;  // with commit_in_background
  bool in_flight_ = false;                 // the committer holds in_batch_
  Batch in_batch_;                         // the batch in flight, or the last one
  std::unordered_map<std::string, std::unique_ptr<Tracked>> tracked_;
  std::vector<std::unique_ptr<Tracked>> retired_;  // freed between rounds (hooks may still hold them)
  std::vector<Tracked*> dirty_;
  std::vector<storage::EncodedEvents> spare_events_;  // see recycle_events
  std::size_t buffered_events_ = 0;
  std::int64_t first_dirty_ns_ = 0;  // steady time of the oldest unflushed transition
  std::unordered_map<std::string, DoneCallback> adopted_;  // to adopt again after a pause
  std::vector<std::string> reclaim_;                       // dropped by a pause, to claim again
  std::unordered_map<std::string, std::shared_ptr<const states::Definition>> definitions_;
  std::unordered_map<std::string, RunOptions::Type> machine_types_;
  std::unordered_map<std::string, Awaited> awaited_;  // by task token
  std::vector<PendingSend> sends_;
  std::map<std::string, std::unique_ptr<MapDrive>> map_drives_;  // by map run ARN
  std::unordered_map<std::string, std::shared_ptr<const states::Definition>> map_run_definitions_;

  storage::Status hook_error_;  // a flush inside an engine callback failed
  std::int64_t paused_until_ns_ = 0;
  Nanos backoff_ = 0;
  Nanos next_claim_ = 0;
  Nanos next_renew_ = 0;
  Nanos next_dead_check_ = 0;
};

// "HOST:PID:RANDOM": a lease owner name for this process.
std::string default_worker_owner();

}  // namespace stepwise
