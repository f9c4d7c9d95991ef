// The durable store: state machines and their versions, executions, history
// events, each execution's resumable state, timers and task tokens.
//
// Two backends implement it: open_sqlite (a file that survives the process)
// and open_memory (the same behaviour, gone with the process). SQL stays
// behind this interface. The store knows nothing of ASL; see records.h.
//
// Thread safety: every method may be called from any thread, concurrently;
// each call is atomic with respect to the others. Several processes may share
// one SQLite file: each call is one SQLite transaction, and executions are
// divided among workers with leases (acquire_lease).
//
// Errors are values: no method throws. Every write either happens completely
// or not at all; on any error nothing was changed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/records.h"
#include "storage/status.h"

namespace stepwise::storage {

class Store {
 public:
  virtual ~Store() = default;

  // ---- State machines -------------------------------------------------------

  // Creates a state machine whose version 1 is m.definition.
  // AlreadyExists if a live state machine has this ARN or name. Creating a
  // deleted machine's ARN again revives it with a new version (numbers keep
  // growing, so executions of the old versions stay resumable).
  virtual StatusOr<StateMachineRecord> create_state_machine(const NewStateMachine& m) = 0;
  // Applies the update and returns the machine as it now is. NotFound if absent.
  virtual StatusOr<StateMachineRecord> update_state_machine(const std::string& arn,
                                                            const StateMachineUpdate& u) = 0;
  // NotFound if absent or deleted.
  virtual StatusOr<StateMachineRecord> describe_state_machine(const std::string& arn) = 0;
  // Any version ever stored, even of a deleted machine (its executions may
  // still run). NotFound if absent.
  virtual StatusOr<StateMachineVersion> get_state_machine_version(const std::string& arn,
                                                                  std::int64_t version) = 0;
  // All versions, oldest first. NotFound if the machine is absent or deleted.
  virtual StatusOr<std::vector<StateMachineVersion>> list_state_machine_versions(
      const std::string& arn) = 0;
  // Live machines ordered by name.
  virtual StatusOr<Page<StateMachineRecord>> list_state_machines(const PageRequest& page) = 0;
  // Deleted machines disappear from describe and list; their executions and
  // versions stay. NotFound if absent or already deleted.
  virtual Status delete_state_machine(const std::string& arn) = 0;

  // ---- Executions -----------------------------------------------------------

  // Records a new RUNNING execution at version 1, with its initial events and
  // timers, in one transaction. NotFound if the state machine (live) or the
  // version does not exist. If the ARN is taken: when that execution is
  // RUNNING with the same input (equal as JSON), returns it with
  // created = false; otherwise AlreadyExists (AWS's StartExecution rule).
  virtual StatusOr<CreatedExecution> create_execution(const NewExecution& e) = 0;
  // NotFound if absent.
  virtual StatusOr<ExecutionRecord> describe_execution(const std::string& arn) = 0;
  // Newest first: by start_date, then by creation order. The order is
  // stable: executions created after the first page do not shift later pages.
  // A map run's children are listed only with filter.map_run_arn (as AWS's
  // ListExecutions lists them by mapRunArn); without it, none is.
  virtual StatusOr<Page<ExecutionSummary>> list_executions(const ExecutionFilter& filter,
                                                           const PageRequest& page) = 0;

  // Commits one transition (see Transition) atomically and returns the new
  // version. NotFound if the execution is absent. Conflict if the stored
  // version is not t.expected_version, if t.lease_owner is given and does not
  // hold the lease, if the execution is not RUNNING (or, for a redrive, not
  // redrivable). AlreadyExists if a new token is taken. InvalidArgument for
  // event ids out of order, an outcome that is not terminal, or a token to
  // close that belongs to another execution; NotFound for an unknown token.
  virtual StatusOr<std::int64_t> commit_transition(const Transition& t) = 0;
  // Commits every transition of `batch`, in order, as ONE transaction: all of
  // them or none. Each follows commit_transition's rules against the store as
  // the transitions before it left it, so several transitions of one
  // execution may follow each other (each expecting the version the previous
  // one produced). Returns the new versions, in batch order. If a transition
  // fails, nothing of the batch is stored and the Status carries that
  // transition's code, its message prefixed "transition <index> (<execution
  // ARN>): " (index 0-based). An empty batch stores nothing.
  // Grouping many transitions (of many executions) into one batch shares one
  // durable commit among them: the way to persist hundreds of thousands of
  // transitions per second.
  virtual StatusOr<std::vector<std::int64_t>> commit_transitions(const std::vector<Transition>& batch) = 0;

