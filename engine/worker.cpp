#include "engine/worker.h"

#include <signal.h>
#include <time.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "engine/event_codec.h"
#include "engine/snapshot.h"

namespace stepwise {

using storage::Code;
using storage::Status;

// What the worker knows of one execution it runs. It is also where the
// engine writes the execution's events (EventWriter): straight into the
// text the store writes, with no record per event.
struct Worker::Tracked final : EventWriter {
  explicit Tracked(std::size_t& buffered) : buffered_events(buffered) {}

  std::string& begin_event(std::int64_t id, std::int64_t previous_event_id, Nanos timestamp,
                           std::string_view type) override {
    return events.begin(id, previous_event_id, timestamp, type);
  }
  void end_event() override {
    events.end();
    ++buffered_events;
  }

  std::string arn;
  std::int64_t version = 0;  // the stored version: the next commit's expected_version
  DoneCallback on_done;

  // Buffered since the last commit.
  bool dirty = false;
  storage::EncodedEvents events;
  std::size_t& buffered_events;  // the worker's count of events not yet in a batch
  const ExecutionState* live = nullptr;  // the engine's state, valid while it runs
  RunQueue queue;
  std::optional<std::string> final_state;  // the terminal snapshot, taken at once
  std::optional<storage::ExecutionOutcome> outcome;
  ExecutionResult result;  // set when the engine reports the end
  bool end_reported = false;   // the engine's on_done came
  bool end_committed = false;  // the outcome is in the store

  Nanos wake_stored = 0;  // the "wake" timer as stored (0: none)

  // Callback and activity tasks waiting for the store, by token: registered
  // and not stored yet, and stored (as far as this worker knows) and open.
  std::map<std::string, storage::TaskTokenRecord> new_tokens;
  std::set<std::string> open_tokens;
  bool waits_for(const std::string& token) const { return new_tokens.count(token) || open_tokens.count(token); }
};

namespace {

std::int64_t thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The earliest moment the execution needs waking: a Wait or retry timer, a
// task or heartbeat deadline, the execution timeout (0: none).
Nanos next_wake(const ExecutionState& st) {
  Nanos wake = st.deadline;
  auto consider = [&](Nanos t) {
    if (t > 0 && (wake == 0 || t < wake)) wake = t;
  };
  for (const auto& f : st.frames) {
    if (!f.in_use) continue;
    if (f.phase == FramePhase::Timer) consider(f.due);
    if (f.phase == FramePhase::Task) {
      consider(f.task_deadline);
      consider(f.heartbeat_deadline);
    }
  }
  return wake;
}

// The execution as the store describes it, for a caller told of an end
// that another party committed.
ExecutionResult result_from_record(const storage::ExecutionRecord& r) {
  ExecutionResult out;
  out.status = from_store_status(r.status);
  out.execution_arn = r.arn;
  if (r.output) {
    if (auto v = parse_json(*r.output)) out.output = std::move(*v);
  }
  if (r.error) {
    out.error = *r.error;
    out.has_error = true;
  }
  if (r.cause) {
    out.cause = *r.cause;
    out.has_cause = true;
  }
  out.events = r.last_event_id;
  return out;
}

// What SendTaskSuccess / SendTaskFailure recorded, as the task's outcome.
TaskOutcome outcome_of(const storage::TaskTokenResult& r) {
  if (r.success) {
    auto v = parse_json(r.output);
    if (v) return TaskOutcome::success(std::move(*v));
    return TaskOutcome::fail("States.Runtime", "the recorded task output is not JSON");
  }
  TaskOutcome o = TaskOutcome::fail(r.error.value_or(""), r.cause.value_or(""));
  o.failure.has_error = r.error.has_value();
  o.failure.has_cause = r.cause.has_value();
  return o;
}

// The frame of `st` whose task waits with `token` (null: none).
const Frame* waiting_frame(const ExecutionState& st, const std::string& token) {
  for (const auto& f : st.frames) {
    if (f.in_use && f.phase == FramePhase::Task && f.task_token == token) return &f;
  }
  return nullptr;
}

// A completion that passes on only its first outcome (the engine counts
// tasks in flight by completions).
TaskCompletion once(TaskCompletion done) {
  auto called = std::make_shared<std::atomic<bool>>(false);
  return [called, done = std::move(done)](TaskOutcome o) {
    if (!called->exchange(true)) done(std::move(o));
  };
}

bool process_alive(long pid) {
  if (pid <= 0) return true;  // not ours to judge
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

}  // namespace

std::string default_worker_owner() {
  std::random_device rd;
  char nonce[9];
  std::snprintf(nonce, sizeof nonce, "%08x", rd());
  return host_name() + ":" + std::to_string(::getpid()) + ":" + nonce;
}

// Commits one batch at a time on its own thread. The store serializes its
// callers, so the worker's other store calls (claims, renewals) may run
// meanwhile.
class Worker::Committer {
 public:
  explicit Committer(storage::Store& store) : store_(store), thread_([this] { loop(); }) {}
  ~Committer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  // REQUIRES: no batch in flight.
  void submit(const std::vector<storage::Transition>* transitions) {
    {
      std::lock_guard lock(mu_);
      job_ = transitions;
      result_.reset();
    }
    cv_.notify_all();
  }
  // Blocks until the submitted batch is committed (or refused).
  storage::StatusOr<std::vector<std::int64_t>> wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return result_.has_value(); });
    auto out = std::move(*result_);
    result_.reset();
    return out;
  }
  // The committer thread's CPU time, as of its last commit.
  std::int64_t cpu_ns() const { return cpu_ns_.load(std::memory_order_relaxed); }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || job_ != nullptr; });
      if (job_ == nullptr) return;  // stopping, nothing left to commit
      const auto* job = job_;
      lock.unlock();
      auto r = store_.commit_transitions(*job);
      cpu_ns_.store(thread_cpu_ns(), std::memory_order_relaxed);
      lock.lock();
      job_ = nullptr;
      result_.emplace(std::move(r));
      cv_.notify_all();
    }
  }

  storage::Store& store_;
  std::mutex mu_;
  std::condition_variable cv_;
  const std::vector<storage::Transition>* job_ = nullptr;
  std::optional<storage::StatusOr<std::vector<std::int64_t>>> result_;
  bool stopping_ = false;
  std::atomic<std::int64_t> cpu_ns_{0};
  std::thread thread_;  // last: starts once the rest is ready
};

