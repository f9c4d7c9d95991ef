// The in-memory backend: plain maps under one mutex. Every write validates
// the whole request first and only then changes anything, which is how it
// matches the all-or-nothing transactions of the SQLite backend.
#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "storage/history_chunk.h"
#include "storage/internal.h"
#include "storage/store.h"

namespace stepwise::storage {
namespace {

using internal::not_found_execution;
using internal::not_found_state_machine;

struct Machine {
  StateMachineRecord record;  // definition/version/version_date: the current version
  std::vector<StateMachineVersion> versions;
  bool deleted = false;
};

struct Execution {
  ExecutionRecord record;
  std::int64_t seq = 0;
  std::vector<EventRecord> events;
  std::map<std::string, UnixNanos> timers;  // key -> due
  std::vector<std::string> tokens;
};

class MemoryStore final : public Store {
 public:
  StatusOr<StateMachineRecord> create_state_machine(const NewStateMachine& m) override;
  StatusOr<StateMachineRecord> update_state_machine(const std::string& arn,
                                                    const StateMachineUpdate& u) override;
  StatusOr<StateMachineRecord> describe_state_machine(const std::string& arn) override;
  StatusOr<StateMachineVersion> get_state_machine_version(const std::string& arn,
                                                          std::int64_t version) override;
  StatusOr<std::vector<StateMachineVersion>> list_state_machine_versions(
      const std::string& arn) override;
  StatusOr<Page<StateMachineRecord>> list_state_machines(const PageRequest& page) override;
  Status delete_state_machine(const std::string& arn) override;
  StatusOr<CreatedExecution> create_execution(const NewExecution& e) override;
  StatusOr<ExecutionRecord> describe_execution(const std::string& arn) override;
  StatusOr<Page<ExecutionSummary>> list_executions(const ExecutionFilter& filter,
                                                   const PageRequest& page) override;
  StatusOr<std::int64_t> commit_transition(const Transition& t) override;
  StatusOr<std::vector<std::int64_t>> commit_transitions(const std::vector<Transition>& batch) override;
  StatusOr<Page<EventRecord>> get_history(const std::string& execution_arn,
                                          const HistoryRequest& request) override;
  StatusOr<std::vector<TimerRecord>> due_timers(UnixNanos until, int limit) override;
  StatusOr<std::vector<TimerRecord>> list_timers(const std::string& execution_arn) override;
  StatusOr<TaskTokenRecord> get_task_token(const std::string& token) override;
  StatusOr<TaskTokenRecord> close_task_token(const std::string& token, const TaskTokenResult& result,
                                             UnixNanos now) override;
  StatusOr<TaskTokenRecord> heartbeat_task_token(const std::string& token, UnixNanos now) override;
  StatusOr<ActivityRecord> create_activity(const ActivityRecord& activity) override;
  StatusOr<ActivityRecord> describe_activity(const std::string& arn) override;
  StatusOr<Page<ActivityRecord>> list_activities(const PageRequest& page) override;
  Status delete_activity(const std::string& arn) override;
  StatusOr<std::optional<TaskTokenRecord>> take_activity_task(const std::string& activity_arn,
                                                              const std::string& worker_name, UnixNanos now) override;
  Status acquire_lease(const std::string& execution_arn, const std::string& owner, UnixNanos now,
                       UnixNanos expiry) override;
  Status renew_lease(const std::string& execution_arn, const std::string& owner,
                     UnixNanos expiry) override;
  Status release_lease(const std::string& execution_arn, const std::string& owner) override;
  StatusOr<std::int64_t> renew_leases(const std::string& owner, UnixNanos expiry) override;
  StatusOr<std::int64_t> release_leases(const std::string& owner) override;
  StatusOr<std::vector<std::string>> list_lease_owners() override;
  StatusOr<std::vector<ExecutionRecord>> claim_executions(const std::string& owner, UnixNanos now, UnixNanos expiry,
                                                          int limit) override;
  StatusOr<std::vector<ExecutionSummary>> list_claimable_executions(UnixNanos now,
                                                                    int limit) override;
  Status record_invocations(const std::vector<InvocationRecord>& records) override;
  StatusOr<std::vector<InvocationRecord>> list_invocations(const std::string& function_name) override;
  StatusOr<MapRunRecord> create_map_run(const MapRunRecord& run) override;
  StatusOr<std::vector<ExecutionRecord>> create_map_run_children(const std::vector<NewExecution>& children,
                                                                 const std::string& lease_owner,
                                                                 UnixNanos lease_expiry) override;
  StatusOr<MapRunRecord> describe_map_run(const std::string& arn) override;
  StatusOr<Page<MapRunRecord>> list_map_runs(const std::string& execution_arn, const PageRequest& page) override;
  StatusOr<MapRunRecord> update_map_run(const std::string& arn, const MapRunUpdate& update) override;
  StatusOr<std::vector<ExecutionRecord>> list_map_run_children(const std::string& map_run_arn,
                                                               std::int64_t from_index, int limit) override;