  // The execution's events by id (or newest first with reverse_order).
  // NotFound if the execution is absent.
  virtual StatusOr<Page<EventRecord>> get_history(const std::string& execution_arn,
                                                  const HistoryRequest& request) = 0;

  // ---- Timers and tokens ----------------------------------------------------

  // Timers due at or before `until`, earliest first (ties: the older
  // execution first, then by key), at most `limit`.
  virtual StatusOr<std::vector<TimerRecord>> due_timers(UnixNanos until, int limit) = 0;
  // The execution's timers, earliest first, ties by key (empty if the
  // execution is absent).
  virtual StatusOr<std::vector<TimerRecord>> list_timers(const std::string& execution_arn) = 0;
  // NotFound if the token was never added.
  virtual StatusOr<TaskTokenRecord> get_task_token(const std::string& token) = 0;
  // SendTaskSuccess / SendTaskFailure: closes the OPEN token and stores
  // `result` with it, in one transaction, and makes its execution claimable
  // at once if it is parked (a worker holding it finds the result by
  // get_task_token). Returns the token as it now is. NotFound for an unknown
  // token; Conflict when the token is closed, its execution is not RUNNING,
  // or `now` is past its timeout_at or heartbeat_due (the task timed out).
  virtual StatusOr<TaskTokenRecord> close_task_token(const std::string& token, const TaskTokenResult& result,
                                                     UnixNanos now) = 0;
  // SendTaskHeartbeat: last_heartbeat = now and, for a task with a heartbeat,
  // heartbeat_due = now + heartbeat_seconds. Errors as close_task_token.
  virtual StatusOr<TaskTokenRecord> heartbeat_task_token(const std::string& token, UnixNanos now) = 0;

  // ---- Activities -----------------------------------------------------------

  // Creates an activity. CreateActivity is idempotent: an activity of that
  // name already there is returned as it is.
  virtual StatusOr<ActivityRecord> create_activity(const ActivityRecord& activity) = 0;
  // NotFound if absent (or deleted).
  virtual StatusOr<ActivityRecord> describe_activity(const std::string& arn) = 0;
  // Ordered by name.
  virtual StatusOr<Page<ActivityRecord>> list_activities(const PageRequest& page) = 0;
  // NotFound if absent. Tasks already scheduled on it stay (until they time out).
  virtual Status delete_activity(const std::string& arn) = 0;
  // GetActivityTask: hands the oldest OPEN task of the activity that no
  // worker took yet to `worker_name` (recorded in the token) and makes its
  // execution claimable at once if parked (its worker then writes
  // ActivityStarted). Empty when there is none.
  virtual StatusOr<std::optional<TaskTokenRecord>> take_activity_task(const std::string& activity_arn,
                                                                      const std::string& worker_name,
                                                                      UnixNanos now) = 0;

  // ---- Leases: one worker at a time owns an execution -----------------------