// Stands between an execution's invoker and its callback and activity
// tasks: those wait for the store (see the header).
class Worker::TaskBridge final : public InvokerWrapper {
 public:
  TaskBridge(std::shared_ptr<Invoker> target, Worker& worker) : InvokerWrapper(std::move(target)), worker_(worker) {}

  TaskDispatch dispatch(const std::string& resource, const std::string& state_name) override {
    if (!is_activity_resource(resource) || target_->answers_itself(state_name)) {
      return target_->dispatch(resource, state_name);
    }
    auto activity = worker_.store_->describe_activity(resource);
    if (activity.code() == Code::kNotFound) return {"The activity " + resource + " does not exist.", false};
    return {std::nullopt, true};
  }

  void invoke(const TaskRequest& r, TaskCompletion done, TaskHeartbeat heartbeat) override {
    const bool waits = r.task_token && (is_callback_resource(r.resource) || is_activity_resource(r.resource)) &&
                       !target_->answers_itself(r.state_name);
    if (!waits) {
      target_->invoke(r, std::move(done), std::move(heartbeat));
      return;
    }
    worker_.await_task(r, once(std::move(done)), target_);
  }

 private:
  Worker& worker_;
};

Worker::Worker(Engine& engine, std::shared_ptr<storage::Store> store, WorkerOptions options)
    : engine_(engine), store_(std::move(store)), options_(std::move(options)) {
  if (options_.owner.empty()) options_.owner = default_worker_owner();
  if (options_.commit_in_background) committer_ = std::make_unique<Committer>(*store_);
}

Worker::~Worker() {
  // A batch in flight commits (or not) before the executions are let go,
  // as it would have had the process died.
  if (in_flight_) (void)committer_->wait();
  for (auto& [arn, t] : tracked_) engine_.abandon(arn);
}

bool Worker::paused() const { return paused_until_ns_ != 0 && steady_ns() < paused_until_ns_; }