 private:
  // create_execution. REQUIRES: mu_ held.
  StatusOr<CreatedExecution> create_locked(const NewExecution& e);
  // Moves a map run child from one status column of its map run to another.
  // REQUIRES: mu_ held.
  void count_child(const ExecutionRecord& child, std::optional<ExecutionStatus> from, ExecutionStatus to);
  using StartKey = std::pair<UnixNanos, std::int64_t>;  // (start_date, seq)
  // (due, seq, key, arn): the order the SQLite index gives.
  using DueKey = std::tuple<UnixNanos, std::int64_t, std::string, std::string>;

  Machine* live_machine(const std::string& arn);
  Execution* execution(const std::string& arn);
  std::vector<ExecutionSummary> claimable_locked(UnixNanos now, int limit) const;  // REQUIRES: mu_ held
  // What a batch changed so far, as far as the checks of its next
  // transitions can see: they are checked against this, then all applied.
  struct Pending {
    std::unordered_map<std::string, ExecutionRecord> heads;  // by ARN: status, version, ...
    std::unordered_map<std::string, std::string> tokens;     // added token -> ARN
  };
  Status check_transition(const Transition& t, Pending& pending);
  Status check_tokens(const Transition& t, const Execution& e, const Pending& pending) const;
  std::int64_t apply_transition(const Transition& t);
  void set_timer(Execution& e, const std::string& key, UnixNanos due);
  void clear_timer(Execution& e, const std::string& key);
  void end_execution(Execution& e, const ExecutionOutcome& outcome);

  std::mutex mu_;
  std::map<std::string, Machine> machines_;                // by ARN
  std::map<std::string, std::string> live_by_name_;        // name -> ARN, live machines only
  std::unordered_map<std::string, Execution> executions_;  // by ARN
  std::map<StartKey, std::string> by_start_;               // -> ARN
  std::set<DueKey> timers_by_due_;
  std::unordered_map<std::string, TaskTokenRecord> tokens_;
  std::int64_t next_seq_ = 1;
  std::vector<InvocationRecord> invocations_;
  std::map<std::string, ActivityRecord> activities_;  // by name
  std::map<std::string, MapRunRecord> map_runs_;      // by ARN
  std::map<std::string, std::vector<std::string>> map_runs_by_execution_;  // parent ARN -> map run ARNs, oldest first
  std::map<std::string, std::map<std::int64_t, std::string>> children_;  // map run ARN -> item index -> child ARN