  // Gives `owner` the lease until `expiry` if the execution is RUNNING and
  // its lease is free, expired (expiry <= now), or already owner's. Conflict
  // otherwise (another live owner, or not RUNNING); NotFound if absent;
  // InvalidArgument for an empty owner.
  virtual Status acquire_lease(const std::string& execution_arn, const std::string& owner,
                               UnixNanos now, UnixNanos expiry) = 0;
  // Moves the expiry of a lease `owner` holds (even an expired one nobody took
  // over). Conflict if another owner holds it or none does.
  virtual Status renew_lease(const std::string& execution_arn, const std::string& owner,
                             UnixNanos expiry) = 0;
  // Frees a lease `owner` holds. Conflict if it does not hold it.
  virtual Status release_lease(const std::string& execution_arn, const std::string& owner) = 0;
  // Moves to `expiry` every lease `owner` holds on a RUNNING execution (one
  // statement however many: a worker renews all its leases at once).
  // Returns how many. InvalidArgument for an empty owner.
  virtual StatusOr<std::int64_t> renew_leases(const std::string& owner, UnixNanos expiry) = 0;
  // Frees every lease `owner` holds (a worker stopping, or one known to be
  // dead). Returns how many. InvalidArgument for an empty owner.
  virtual StatusOr<std::int64_t> release_leases(const std::string& owner) = 0;
  // The distinct owners holding leases on RUNNING executions, expired or
  // not, sorted.
  virtual StatusOr<std::vector<std::string>> list_lease_owners() = 0;
  // Takes, in one transaction, the leases of up to `limit` executions that
  // list_claimable_executions(now, limit) would list, for `owner` until
  // `expiry`, and returns them whole (their state included): a worker
  // starting with thousands of executions to take over claims them in a few
  // writes. InvalidArgument for an empty owner.
  virtual StatusOr<std::vector<ExecutionRecord>> claim_executions(const std::string& owner, UnixNanos now,
                                                                  UnixNanos expiry, int limit) = 0;
  // RUNNING executions whose lease is free or expired at `now`, at most
  // `limit`: free ones first, then by lease expiry, ties in creation order.
  // A parked execution (Transition::park_until) counts from its park time on.
  virtual StatusOr<std::vector<ExecutionSummary>> list_claimable_executions(UnixNanos now,
                                                                            int limit) = 0;

  // ---- Map runs (Distributed Map) -------------------------------------------

  // Records a map run (its counts start at 0, whatever `run` says). A map
  // run of that ARN already there is returned as it is (a worker resuming
  // the parent starts it again). NotFound if the parent execution is absent.
  virtual StatusOr<MapRunRecord> create_map_run(const MapRunRecord& run) = 0;
  // Creates map run children (NewExecution::map_run_arn set), each as
  // create_execution would, all in one transaction (all or none), each
  // leased to `lease_owner` until `lease_expiry` when an owner is given:
  // a driver launching thousands of children pays one commit per batch.
  // Returns their records, in order.
  virtual StatusOr<std::vector<ExecutionRecord>> create_map_run_children(const std::vector<NewExecution>& children,
                                                                         const std::string& lease_owner,
                                                                         UnixNanos lease_expiry) = 0;
  // NotFound if absent.
  virtual StatusOr<MapRunRecord> describe_map_run(const std::string& arn) = 0;
  // The map runs of one execution, oldest first.
  virtual StatusOr<Page<MapRunRecord>> list_map_runs(const std::string& execution_arn, const PageRequest& page) = 0;
  // Applies the update and returns the map run as it now is. NotFound if absent.
  virtual StatusOr<MapRunRecord> update_map_run(const std::string& arn, const MapRunUpdate& update) = 0;
  // The map run's children with item_index >= from_index, by item index, at
  // most `limit`; their `state` is left empty (what a result needs is the
  // outcome). NotFound if the map run is absent.
  virtual StatusOr<std::vector<ExecutionRecord>> list_map_run_children(const std::string& map_run_arn,
                                                                       std::int64_t from_index, int limit) = 0;

  // ---- Function invocations (accounting) ----
  // Appends invocation records, all or none.
  virtual Status record_invocations(const std::vector<InvocationRecord>& records) = 0;
  // The invocations of one function (all functions when empty), in the order
  // recorded.
  virtual StatusOr<std::vector<InvocationRecord>> list_invocations(const std::string& function_name) = 0;
};

// Forwards every call to a target store; override one method to inject a
// fault (see fault_injection.h).
class StoreWrapper : public Store {
 public:
  explicit StoreWrapper(std::shared_ptr<Store> target) : target_(std::move(target)) {}