Result<std::shared_ptr<const states::Definition>> Worker::definition(const std::string& arn, std::int64_t version) {
  const std::string key = arn + "#" + std::to_string(version);
  if (auto it = definitions_.find(key); it != definitions_.end()) return it->second;
  auto v = store_->get_state_machine_version(arn, version);
  if (!v.ok()) return Failure{"Stepwise.Store", v.status().to_string(), false};
  auto parsed = states::parse_definition_text(v->definition);
  if (!parsed.definition || !parsed.diagnostics.empty()) {
    std::string why = parsed.diagnostics.empty() ? "unusable" : parsed.diagnostics.front().pointer + ": " +
                                                                      parsed.diagnostics.front().message;
    return Failure{"Stepwise.InvalidDefinition",
                   "the stored definition of " + arn + " version " + std::to_string(version) + " is invalid: " + why,
                   false};
  }
  definitions_.emplace(key, parsed.definition);
  return std::shared_ptr<const states::Definition>(parsed.definition);
}

Status Worker::adopt(const std::string& execution_arn, DoneCallback on_done) {
  adopted_[execution_arn] = on_done;
  Status s = claim(execution_arn, std::move(on_done));
  if (!s.ok() && s.code() != Code::kConflict) adopted_.erase(execution_arn);
  return s;
}

Status Worker::claim(const std::string& arn, DoneCallback on_done) {
  if (Status s = collect(); !s.ok()) return s;  // as in claim_due
  if (tracked_.count(arn)) return {};
  const Nanos now = engine_.options().clock->now();
  if (Status s = store_->acquire_lease(arn, options_.owner, now, now + options_.lease_duration); !s.ok()) return s;
  auto stored = store_->describe_execution(arn);
  if (!stored.ok()) return stored.status();
  return run_claimed(*stored, std::move(on_done));
}

Status Worker::run_claimed(const storage::ExecutionRecord& record, DoneCallback on_done) {
  const std::string& arn = record.arn;
  if (tracked_.count(arn)) return {};
  if (record.status != storage::ExecutionStatus::kRunning) return {Code::kConflict, arn + " is not RUNNING"};
  auto def = definition(record.state_machine_arn, record.state_machine_version);
  if (!def) return {Code::kInvalidArgument, def.failure().cause};
  auto snapshot = parse_json(record.state);
  if (!snapshot) return {Code::kCorrupt, "the stored state of " + arn + " is not JSON"};

  RunOptions opts;
  auto type = machine_types_.find(record.state_machine_arn);
  if (type == machine_types_.end()) {
    auto m = store_->describe_state_machine(record.state_machine_arn);
    RunOptions::Type t = m.ok() && m->type == storage::MachineType::kExpress ? RunOptions::Type::Express
                                                                                : RunOptions::Type::Standard;
    type = machine_types_.emplace(record.state_machine_arn, t).first;
  }
  opts.type = type->second;
  if (options_.invoker_for) {
    const std::string& machine = record.state_machine_arn;
    opts.invoker = options_.invoker_for(machine.substr(machine.rfind(':') + 1));
  }
  opts.invoker = std::make_shared<TaskBridge>(opts.invoker ? opts.invoker : engine_.invoker(), *this);

  auto owned = std::make_unique<Tracked>(buffered_events_);
  Tracked* t = owned.get();
  t->arn = arn;
  t->version = record.version;
  t->on_done = std::move(on_done);
  opts.event_writer = t;
  if (options_.on_event) opts.on_event = options_.on_event;
  opts.on_transition = [this, t](const Checkpoint& c) { note_transition(*t, c); };
  auto resumed = engine_.resume(*def, *snapshot, std::move(opts), [this, t](ExecutionResult r) {
    t->result = std::move(r);
    t->end_reported = true;
    if (t->end_committed) finish(*t);
  });
  if (!resumed) {
    (void)store_->release_lease(arn, options_.owner);
    return {Code::kCorrupt, "cannot resume " + arn + ": " + resumed.failure().cause};
  }
  // The snapshot's wake timer is already stored.
  t->wake_stored = -1;  // unknown: written with the first commit
  tracked_.emplace(arn, std::move(owned));
  ++stats_.claimed;
  return {};
}