  // A token that close/heartbeat may act on, or why not. REQUIRES: mu_ held.
  StatusOr<TaskTokenRecord*> open_token(const std::string& token, UnixNanos now);
  // REQUIRES: mu_ held.
  void wake_if_parked(const std::string& arn, UnixNanos now);
};

Machine* MemoryStore::live_machine(const std::string& arn) {
  auto it = machines_.find(arn);
  if (it == machines_.end() || it->second.deleted) return nullptr;
  return &it->second;
}

Execution* MemoryStore::execution(const std::string& arn) {
  auto it = executions_.find(arn);
  return it == executions_.end() ? nullptr : &it->second;
}

StatusOr<StateMachineRecord> MemoryStore::create_state_machine(const NewStateMachine& m) {
  std::lock_guard lock(mu_);
  if (live_by_name_.count(m.name) != 0) {
    return Status(Code::kAlreadyExists, "state machine named '" + m.name + "' already exists");
  }
  auto it = machines_.find(m.arn);
  if (it != machines_.end() && !it->second.deleted) {
    return Status(Code::kAlreadyExists, "state machine '" + m.arn + "' already exists");
  }
  Machine& machine = machines_[m.arn];
  std::int64_t version = machine.versions.empty() ? 1 : machine.versions.back().version + 1;
  machine.deleted = false;
  machine.versions.push_back({version, m.definition, m.creation_date});
  machine.record = {m.arn,           m.name,  m.type,       m.role_arn,
                    m.creation_date, version, m.definition, m.creation_date};
  live_by_name_[m.name] = m.arn;
  return machine.record;
}

StatusOr<StateMachineRecord> MemoryStore::update_state_machine(const std::string& arn,
                                                               const StateMachineUpdate& u) {
  std::lock_guard lock(mu_);
  Machine* machine = live_machine(arn);
  if (machine == nullptr) return not_found_state_machine(arn);
  if (u.role_arn) machine->record.role_arn = *u.role_arn;
  if (u.definition) {
    std::int64_t version = machine->versions.back().version + 1;
    machine->versions.push_back({version, *u.definition, u.update_date});
    machine->record.version = version;
    machine->record.definition = *u.definition;
    machine->record.version_date = u.update_date;
  }
  return machine->record;
}

StatusOr<StateMachineRecord> MemoryStore::describe_state_machine(const std::string& arn) {
  std::lock_guard lock(mu_);
  Machine* machine = live_machine(arn);
  if (machine == nullptr) return not_found_state_machine(arn);
  return machine->record;
}

StatusOr<StateMachineVersion> MemoryStore::get_state_machine_version(const std::string& arn,
                                                                     std::int64_t version) {
  std::lock_guard lock(mu_);
  auto it = machines_.find(arn);
  if (it != machines_.end()) {
    for (const StateMachineVersion& v : it->second.versions) {
      if (v.version == version) return v;
    }
  }
  return Status(Code::kNotFound,
                "state machine '" + arn + "' has no version " + std::to_string(version));
}

StatusOr<std::vector<StateMachineVersion>> MemoryStore::list_state_machine_versions(
    const std::string& arn) {
  std::lock_guard lock(mu_);
  Machine* machine = live_machine(arn);
  if (machine == nullptr) return not_found_state_machine(arn);
  return machine->versions;
}

StatusOr<Page<StateMachineRecord>> MemoryStore::list_state_machines(const PageRequest& page) {
  std::optional<std::string> after;
  if (!page.next_token.empty()) {
    after = internal::decode_name_cursor(page.next_token);
    if (!after) return Status(Code::kInvalidArgument, "invalid next token");
  }
  std::lock_guard lock(mu_);
  const std::size_t size = internal::page_size(page);
  Page<StateMachineRecord> out;
  auto it = after ? live_by_name_.upper_bound(*after) : live_by_name_.begin();
  for (; it != live_by_name_.end(); ++it) {
    if (out.items.size() == size) {
      out.next_token = internal::encode_name_cursor(out.items.back().name);
      break;
    }
    out.items.push_back(machines_.at(it->second).record);
  }
  return out;
}

Status MemoryStore::delete_state_machine(const std::string& arn) {
  std::lock_guard lock(mu_);
  Machine* machine = live_machine(arn);
  if (machine == nullptr) return not_found_state_machine(arn);
  machine->deleted = true;
  live_by_name_.erase(machine->record.name);
  return {};
}

StatusOr<CreatedExecution> MemoryStore::create_execution(const NewExecution& e) {
  std::lock_guard lock(mu_);
  return create_locked(e);
}

StatusOr<CreatedExecution> MemoryStore::create_locked(const NewExecution& e) {
  if (Execution* existing = execution(e.arn)) {
    const ExecutionRecord& r = existing->record;
    if (r.status == ExecutionStatus::kRunning && internal::same_input(r.input, e.input)) {
      return CreatedExecution{r, false};
    }
    return Status(Code::kAlreadyExists, "execution '" + e.arn + "' already exists");
  }
  MapRunRecord* run = nullptr;
  if (!e.map_run_arn.empty()) {
    auto found = map_runs_.find(e.map_run_arn);
    if (found == map_runs_.end()) return Status(Code::kNotFound, "map run '" + e.map_run_arn + "' does not exist");
    run = &found->second;
  } else {
    Machine* machine = live_machine(e.state_machine_arn);
    if (machine == nullptr) return not_found_state_machine(e.state_machine_arn);
    bool has_version =
        std::any_of(machine->versions.begin(), machine->versions.end(),
                    [&](const auto& v) { return v.version == e.state_machine_version; });
    if (!has_version) {
      return Status(Code::kNotFound, "state machine '" + e.state_machine_arn + "' has no version " +
                                         std::to_string(e.state_machine_version));
    }
  }
  Transition shape;
  shape.events = e.events;
  if (Status s = internal::validate_transition_shape(shape); !s.ok()) return s;
  if (!e.events.empty() && e.events.front().id <= 0) {
    return Status(Code::kInvalidArgument, "event ids start at 1");
  }

  Execution& x = executions_[e.arn];
  x.seq = next_seq_++;
  ExecutionRecord& r = x.record;
  r.arn = e.arn;
  r.name = e.name;
  r.state_machine_arn = e.state_machine_arn;
  r.state_machine_version = e.state_machine_version;
  r.status = ExecutionStatus::kRunning;
  r.input = e.input;
  r.start_date = e.start_date;
  r.state = e.state;
  r.version = 1;
  r.last_event_id = e.events.empty() ? 0 : e.events.back().id;
  r.map_run_arn = e.map_run_arn;
  r.item_index = e.item_index;
  r.item_count = e.map_run_arn.empty() ? 1 : e.item_count;
  x.events = e.events;
  for (const TimerRecord& t : e.timers) set_timer(x, t.key, t.due);
  by_start_[{e.start_date, x.seq}] = e.arn;
  if (run != nullptr) {
    children_[e.map_run_arn][e.item_index] = e.arn;
    run->launched += 1;
    count_child(r, std::nullopt, ExecutionStatus::kRunning);
  }
  return CreatedExecution{r, true};
}

StatusOr<ExecutionRecord> MemoryStore::describe_execution(const std::string& arn) {
  std::lock_guard lock(mu_);
  Execution* x = execution(arn);
  if (x == nullptr) return not_found_execution(arn);
  return x->record;
}

StatusOr<Page<ExecutionSummary>> MemoryStore::list_executions(const ExecutionFilter& filter,
                                                              const PageRequest& page) {
  std::lock_guard lock(mu_);
  const std::size_t size = internal::page_size(page);
  auto end = by_start_.end();
  if (!page.next_token.empty()) {
    auto cursor = internal::decode_cursor(page.next_token);
    if (!cursor) return Status(Code::kInvalidArgument, "invalid next token");
    end = by_start_.lower_bound({cursor->start_date, cursor->seq});
  }
  Page<ExecutionSummary> out;
  StartKey last{};
  for (auto it = std::make_reverse_iterator(end); it != by_start_.rend(); ++it) {
    const Execution& x = executions_.at(it->second);
    if (!filter.state_machine_arn.empty() &&
        x.record.state_machine_arn != filter.state_machine_arn) {
      continue;
    }
    // A map run's children are listed only by their map run (as the SQLite
    // store's indexes do).
    if (x.record.map_run_arn != filter.map_run_arn) continue;
    if (filter.status && x.record.status != *filter.status) continue;
    if (out.items.size() == size) {
      out.next_token = internal::encode_cursor({last.first, last.second});
      break;
    }
    out.items.push_back(x.record.summary());
    last = it->first;
  }
  return out;
}

Status MemoryStore::check_tokens(const Transition& t, const Execution& e, const Pending& pending) const {
  auto owner_of = [&](const std::string& token) -> const std::string* {
    if (auto it = tokens_.find(token); it != tokens_.end()) return &it->second.execution_arn;
    if (auto it = pending.tokens.find(token); it != pending.tokens.end()) return &it->second;
    return nullptr;
  };
  std::set<std::string> adding;
  for (const TaskTokenRecord& token : t.tokens_to_add) {
    if (owner_of(token.token) != nullptr || !adding.insert(token.token).second) {
      return {Code::kAlreadyExists, "task token '" + token.token + "' already exists"};
    }
  }
  for (const std::string& token : t.tokens_to_close) {
    const std::string* owner = owner_of(token);
    if (owner == nullptr) {
      if (adding.count(token) != 0) continue;
      return {Code::kNotFound, "task token '" + token + "' does not exist"};
    }
    if (*owner != e.record.arn) {
      return {Code::kInvalidArgument, "task token '" + token + "' belongs to another execution"};
    }
  }
  return {};
}

void MemoryStore::set_timer(Execution& e, const std::string& key, UnixNanos due) {
  clear_timer(e, key);
  e.timers[key] = due;
  timers_by_due_.insert({due, e.seq, key, e.record.arn});
}

void MemoryStore::clear_timer(Execution& e, const std::string& key) {
  auto it = e.timers.find(key);
  if (it == e.timers.end()) return;
  timers_by_due_.erase({it->second, e.seq, key, e.record.arn});
  e.timers.erase(it);
}

void MemoryStore::end_execution(Execution& e, const ExecutionOutcome& outcome) {
  ExecutionRecord& r = e.record;
  r.status = outcome.status;
  r.output = outcome.output;
  r.error = outcome.error;
  r.cause = outcome.cause;
  r.stop_date = outcome.stop_date;
  r.lease_owner.clear();
  r.lease_expiry = 0;
  while (!e.timers.empty()) clear_timer(e, e.timers.begin()->first);
  for (const std::string& token : e.tokens) {
    tokens_.at(token).status = TokenStatus::kClosed;
    tokens_.at(token).acknowledged = true;
  }
}

Status MemoryStore::check_transition(const Transition& t, Pending& pending) {
  if (Status s = internal::validate_transition_shape(t); !s.ok()) return s;
  Execution* x = execution(t.execution_arn);
  if (x == nullptr) return not_found_execution(t.execution_arn);
  auto [it, first] = pending.heads.try_emplace(t.execution_arn);
  ExecutionRecord& head = it->second;
  if (first) {
    head.status = x->record.status;
    head.version = x->record.version;
    head.last_event_id = x->record.last_event_id;
    head.lease_owner = x->record.lease_owner;
  }
  if (Status s = internal::check_transition_against(t, head.status, head.version, head.last_event_id, head.lease_owner);
      !s.ok()) {
    return s;
  }
  if (Status s = check_tokens(t, *x, pending); !s.ok()) return s;
  if (!t.encoded_events.empty()) {
    // Kept as records here: the events must decode, as SQLite would read them back.
    std::vector<EventRecord> decoded;
    if (!internal::decode_chunk("[" + t.encoded_events.text() + "]", decoded)) {
      return {Code::kInvalidArgument, "the encoded events of execution '" + t.execution_arn + "' are malformed"};
    }
  }
  // What the next transitions of the batch will see.
  head.version += 1;
  if (const auto last = internal::last_event_id(t)) head.last_event_id = *last;
  if (t.redrive_date) head.status = ExecutionStatus::kRunning;
  if (t.outcome || t.park_until) head.lease_owner.clear();
  if (t.outcome) head.status = t.outcome->status;
  for (const TaskTokenRecord& token : t.tokens_to_add) pending.tokens[token.token] = t.execution_arn;
  return {};
}

std::int64_t MemoryStore::apply_transition(const Transition& t) {
  Execution* x = execution(t.execution_arn);
  ExecutionRecord& r = x->record;
  const ExecutionStatus before = r.status;
  if (t.redrive_date) {
    r.status = ExecutionStatus::kRunning;
    r.redrive_count += 1;
    r.redrive_date = t.redrive_date;
    r.output.reset();
    r.error.reset();
    r.cause.reset();
    r.stop_date.reset();
  }
  if (t.state) r.state = *t.state;
  x->events.insert(x->events.end(), t.events.begin(), t.events.end());
  if (!t.encoded_events.empty()) (void)internal::decode_chunk("[" + t.encoded_events.text() + "]", x->events);
  if (const auto last = internal::last_event_id(t)) r.last_event_id = *last;
  for (const std::string& key : t.timers_to_clear) clear_timer(*x, key);
  for (const TimerRecord& timer : t.timers_to_set) set_timer(*x, timer.key, timer.due);
  for (const TaskTokenRecord& token : t.tokens_to_add) {
    TaskTokenRecord& stored = tokens_[token.token] = token;
    stored.execution_arn = r.arn;
    stored.status = TokenStatus::kOpen;
    stored.last_heartbeat = 0;
    stored.worker_name.reset();
    stored.result.reset();
    stored.acknowledged = false;
    x->tokens.push_back(token.token);
  }
  for (const std::string& token : t.tokens_to_close) {
    tokens_.at(token).status = TokenStatus::kClosed;
    tokens_.at(token).acknowledged = true;
  }
  if (t.outcome) end_execution(*x, *t.outcome);
  if (t.park_until) {
    r.lease_owner.clear();
    r.lease_expiry = *t.park_until;
    // A result not taken in yet: the execution must not sleep past it.
    for (const std::string& token : x->tokens) {
      const TaskTokenRecord& stored = tokens_.at(token);
      if (stored.result && !stored.acknowledged) r.lease_expiry = 0;
    }
  }
  r.version += 1;
  if (r.status != before) count_child(r, before, r.status);
  return r.version;
}

StatusOr<std::int64_t> MemoryStore::commit_transition(const Transition& t) {
  std::lock_guard lock(mu_);
  Pending pending;
  if (Status s = check_transition(t, pending); !s.ok()) return s;
  // Everything is checked: from here on nothing fails.
  return apply_transition(t);
}

StatusOr<std::vector<std::int64_t>> MemoryStore::commit_transitions(const std::vector<Transition>& batch) {
  std::lock_guard lock(mu_);
  Pending pending;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (Status s = check_transition(batch[i], pending); !s.ok()) {
      return internal::in_batch(s, i, batch[i].execution_arn);
    }
  }
  // The whole batch is checked: from here on nothing fails.
  std::vector<std::int64_t> versions;
  versions.reserve(batch.size());
  for (const Transition& t : batch) versions.push_back(apply_transition(t));
  return versions;
}

StatusOr<Page<EventRecord>> MemoryStore::get_history(const std::string& execution_arn,
                                                     const HistoryRequest& request) {
  std::lock_guard lock(mu_);
  Execution* x = execution(execution_arn);
  if (x == nullptr) return not_found_execution(execution_arn);
  const std::size_t size = internal::page_size(request.page);
  std::optional<std::int64_t> after;
  if (!request.page.next_token.empty()) {
    after = internal::decode_event_cursor(request.page.next_token);
    if (!after) return Status(Code::kInvalidArgument, "invalid next token");
  }
  const std::vector<EventRecord>& events = x->events;
  auto by_id = [](const EventRecord& e, std::int64_t id) { return e.id < id; };
  Page<EventRecord> out;
  auto take = [&](const EventRecord& e) {
    if (out.items.size() == size) {
      out.next_token = internal::encode_event_cursor(out.items.back().id);
      return false;
    }
    out.items.push_back(e);
    return true;
  };
  if (!request.reverse_order) {
    auto it =
        after ? std::upper_bound(events.begin(), events.end(), *after,
                                 [](std::int64_t id, const EventRecord& e) { return id < e.id; })
              : events.begin();
    for (; it != events.end() && take(*it); ++it) {
    }
  } else {
    auto end = after ? std::lower_bound(events.begin(), events.end(), *after, by_id) : events.end();
    for (auto it = std::make_reverse_iterator(end); it != events.rend() && take(*it); ++it) {
    }
  }
  return out;
}

StatusOr<std::vector<TimerRecord>> MemoryStore::due_timers(UnixNanos until, int limit) {
  std::lock_guard lock(mu_);
  std::vector<TimerRecord> out;
  for (const auto& [due, seq, key, arn] : timers_by_due_) {
    if (due > until || static_cast<int>(out.size()) >= limit) break;
    out.push_back({arn, key, due});
  }
  return out;
}

StatusOr<std::vector<TimerRecord>> MemoryStore::list_timers(const std::string& execution_arn) {
  std::lock_guard lock(mu_);
  std::vector<TimerRecord> out;
  if (Execution* x = execution(execution_arn)) {
    for (const auto& [key, due] : x->timers) out.push_back({execution_arn, key, due});
  }
  std::sort(out.begin(), out.end(), [](const TimerRecord& a, const TimerRecord& b) {
    return std::tie(a.due, a.key) < std::tie(b.due, b.key);
  });
  return out;
}

StatusOr<TaskTokenRecord> MemoryStore::get_task_token(const std::string& token) {
  std::lock_guard lock(mu_);
  auto it = tokens_.find(token);
  if (it == tokens_.end()) {
    return Status(Code::kNotFound, "task token '" + token + "' does not exist");
  }
  return it->second;
}

StatusOr<TaskTokenRecord*> MemoryStore::open_token(const std::string& token, UnixNanos now) {
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return internal::not_found_token(token);
  const Execution* x = execution(it->second.execution_arn);
  const ExecutionStatus status = x ? x->record.status : ExecutionStatus::kFailed;
  if (Status s = internal::check_token_open(it->second, status, now); !s.ok()) return s;
  return &it->second;
}

void MemoryStore::wake_if_parked(const std::string& arn, UnixNanos now) {
  Execution* x = execution(arn);
  if (x && x->record.lease_owner.empty() && x->record.lease_expiry > now) x->record.lease_expiry = now;
}

StatusOr<TaskTokenRecord> MemoryStore::close_task_token(const std::string& token, const TaskTokenResult& result,
                                                        UnixNanos now) {
  std::lock_guard lock(mu_);
  auto open = open_token(token, now);
  if (!open.ok()) return open.status();
  TaskTokenRecord& t = **open;
  t.status = TokenStatus::kClosed;
  t.result = result;
  wake_if_parked(t.execution_arn, now);
  return t;
}

StatusOr<TaskTokenRecord> MemoryStore::heartbeat_task_token(const std::string& token, UnixNanos now) {
  std::lock_guard lock(mu_);
  auto open = open_token(token, now);
  if (!open.ok()) return open.status();
  internal::apply_heartbeat(**open, now);
  return **open;
}

StatusOr<ActivityRecord> MemoryStore::create_activity(const ActivityRecord& activity) {
  std::lock_guard lock(mu_);
  return activities_.try_emplace(activity.name, activity).first->second;
}

StatusOr<ActivityRecord> MemoryStore::describe_activity(const std::string& arn) {
  std::lock_guard lock(mu_);
  for (const auto& [name, a] : activities_) {
    if (a.arn == arn) return a;
  }
  return internal::not_found_activity(arn);
}

StatusOr<Page<ActivityRecord>> MemoryStore::list_activities(const PageRequest& page) {
  std::optional<std::string> after;
  if (!page.next_token.empty()) {
    after = internal::decode_name_cursor(page.next_token);
    if (!after) return Status(Code::kInvalidArgument, "invalid next_token '" + page.next_token + "'");
  }
  const int size = internal::page_size(page);
  std::lock_guard lock(mu_);
  Page<ActivityRecord> out;
  for (auto it = activities_.upper_bound(after.value_or("")); it != activities_.end(); ++it) {
    if (static_cast<int>(out.items.size()) == size) {
      out.next_token = internal::encode_name_cursor(out.items.back().name);
      break;
    }
    out.items.push_back(it->second);
  }
  return out;
}

Status MemoryStore::delete_activity(const std::string& arn) {
  std::lock_guard lock(mu_);
  for (auto it = activities_.begin(); it != activities_.end(); ++it) {
    if (it->second.arn == arn) {
      activities_.erase(it);
      return {};
    }
  }
  return internal::not_found_activity(arn);
}

StatusOr<std::optional<TaskTokenRecord>> MemoryStore::take_activity_task(const std::string& activity_arn,
                                                                         const std::string& worker_name,
                                                                         UnixNanos now) {
  std::lock_guard lock(mu_);
  TaskTokenRecord* oldest = nullptr;
  for (auto& [token, t] : tokens_) {
    if (t.activity_arn != activity_arn || t.status != TokenStatus::kOpen || t.worker_name) continue;
    if ((t.timeout_at != 0 && t.timeout_at < now) || (t.heartbeat_due != 0 && t.heartbeat_due < now)) continue;
    const Execution* x = execution(t.execution_arn);
    if (!x || x->record.status != ExecutionStatus::kRunning) continue;
    if (!oldest || std::tie(t.created, t.token) < std::tie(oldest->created, oldest->token)) oldest = &t;
  }
  if (!oldest) return std::optional<TaskTokenRecord>();
  oldest->worker_name = worker_name;
  wake_if_parked(oldest->execution_arn, now);
  return std::optional<TaskTokenRecord>(*oldest);
}

Status MemoryStore::acquire_lease(const std::string& execution_arn, const std::string& owner,
                                  UnixNanos now, UnixNanos expiry) {
  std::lock_guard lock(mu_);
  if (owner.empty()) return {Code::kInvalidArgument, "a lease needs an owner"};
  Execution* x = execution(execution_arn);
  if (x == nullptr) return not_found_execution(execution_arn);
  ExecutionRecord& r = x->record;
  if (r.status != ExecutionStatus::kRunning) {
    return {Code::kConflict, "execution '" + execution_arn + "' is not RUNNING"};
  }
  if (!r.lease_owner.empty() && r.lease_owner != owner && r.lease_expiry > now) {
    return {Code::kConflict,
            "execution '" + execution_arn + "' is leased by '" + r.lease_owner + "'"};
  }
  r.lease_owner = owner;
  r.lease_expiry = expiry;
  return {};
}

Status MemoryStore::renew_lease(const std::string& execution_arn, const std::string& owner,
                                UnixNanos expiry) {
  std::lock_guard lock(mu_);
  Execution* x = execution(execution_arn);
  if (x == nullptr) return not_found_execution(execution_arn);
  if (owner.empty() || x->record.lease_owner != owner) {
    return {Code::kConflict,
            "'" + owner + "' does not hold the lease of execution '" + execution_arn + "'"};
  }
  x->record.lease_expiry = expiry;
  return {};
}

Status MemoryStore::release_lease(const std::string& execution_arn, const std::string& owner) {
  std::lock_guard lock(mu_);
  Execution* x = execution(execution_arn);
  if (x == nullptr) return not_found_execution(execution_arn);
  if (owner.empty() || x->record.lease_owner != owner) {
    return {Code::kConflict,
            "'" + owner + "' does not hold the lease of execution '" + execution_arn + "'"};
  }
  x->record.lease_owner.clear();
  x->record.lease_expiry = 0;
  return {};
}

StatusOr<std::int64_t> MemoryStore::renew_leases(const std::string& owner, UnixNanos expiry) {
  std::lock_guard lock(mu_);
  if (owner.empty()) return Status(Code::kInvalidArgument, "a lease needs an owner");
  std::int64_t n = 0;
  for (auto& [arn, x] : executions_) {
    if (x.record.status == ExecutionStatus::kRunning && x.record.lease_owner == owner) {
      x.record.lease_expiry = expiry;
      ++n;
    }
  }
  return n;
}

StatusOr<std::int64_t> MemoryStore::release_leases(const std::string& owner) {
  std::lock_guard lock(mu_);
  if (owner.empty()) return Status(Code::kInvalidArgument, "a lease needs an owner");
  std::int64_t n = 0;
  for (auto& [arn, x] : executions_) {
    if (x.record.lease_owner == owner) {
      x.record.lease_owner.clear();
      x.record.lease_expiry = 0;
      ++n;
    }
  }
  return n;
}

StatusOr<std::vector<std::string>> MemoryStore::list_lease_owners() {
  std::lock_guard lock(mu_);
  std::set<std::string> owners;
  for (const auto& [arn, x] : executions_) {
    if (x.record.status == ExecutionStatus::kRunning && !x.record.lease_owner.empty())
      owners.insert(x.record.lease_owner);
  }
  return std::vector<std::string>(owners.begin(), owners.end());
}

StatusOr<std::vector<ExecutionRecord>> MemoryStore::claim_executions(const std::string& owner, UnixNanos now,
                                                                     UnixNanos expiry, int limit) {
  if (owner.empty()) return Status(Code::kInvalidArgument, "a lease needs an owner");
  std::lock_guard lock(mu_);
  std::vector<ExecutionRecord> out;
  for (const auto& e : claimable_locked(now, limit)) {
    Execution* x = execution(e.arn);
    if (x == nullptr) continue;
    x->record.lease_owner = owner;
    x->record.lease_expiry = expiry;
    out.push_back(x->record);
  }
  return out;
}

StatusOr<std::vector<ExecutionSummary>> MemoryStore::list_claimable_executions(UnixNanos now, int limit) {
  std::lock_guard lock(mu_);
  return claimable_locked(now, limit);
}

std::vector<ExecutionSummary> MemoryStore::claimable_locked(UnixNanos now, int limit) const {
  // (lease_expiry, seq) order, as the SQLite index gives it.
  std::vector<std::tuple<UnixNanos, std::int64_t, const Execution*>> found;
  for (const auto& [arn, x] : executions_) {
    const ExecutionRecord& r = x.record;
    // A free lease has expiry 0, a parked one the time it may be taken.
    if (r.status == ExecutionStatus::kRunning && r.lease_expiry <= now) {
      found.emplace_back(r.lease_expiry, x.seq, &x);
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<ExecutionSummary> out;
  for (const auto& entry : found) {
    if (static_cast<int>(out.size()) >= limit) break;
    out.push_back(std::get<2>(entry)->record.summary());
  }
  return out;
}

}  // namespace

StatusOr<std::unique_ptr<Store>> open_memory() {
  return std::unique_ptr<Store>(std::make_unique<MemoryStore>());
}

// ---- Function invocations ------------------------------------------------------

Status MemoryStore::record_invocations(const std::vector<InvocationRecord>& records) {
  std::lock_guard lock(mu_);
  invocations_.insert(invocations_.end(), records.begin(), records.end());
  return {};
}

StatusOr<std::vector<InvocationRecord>> MemoryStore::list_invocations(const std::string& function_name) {
  std::lock_guard lock(mu_);
  std::vector<InvocationRecord> out;
  for (const auto& r : invocations_) {
    if (function_name.empty() || r.function_name == function_name) out.push_back(r);
  }
  return out;
}

}  // namespace stepwise::storage

namespace stepwise::storage {
namespace {

std::int64_t* status_column(MapRunRecord& run, ExecutionStatus s) {
  switch (s) {
    case ExecutionStatus::kRunning: return &run.running;
    case ExecutionStatus::kSucceeded: return &run.succeeded;
    case ExecutionStatus::kFailed: return &run.failed;
    case ExecutionStatus::kTimedOut: return &run.timed_out;
    case ExecutionStatus::kAborted: return &run.aborted;
  }
  return &run.running;
}

}  // namespace

void MemoryStore::count_child(const ExecutionRecord& child, std::optional<ExecutionStatus> from, ExecutionStatus to) {
  if (child.map_run_arn.empty()) return;
  auto it = map_runs_.find(child.map_run_arn);
  if (it == map_runs_.end()) return;
  if (from) *status_column(it->second, *from) -= 1;
  *status_column(it->second, to) += 1;
}

StatusOr<MapRunRecord> MemoryStore::create_map_run(const MapRunRecord& run) {
  std::lock_guard lock(mu_);
  if (auto it = map_runs_.find(run.arn); it != map_runs_.end()) return it->second;
  if (execution(run.execution_arn) == nullptr) return not_found_execution(run.execution_arn);
  MapRunRecord& stored = map_runs_[run.arn] = run;
  stored.launched = stored.running = stored.succeeded = stored.failed = stored.timed_out = stored.aborted = 0;
  stored.redrive_count = 0;
  stored.redrive_date.reset();
  map_runs_by_execution_[run.execution_arn].push_back(run.arn);
  return stored;
}

StatusOr<std::vector<ExecutionRecord>> MemoryStore::create_map_run_children(const std::vector<NewExecution>& children,
                                                                            const std::string& lease_owner,
                                                                            UnixNanos lease_expiry) {
  std::lock_guard lock(mu_);
  // All or none: check first (new ARNs, known map runs), then create.
  std::set<std::string> seen;
  for (const NewExecution& e : children) {
    if (e.map_run_arn.empty() || !map_runs_.count(e.map_run_arn))
      return Status(Code::kNotFound, "map run '" + e.map_run_arn + "' does not exist");
    if (execution(e.arn) != nullptr || !seen.insert(e.arn).second)
      return Status(Code::kAlreadyExists, "execution '" + e.arn + "' already exists");
    if (!e.events.empty() && e.events.front().id <= 0) return Status(Code::kInvalidArgument, "event ids start at 1");
  }
  std::vector<ExecutionRecord> out;
  out.reserve(children.size());
  for (const NewExecution& e : children) {
    auto created = create_locked(e);
    if (!created.ok()) return created.status();  // not reached: checked above
    Execution& x = *execution(e.arn);
    if (!lease_owner.empty()) {
      x.record.lease_owner = lease_owner;
      x.record.lease_expiry = lease_expiry;
    }
    out.push_back(x.record);
  }
  return out;
}

StatusOr<MapRunRecord> MemoryStore::describe_map_run(const std::string& arn) {
  std::lock_guard lock(mu_);
  auto it = map_runs_.find(arn);
  if (it == map_runs_.end()) return Status(Code::kNotFound, "map run '" + arn + "' does not exist");
  MapRunRecord r = it->second;
  if (r.item_total) {
    MapRunRecord::ItemCounts items;
    if (auto kids = children_.find(arn); kids != children_.end()) {
      for (const auto& [index, child_arn] : kids->second) {
        const ExecutionRecord& c = execution(child_arn)->record;
        items.launched += c.item_count;
        switch (c.status) {
          case ExecutionStatus::kRunning: items.running += c.item_count; break;
          case ExecutionStatus::kSucceeded: items.succeeded += c.item_count; break;
          case ExecutionStatus::kFailed: items.failed += c.item_count; break;
          case ExecutionStatus::kTimedOut: items.timed_out += c.item_count; break;
          case ExecutionStatus::kAborted: items.aborted += c.item_count; break;
        }
      }
    }
    r.items = items;
  }
  return r;
}

StatusOr<Page<MapRunRecord>> MemoryStore::list_map_runs(const std::string& execution_arn, const PageRequest& page) {
  std::lock_guard lock(mu_);
  const std::size_t size = internal::page_size(page);
  std::size_t start = 0;
  if (!page.next_token.empty()) {
    auto cursor = internal::decode_cursor(page.next_token);
    if (!cursor) return Status(Code::kInvalidArgument, "invalid next token");
    start = static_cast<std::size_t>(cursor->seq);
  }
  Page<MapRunRecord> out;
  auto it = map_runs_by_execution_.find(execution_arn);
  if (it == map_runs_by_execution_.end()) return out;
  for (std::size_t i = start; i < it->second.size(); ++i) {
    if (out.items.size() == size) {
      out.next_token = internal::encode_cursor({0, static_cast<std::int64_t>(i)});
      break;
    }
    out.items.push_back(map_runs_.at(it->second[i]));
  }
  return out;
}

StatusOr<MapRunRecord> MemoryStore::update_map_run(const std::string& arn, const MapRunUpdate& update) {
  std::lock_guard lock(mu_);
  auto it = map_runs_.find(arn);
  if (it == map_runs_.end()) return Status(Code::kNotFound, "map run '" + arn + "' does not exist");
  MapRunRecord& r = it->second;
  if (update.status) r.status = *update.status;
  if (update.stop_date) r.stop_date = update.stop_date;
  if (update.clear_stop_date) r.stop_date.reset();
  if (update.total) r.total = *update.total;
  if (update.redrive_date) {
    r.redrive_count += 1;
    r.redrive_date = update.redrive_date;
  }
  return r;
}

StatusOr<std::vector<ExecutionRecord>> MemoryStore::list_map_run_children(const std::string& map_run_arn,
                                                                          std::int64_t from_index, int limit) {
  std::lock_guard lock(mu_);
  if (!map_runs_.count(map_run_arn)) return Status(Code::kNotFound, "map run '" + map_run_arn + "' does not exist");
  std::vector<ExecutionRecord> out;
  auto it = children_.find(map_run_arn);
  if (it == children_.end()) return out;
  for (auto c = it->second.lower_bound(from_index); c != it->second.end() && static_cast<int>(out.size()) < limit;
       ++c) {
    ExecutionRecord r = executions_.at(c->second).record;
    r.state.clear();
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace stepwise::storage