  StatusOr<StateMachineRecord> create_state_machine(const NewStateMachine& m) override {
    return target_->create_state_machine(m);
  }
  StatusOr<StateMachineRecord> update_state_machine(const std::string& arn,
                                                    const StateMachineUpdate& u) override {
    return target_->update_state_machine(arn, u);
  }
  StatusOr<StateMachineRecord> describe_state_machine(const std::string& arn) override {
    return target_->describe_state_machine(arn);
  }
  StatusOr<StateMachineVersion> get_state_machine_version(const std::string& arn,
                                                          std::int64_t version) override {
    return target_->get_state_machine_version(arn, version);
  }
  StatusOr<std::vector<StateMachineVersion>> list_state_machine_versions(
      const std::string& arn) override {
    return target_->list_state_machine_versions(arn);
  }
  StatusOr<Page<StateMachineRecord>> list_state_machines(const PageRequest& page) override {
    return target_->list_state_machines(page);
  }
  Status delete_state_machine(const std::string& arn) override {
    return target_->delete_state_machine(arn);
  }
  StatusOr<CreatedExecution> create_execution(const NewExecution& e) override {
    return target_->create_execution(e);
  }
  StatusOr<ExecutionRecord> describe_execution(const std::string& arn) override {
    return target_->describe_execution(arn);
  }
  StatusOr<Page<ExecutionSummary>> list_executions(const ExecutionFilter& filter,
                                                   const PageRequest& page) override {
    return target_->list_executions(filter, page);
  }
  StatusOr<std::int64_t> commit_transition(const Transition& t) override {
    return target_->commit_transition(t);
  }
  StatusOr<std::vector<std::int64_t>> commit_transitions(const std::vector<Transition>& batch) override {
    return target_->commit_transitions(batch);
  }
  StatusOr<Page<EventRecord>> get_history(const std::string& execution_arn,
                                          const HistoryRequest& request) override {
    return target_->get_history(execution_arn, request);
  }
  StatusOr<std::vector<TimerRecord>> due_timers(UnixNanos until, int limit) override {
    return target_->due_timers(until, limit);
  }
  StatusOr<std::vector<TimerRecord>> list_timers(const std::string& execution_arn) override {
    return target_->list_timers(execution_arn);
  }
  StatusOr<TaskTokenRecord> get_task_token(const std::string& token) override {
    return target_->get_task_token(token);
  }
  StatusOr<TaskTokenRecord> close_task_token(const std::string& token, const TaskTokenResult& result,
                                             UnixNanos now) override {
    return target_->close_task_token(token, result, now);
  }
  StatusOr<TaskTokenRecord> heartbeat_task_token(const std::string& token, UnixNanos now) override {
    return target_->heartbeat_task_token(token, now);
  }
  StatusOr<ActivityRecord> create_activity(const ActivityRecord& activity) override {
    return target_->create_activity(activity);
  }
  StatusOr<ActivityRecord> describe_activity(const std::string& arn) override {
    return target_->describe_activity(arn);
  }
  StatusOr<Page<ActivityRecord>> list_activities(const PageRequest& page) override {
    return target_->list_activities(page);
  }
  Status delete_activity(const std::string& arn) override { return target_->delete_activity(arn); }
  StatusOr<std::optional<TaskTokenRecord>> take_activity_task(const std::string& activity_arn,
                                                              const std::string& worker_name,
                                                              UnixNanos now) override {
    return target_->take_activity_task(activity_arn, worker_name, now);
  }
  Status acquire_lease(const std::string& execution_arn, const std::string& owner, UnixNanos now,
                       UnixNanos expiry) override {
    return target_->acquire_lease(execution_arn, owner, now, expiry);
  }
  Status renew_lease(const std::string& execution_arn, const std::string& owner,
                     UnixNanos expiry) override {
    return target_->renew_lease(execution_arn, owner, expiry);
  }
  Status release_lease(const std::string& execution_arn, const std::string& owner) override {
    return target_->release_lease(execution_arn, owner);
  }
  StatusOr<std::int64_t> renew_leases(const std::string& owner, UnixNanos expiry) override {
    return target_->renew_leases(owner, expiry);
  }
  StatusOr<std::int64_t> release_leases(const std::string& owner) override {
    return target_->release_leases(owner);
  }
  StatusOr<std::vector<std::string>> list_lease_owners() override { return target_->list_lease_owners(); }
  StatusOr<std::vector<ExecutionRecord>> claim_executions(const std::string& owner, UnixNanos now, UnixNanos expiry,
                                                          int limit) override {
    return target_->claim_executions(owner, now, expiry, limit);
  }
  StatusOr<std::vector<ExecutionSummary>> list_claimable_executions(UnixNanos now,
                                                                    int limit) override {
    return target_->list_claimable_executions(now, limit);
  }
  StatusOr<MapRunRecord> create_map_run(const MapRunRecord& run) override { return target_->create_map_run(run); }
  StatusOr<std::vector<ExecutionRecord>> create_map_run_children(const std::vector<NewExecution>& children,
                                                                 const std::string& lease_owner,
                                                                 UnixNanos lease_expiry) override {
    return target_->create_map_run_children(children, lease_owner, lease_expiry);
  }
  StatusOr<MapRunRecord> describe_map_run(const std::string& arn) override { return target_->describe_map_run(arn); }
  StatusOr<Page<MapRunRecord>> list_map_runs(const std::string& execution_arn, const PageRequest& page) override {
    return target_->list_map_runs(execution_arn, page);
  }
  StatusOr<MapRunRecord> update_map_run(const std::string& arn, const MapRunUpdate& update) override {
    return target_->update_map_run(arn, update);
  }
  StatusOr<std::vector<ExecutionRecord>> list_map_run_children(const std::string& map_run_arn,
                                                               std::int64_t from_index, int limit) override {
    return target_->list_map_run_children(map_run_arn, from_index, limit);
  }
  Status record_invocations(const std::vector<InvocationRecord>& records) override {
    return target_->record_invocations(records);
  }
  StatusOr<std::vector<InvocationRecord>> list_invocations(const std::string& function_name) override {
    return target_->list_invocations(function_name);
  }