void Worker::note_transition(Tracked& t, const Checkpoint& c) {
  if (!t.dirty) {
    t.dirty = true;
    if (dirty_.empty()) first_dirty_ns_ = steady_ns();
    dirty_.push_back(&t);
  }
  if (c.state.status == ExecutionStatus::Running) {
    t.live = &c.state;
    t.queue = c.queue;
  } else {
    // The engine reports the end and forgets the state next: take it now.
    t.live = nullptr;
    t.final_state = to_json(c.to_json());
    storage::ExecutionOutcome o;
    o.status = to_store_status(c.state.status);
    if (c.state.status == ExecutionStatus::Succeeded) o.output = to_json(c.state.output);
    if (c.state.has_error) o.error = c.state.error;
    if (c.state.has_cause) o.cause = c.state.cause;
    o.stop_date = engine_.options().clock->now();
    t.outcome = std::move(o);
  }
  maybe_flush_in_hook();
}

void Worker::maybe_flush_in_hook() {
  if (!hook_error_.ok()) return;
  if (buffered_events_ < options_.max_batch_events && steady_ns() - first_dirty_ns_ < options_.max_batch_delay) return;
  Status s = flush();
  if (!s.ok()) hook_error_ = s;
}

void Worker::await_task(const TaskRequest& r, TaskCompletion done, std::shared_ptr<Invoker> target) {
  auto it = tracked_.find(r.execution_id);
  if (it == tracked_.end()) return;  // not ours (any more): whoever runs it next waits
  Tracked& t = *it->second;
  const std::string& token = *r.task_token;
  auto stored = store_->get_task_token(token);
  if (stored.ok()) {
    // A heartbeat or a result is told at once, inside the invocation, so
    // that it goes ahead of a deadline the resumed execution finds already
    // past: the store took it in time (it refuses late ones). A worker
    // having taken an activity task is told by the next sweep (a step of
    // its own), unless the answer is here too.
    t.open_tokens.insert(token);
    if (stored->last_heartbeat != 0) engine_.task_heartbeat(r.execution_id, token, stored->last_heartbeat);
    if (stored->result) {
      if (stored->worker_name) engine_.task_started(r.execution_id, token, *stored->worker_name);
      done(outcome_of(*stored->result));
      return;
    }
  } else if (stored.code() == Code::kNotFound) {
    // First invocation: the token is stored with this transition, and only
    // then is the integration called (it may answer with the token at once).
    storage::TaskTokenRecord rec;
    rec.token = token;
    if (is_activity_resource(r.resource)) {
      rec.activity_arn = r.resource;
      rec.input = to_json(r.payload);
    } else if (is_lambda_invoke(r.resource)) {
      sends_.push_back(PendingSend{r, std::move(target)});
    }
    t.new_tokens[token] = std::move(rec);
  }
  awaited_[token] = Awaited{r.execution_id, std::move(done)};
}

void Worker::sweep_tasks() {
  // Read first, act after: telling the engine may commit, park and drop an
  // execution, which releases its entries.
  std::vector<storage::TaskTokenRecord> seen;
  std::vector<std::string> gone;
  for (const auto& [token, a] : awaited_) {
    if (!tracked_.count(a.arn)) {
      gone.push_back(a.arn);
      continue;
    }
    auto stored = store_->get_task_token(token);
    if (stored.ok()) seen.push_back(std::move(*stored));  // else not stored yet, or the store is busy: next round
  }
  for (const auto& arn : gone) release_awaited(arn);
  for (const auto& rec : seen) {
    if (!awaited_.count(rec.token)) continue;
    if (rec.worker_name) engine_.task_started(rec.execution_arn, rec.token, *rec.worker_name);
    if (rec.last_heartbeat != 0) engine_.task_heartbeat(rec.execution_arn, rec.token, rec.last_heartbeat);
    auto it = awaited_.find(rec.token);
    if (it == awaited_.end()) continue;
    if (rec.result) {
      TaskCompletion done = std::move(it->second.done);
      awaited_.erase(it);
      done(outcome_of(*rec.result));
    } else if (rec.status != storage::TokenStatus::kOpen) {
      // Closed by the execution itself (the task left, timed out): nothing will come.
      TaskCompletion done = std::move(it->second.done);
      awaited_.erase(it);
      done(TaskOutcome::fail("Stepwise.Released", ""));
    }
  }
}

void Worker::send_pending() {
  if (sends_.empty() || in_flight_) return;
  std::vector<PendingSend> sends;
  sends.swap(sends_);
  for (auto& s : sends) {
    const std::string token = *s.request.task_token;
    auto it = tracked_.find(s.request.execution_id);
    if (it != tracked_.end() && it->second->new_tokens.count(token)) {
      sends_.push_back(std::move(s));  // not stored yet
      continue;
    }
    // Stored with a commit of ours (the execution may be parked since), or
    // never stored (dropped first): then whoever runs it next calls again.
    auto stored = store_->get_task_token(token);
    if (!stored.ok() || stored->status != storage::TokenStatus::kOpen) continue;
    // The function's own answer is not the task's: only a failure to call it
    // is, recorded as SendTaskFailure would record it (the execution may be
    // parked by the time it comes).
    std::shared_ptr<storage::Store> store = store_;
    std::shared_ptr<Clock> clock = engine_.options().clock;
    s.target->invoke(
        s.request,
        [store, clock, token](TaskOutcome o) {
          if (o.ok) return;
          storage::TaskTokenResult failure;
          failure.success = false;
          if (o.failure.has_error) failure.error = o.failure.error;
          if (o.failure.has_cause) failure.cause = o.failure.cause;
          failure.date = clock->now();
          (void)store->close_task_token(token, failure, failure.date);
        },
        [] {});
  }
}

void Worker::token_changes(Tracked& t, storage::Transition& tr) {
  if (t.final_state) {  // the end closes every token
    t.new_tokens.clear();
    t.open_tokens.clear();
    return;
  }
  if (!t.live) return;
  const Nanos now = engine_.options().clock->now();
  for (auto& [token, rec] : t.new_tokens) {
    const Frame* f = waiting_frame(*t.live, token);
    if (!f) continue;  // already over: nothing to store
    rec.frame_key = std::to_string(f->id);
    rec.created = now;
    rec.timeout_at = f->task_deadline;
    rec.heartbeat_seconds = static_cast<std::int64_t>(f->heartbeat_seconds);
    rec.heartbeat_due = f->heartbeat_deadline;
    tr.tokens_to_add.push_back(std::move(rec));
    t.open_tokens.insert(token);
  }
  t.new_tokens.clear();
  for (auto it = t.open_tokens.begin(); it != t.open_tokens.end();) {
    if (waiting_frame(*t.live, *it)) {
      ++it;
      continue;
    }
    tr.tokens_to_close.push_back(*it);
    it = t.open_tokens.erase(it);
  }
}

storage::Transition Worker::transition_of(Tracked& t) {
  storage::Transition tr;
  tr.execution_arn = t.arn;
  tr.expected_version = t.version;
  tr.lease_owner = options_.owner;
  token_changes(t, tr);
  if (t.final_state) {
    tr.state = *t.final_state;
    tr.outcome = t.outcome;
  } else if (t.live) {
    tr.state = to_json(snapshot_to_json(*t.live, t.queue));
    const Nanos wake = next_wake(*t.live);
    if (const Nanos park = park_time(t); park != 0) tr.park_until = park;
    if (wake != t.wake_stored) {
      if (wake == 0) {
        tr.timers_to_clear.push_back("wake");
      } else {
        tr.timers_to_set.push_back(storage::TimerRecord{t.arn, "wake", wake});
      }
    }
  }
  // The text moves into the batch; the next events go into memory a
  // committed batch gave back, if any.
  tr.encoded_events = std::move(t.events);
  t.events = take_spare_events();
  return tr;
}

storage::EncodedEvents Worker::take_spare_events() {
  if (spare_events_.empty()) return {};
  storage::EncodedEvents spare = std::move(spare_events_.back());
  spare_events_.pop_back();
  return spare;
}

void Worker::recycle_events(std::vector<storage::Transition>& transitions) {
  // A few buffers are enough for a steady stream of batches: their memory,
  // already grown to a batch's size, is reused rather than allocated, faulted
  // in and freed again for every batch.
  constexpr std::size_t kSpares = 64;
  for (storage::Transition& tr : transitions) {
    if (spare_events_.size() >= kSpares) return;
    tr.encoded_events.clear();
    spare_events_.push_back(std::move(tr.encoded_events));
  }
}

void Worker::committed(Tracked& t, const storage::Transition& tr, std::int64_t version,
                       std::vector<Tracked*>& ended) {
  t.version = version;
  if (!tr.timers_to_set.empty()) t.wake_stored = tr.timers_to_set.front().due;
  if (!tr.timers_to_clear.empty()) t.wake_stored = 0;
  ++stats_.transitions;
  stats_.events += static_cast<std::int64_t>(tr.events.size() + tr.encoded_events.size());
  if (tr.outcome) {  // not t.final_state: the end may have come after this batch was built
    ended.push_back(&t);
  } else if (tr.park_until) {
    ++stats_.hibernated;
    drop(t, false);  // parked: no longer ours
  }
}