 protected:
  std::shared_ptr<Store> target_;
};

// ---- Opening a store --------------------------------------------------------

enum class SyncMode {
  kFull,    // every commit reaches the disk before it returns (survives power loss)
  kNormal,  // WAL + NORMAL: survives a process crash; a power loss may lose the last commits
};

struct SqliteOptions {
  SyncMode sync = SyncMode::kFull;
  // How long a call waits for another process's write lock before Busy.
  int busy_timeout_ms = 5000;
  // Create the file (and its schema) when it does not exist.
  bool create_if_missing = true;
  // Run PRAGMA quick_check before opening (reads the whole file: slow on big
  // databases); damage found gives Corrupt.
  bool verify = false;
  // Caps the database at this many pages (0: no cap). A write past the cap
  // fails with DiskFull, as a full disk would.
  std::int64_t max_page_count = 0;
};

// The newest schema this build reads and writes.
inline constexpr int kSchemaVersion = 8;
// PRAGMA application_id of a Stepwise database ("STPW").
inline constexpr std::int32_t kApplicationId = 0x53545057;

// Opens (creating if allowed) the SQLite database at `path`, migrating an
// older schema. A file that is not SQLite, or another program's database,
// gives NotOurs; a damaged one Corrupt; a newer schema NewerSchema. In all
// three cases the file is only read, never written. An empty file is a new
// database.
StatusOr<std::unique_ptr<Store>> open_sqlite(const std::string& path,
                                             const SqliteOptions& options = {});

// A store that lives in memory, with the same behaviour as the SQLite one.
// Never fails today; returns StatusOr so both factories read alike.
StatusOr<std::unique_ptr<Store>> open_memory();

}  // namespace stepwise::storage