Status Worker::flush() {
  if (Status s = collect(); !s.ok()) return s;
  if (dirty_.empty()) return {};
  std::vector<Tracked*> executions;
  executions.swap(dirty_);
  buffered_events_ = 0;
  in_batch_.executions = std::move(executions);
  recycle_events(in_batch_.transitions);
  in_batch_.transitions.clear();
  in_batch_.transitions.reserve(in_batch_.executions.size());
  for (Tracked* t : in_batch_.executions) {
    in_batch_.transitions.push_back(transition_of(*t));
    t->dirty = false;  // what the engine does next goes into the next batch
  }
  // One transaction for the whole batch: the point of grouping.
  if (committer_) {
    committer_->submit(&in_batch_.transitions);
    in_flight_ = true;
    return {};
  }
  auto all = store_->commit_transitions(in_batch_.transitions);
  return take_outcome(in_batch_, std::move(all));
}

Status Worker::collect() {
  if (!in_flight_) return {};
  const std::int64_t t0 = steady_ns();
  auto all = committer_->wait();
  stats_.commit_wait_ns += steady_ns() - t0;
  stats_.committer_cpu_ns = committer_->cpu_ns();
  in_flight_ = false;
  return take_outcome(in_batch_, std::move(all));
}

Status Worker::take_outcome(Batch& batch, storage::StatusOr<std::vector<std::int64_t>> all) {
  std::vector<Tracked*> ended;
  Status failure;
  ++stats_.commits;
  if (all.ok()) {
    for (std::size_t i = 0; i < batch.executions.size(); ++i) {
      committed(*batch.executions[i], batch.transitions[i], (*all)[i], ended);
    }
  } else if (all.code() == Code::kConflict) {
    // Some execution was stopped by someone else or taken over: commit one
    // by one, dropping those that conflict.
    for (std::size_t i = 0; i < batch.executions.size(); ++i) {
      Tracked& t = *batch.executions[i];
      auto one = store_->commit_transition(batch.transitions[i]);
      ++stats_.commits;
      if (one.ok()) {
        committed(t, batch.transitions[i], *one, ended);
      } else if (one.code() == Code::kConflict) {
        t.dirty = false;
        drop(t, true);
      } else {
        failure = Status(one.code(), "cannot record a transition of " + t.arn + ": " + one.status().message());
        break;
      }
    }
  } else {
    failure = Status(all.code(), "cannot record " + std::to_string(batch.executions.size()) +
                                     " transition(s): " + all.status().message());
  }
  batch.executions.clear();
  for (Tracked* t : ended) {
    t->end_committed = true;
    if (t->end_reported) finish(*t);
  }
  if (!failure.ok()) {
    // The store cannot take writes: pause (this drops every execution).
    ++stats_.store_errors;
    pause(failure);
  }
  return failure;
}

Nanos Worker::park_time(const Tracked& t) const {
  // Under virtual time the engine moves its clock to its own timers only;
  // a worker that does not claim would never load a parked execution again.
  if (engine_.options().virtual_time || !options_.claim) return 0;
  if (options_.hibernate_after <= 0 || !t.live || !t.queue.ready.empty() || !t.queue.pending.empty()) return 0;
  if (adopted_.count(t.arn)) return 0;  // its caller waits for it in this process
  bool callbacks = false;               // waits for the store (SendTask*, an activity worker)
  for (const auto& f : t.live->frames) {
    if (!f.in_use || f.phase == FramePhase::Timer || f.phase == FramePhase::Children) continue;
    if (f.phase == FramePhase::Task && f.task_token && t.waits_for(*f.task_token)) {
      callbacks = true;
      continue;
    }
    return 0;
  }
  const Nanos wake = next_wake(*t.live);
  const Nanos now = engine_.options().clock->now();
  // Nothing but the store can wake it: a result or a worker taking its task
  // makes it claimable (Store::close_task_token, take_activity_task).
  if (callbacks && wake == 0) return std::numeric_limits<Nanos>::max();
  if (wake == 0 || (!callbacks && wake - now <= options_.hibernate_after)) return 0;
  // Claimable a little early, so that the engine's own timer fires on time;
  // not parked at all if that is before the next claim round anyway.
  const Nanos park = wake - kNanosPerSecond;
  return park > now + options_.claim_every ? park : 0;
}

void Worker::release_awaited(const std::string& arn) {
  for (auto it = awaited_.begin(); it != awaited_.end();) {
    if (it->second.arn != arn) {
      ++it;
      continue;
    }
    // The engine no longer runs the execution: this completion is ignored,
    // but it ends the task's count of tasks in flight.
    it->second.done(TaskOutcome::fail("Stepwise.Released", ""));
    it = awaited_.erase(it);
  }
}

void Worker::finish(Tracked& t) {
  ++stats_.ended;
  release_awaited(t.arn);
  adopted_.erase(t.arn);
  DoneCallback cb = std::move(t.on_done);
  auto it = tracked_.find(t.arn);
  if (it == tracked_.end()) return;
  retired_.push_back(std::move(it->second));
  tracked_.erase(it);
  if (cb) cb(t.result);  // t lives on in retired_ until the next round
}

void Worker::drop(Tracked& t, bool notify) {
  engine_.abandon(t.arn);
  release_awaited(t.arn);
  auto it = tracked_.find(t.arn);
  if (it == tracked_.end()) return;
  std::unique_ptr<Tracked> owned = std::move(it->second);
  tracked_.erase(it);
  if (notify) {
    ++stats_.dropped;
    // Told the end another party recorded (e.g. StopExecution).
    auto record = store_->describe_execution(owned->arn);
    if (record.ok() && record->status != storage::ExecutionStatus::kRunning) {
      adopted_.erase(owned->arn);
      if (owned->on_done) owned->on_done(result_from_record(*record));
    }
  }
  retired_.push_back(std::move(owned));
}

void Worker::pause(const Status& why) {
  spdlog::error("worker paused: {} (every execution stays as last recorded; retrying)", why.to_string());
  if (in_flight_) {
    // Whatever it did is in the store (or not), as after a crash; the
    // executions are claimed again from there.
    (void)committer_->wait();
    in_flight_ = false;
    in_batch_.executions.clear();
  }
  for (Tracked* t : dirty_) t->dirty = false;
  dirty_.clear();
  buffered_events_ = 0;
  std::vector<Tracked*> all;
  for (auto& [arn, t] : tracked_) all.push_back(t.get());
  for (Tracked* t : all) {
    if (!adopted_.count(t->arn)) reclaim_.push_back(t->arn);  // still leased to us: not "claimable"
    drop(*t, false);
  }
  backoff_ = backoff_ == 0 ? 100 * kNanosPerMilli : std::min<Nanos>(backoff_ * 2, 5 * kNanosPerSecond);
  paused_until_ns_ = steady_ns() + backoff_;
}

void Worker::free_dead_owners() {
  auto owners = store_->list_lease_owners();
  if (!owners.ok()) return;
  const std::string host = host_name() + ":";
  for (const auto& owner : *owners) {
    if (owner == options_.owner || owner.rfind(host, 0) != 0) continue;
    const std::string rest = owner.substr(host.size());
    const auto colon = rest.find(':');
    long pid = 0;
    try {
      pid = std::stol(rest.substr(0, colon));
    } catch (...) {
      continue;  // not a worker name we wrote
    }
    if (pid == ::getpid() || process_alive(pid)) continue;
    auto freed = store_->release_leases(owner);
    if (freed.ok() && *freed > 0) spdlog::info("took over {} execution(s) of dead worker {}", *freed, owner);
  }
}

Status Worker::claim_due() {
  const Nanos now = engine_.options().clock->now();
  // Adopted executions come back after a pause, unless another party has
  // ended them meanwhile.
  std::vector<std::pair<std::string, DoneCallback>> again;
  for (const auto& [arn, cb] : adopted_) {
    if (!tracked_.count(arn)) again.emplace_back(arn, cb);
  }
  for (auto& [arn, cb] : again) {
    Status s = claim(arn, cb);
    if (s.code() == Code::kConflict) {
      auto record = store_->describe_execution(arn);
      if (record.ok() && record->status != storage::ExecutionStatus::kRunning) {
        adopted_.erase(arn);
        if (cb) cb(result_from_record(*record));
      }
      continue;
    }
    if (!s.ok()) return s;
  }
  std::vector<std::string> reclaim;
  reclaim.swap(reclaim_);
  for (std::size_t i = 0; i < reclaim.size(); ++i) {
    Status s = claim(reclaim[i], {});
    if (s.ok() || s.code() == Code::kConflict || s.code() == Code::kNotFound) continue;
    reclaim_.insert(reclaim_.end(), reclaim.begin() + static_cast<std::ptrdiff_t>(i), reclaim.end());
    return s;
  }
  if (!options_.claim || now < next_claim_) return {};
  next_claim_ = now + options_.claim_every;
  if (now >= next_dead_check_) {
    next_dead_check_ = now + kNanosPerSecond;
    free_dead_owners();
  }
  // The batch in flight may end executions the store then shows as ended:
  // take its outcome in first, so that one redriven meanwhile is claimed
  // afresh, not mistaken for the run still tracked.
  if (Status s = collect(); !s.ok()) return s;
  // One transaction takes a whole batch of leases (a restarted worker may
  // have thousands of executions to take over).
  auto claimed = store_->claim_executions(options_.owner, now, now + options_.lease_duration, options_.claim_batch);
  if (!claimed.ok()) return claimed.status();
  if (static_cast<int>(claimed->size()) == options_.claim_batch) next_claim_ = now;  // more are waiting
  for (const auto& e : *claimed) {
    Status s = run_claimed(e, {});
    if (s.ok() || s.code() == Code::kConflict) continue;
    if (s.code() == Code::kInvalidArgument || s.code() == Code::kCorrupt || s.code() == Code::kNotFound) {
      spdlog::error("cannot run {}: {}", e.arn, s.to_string());
      continue;  // left leased: tried again when the lease expires
    }
    return s;
  }
  return {};
}

Status Worker::run_once(Nanos max_wait) {
  retired_.clear();
  if (paused_until_ns_ != 0) {
    const std::int64_t left = paused_until_ns_ - steady_ns();
    if (left > 0) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<Nanos>(left, std::max<Nanos>(max_wait, 0))));
      return {};
    }
    paused_until_ns_ = 0;
    next_claim_ = 0;
  }
  if (Status s = renew_due(engine_.options().clock->now()); !s.ok()) return s;
  if (Status s = claim_due(); !s.ok()) {
    if (s.code() == Code::kBusy || s.code() == Code::kIoError || s.code() == Code::kDiskFull ||
        s.code() == Code::kCorrupt) {
      ++stats_.store_errors;
      pause(s);
      return s;
    }
    spdlog::warn("worker: {}", s.to_string());
  }
  sweep_tasks();
  // With work buffered, do not sit waiting before committing it.
  engine_.poll(dirty_.empty() && !in_flight_ ? max_wait : 0);
  if (!hook_error_.ok()) {
    Status s = hook_error_;
    hook_error_ = {};
    return s;  // already paused
  }
  if (Status s = flush(); !s.ok()) return s;
  // With more work ready, the batch commits while the next round runs it;
  // otherwise the round ends with everything committed.
  if (!engine_.busy()) {
    if (Status s = collect(); !s.ok()) return s;
  }
  send_pending();
  backoff_ = 0;
  return renew_due(engine_.options().clock->now());
}

Status Worker::renew_due(Nanos now) {
  if (now < next_renew_ || active() == 0) return {};
  next_renew_ = now + options_.renew_every;
  auto renewed = store_->renew_leases(options_.owner, now + options_.lease_duration);
  if (renewed.ok()) return {};
  ++stats_.store_errors;
  pause(renewed.status());
  return renewed.status();
}

Status Worker::run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    Status s = run_once(200 * kNanosPerMilli);
    (void)s;  // logged by pause(); the worker waits it out
  }
  return shutdown();
}

Status Worker::shutdown() {
  Status s = flush();
  if (s.ok()) s = collect();
  std::vector<std::string> arns;
  for (const auto& [arn, t] : tracked_) arns.push_back(arn);
  for (const auto& arn : arns) {
    engine_.abandon(arn);
    release_awaited(arn);
    auto it = tracked_.find(arn);
    retired_.push_back(std::move(it->second));
    tracked_.erase(it);
  }
  auto released = store_->release_leases(options_.owner);
  if (s.ok() && !released.ok()) s = released.status();
  return s;
}

}  // namespace stepwise
