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
#include "engine/map_io.h"
#include "engine/map_select.h"
#include "engine/seeded_random.h"
#include "engine/redrive.h"
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

// A map run this worker drives for a parent execution it runs.
struct Worker::MapDrive {
  std::string arn;
  std::string parent_arn;
  std::string state_name;
  std::string child_machine_name;  // MACHINE/LABEL
  std::string child_arn_prefix;    // arn:aws:states:REGION:ACCOUNT:execution:MACHINE/LABEL:
  std::int64_t redrive = 0;        // the parent's redrive count when this is a redrive of the map run
  // The parent's definition and its Map state (ItemReader, ResultWriter).
  std::shared_ptr<const states::Definition> parent_definition;
  const states::MapSpec* spec = nullptr;
  // The ResultWriter's Parameters/Arguments, evaluated by the parent: the
  // map run writes the result files when it ends.
  std::optional<json::value> writer_arguments;
  // The map run reads its children's inputs (items or batches) itself, in
  // order, as it launches them (mapio::ItemStream in the request)...
  std::optional<mapio::ItemStream> stream;
  std::shared_ptr<const ItemSelectorScope> selector;  // with an ItemSelector: what it reads
  std::unique_ptr<mapio::ItemSource> source;  // open at item `source_next`
  std::int64_t source_next = 0;
  // ...or they are in the parent's request, which its frame keeps; read from
  // the parent's stored state when its live state was not reported (a
  // resumed parent that has not stepped yet).
  std::optional<json::array> stored_inputs;
  TaskCompletion done;
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

// The same clock at the resolution of the kernel's tick (a few ms), read at
// a fraction of the cost: enough for the batch delay (tens of ms), which is
// checked at every transition.
std::int64_t coarse_steady_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
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
      finished_.store(false, std::memory_order_relaxed);
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
  // The submitted batch is committed (or refused): wait() returns at once.
  bool done() const { return finished_.load(std::memory_order_acquire); }
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
      finished_.store(true, std::memory_order_release);
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
  std::atomic<bool> finished_{false};
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

  bool runs_map_runs() const override { return true; }

  void invoke(const TaskRequest& r, TaskCompletion done, TaskHeartbeat heartbeat) override {
    if (r.resource == kMapRunResource) {
      worker_.start_map_run(r, once(std::move(done)));
      return;
    }
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
  auto def = record.map_run_arn.empty() ? definition(record.state_machine_arn, record.state_machine_version)
                                        : map_run_definition(record.map_run_arn);
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
    // A map run's child (MACHINE/LABEL) uses its parent machine's invoker.
    const std::string& machine = record.state_machine_arn;
    std::string name = machine.substr(machine.rfind(':') + 1);
    if (!record.map_run_arn.empty()) name = name.substr(0, name.find('/'));
    opts.invoker = options_.invoker_for(name);
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
    if (dirty_.empty()) first_dirty_ns_ = coarse_steady_ns();
    dirty_.push_back(&t);
  }
  if (c.state.status == ExecutionStatus::Running) {
    t.live = &c.state;
    t.queue = c.queue;
  } else {
    // The engine reports the end and forgets the state next: take it now.
    // A redrive continues a FAILED, TIMED_OUT or ABORTED execution from its
    // final snapshot; nothing ever reads a SUCCEEDED one's, so none is kept
    // (a map run's million children would store 0.8 KB each for nothing).
    t.live = nullptr;
    t.final_state = c.state.status == ExecutionStatus::Succeeded ? std::string() : to_json(c.to_json());
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
  if (buffered_events_ < options_.max_batch_events && coarse_steady_ns() - first_dirty_ns_ < options_.max_batch_delay)
    return;
  // While the batch in flight still commits, the engine runs on and the
  // next batch grows (up to max_batch_growth times the threshold) rather
  // than wait for it: the committer then commits more per transaction.
  if (in_flight_ && !committer_->done() &&
      buffered_events_ < std::max<std::size_t>(options_.max_batch_growth, 1) * options_.max_batch_events)
    return;
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
  // An execution that wrote many events since its last commit likely
  // writes as many by the next: room for twice as many is made at once, so
  // that the text does not grow by doubling, copying itself each time (a
  // long run of Pass states writes megabytes per batch).
  t.events.reserve(2 * tr.encoded_events.text().size(), 2 * tr.encoded_events.size());
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
  drive_map_runs();
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

// ---- Map runs (Distributed Map) ---------------------------------------------

namespace stepwise {
namespace {

// The ItemProcessor (or Iterator) of the Map state named `name`, anywhere in
// the definition (state names are unique across a state machine).
const json::object* find_processor(const json::object& machine, const std::string& name) {
  const json::value* states = machine.if_contains("States");
  if (!states || !states->is_object()) return nullptr;
  for (const auto& [state_name, state] : states->get_object()) {
    if (!state.is_object()) continue;
    const json::object& so = state.get_object();
    const json::value* processor = so.if_contains("ItemProcessor");
    if (!processor) processor = so.if_contains("Iterator");
    if (processor && processor->is_object()) {
      if (state_name == name) return &processor->get_object();
      if (const json::object* inner = find_processor(processor->get_object(), name)) return inner;
    }
    if (const json::value* branches = so.if_contains("Branches"); branches && branches->is_array()) {
      for (const auto& b : branches->get_array()) {
        if (!b.is_object()) continue;
        if (const json::object* inner = find_processor(b.get_object(), name)) return inner;
      }
    }
  }
  return nullptr;
}

// The child's name: a UUID fixed by the map run and the item index, so that
// a restarted driver names (and finds) the same child.
std::string child_name(const std::string& map_run_arn, std::int64_t index) {
  const std::uint64_t seed = fnv1a(map_run_arn) ^ mix64(static_cast<std::uint64_t>(index) + 1);
  std::uint64_t a = mix64(seed), b = mix64(seed + 0x9E3779B97F4A7C15ULL);
  a = (a & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
  b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFFF),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
  return buf;
}

bool over_tolerance(std::int64_t failures, std::int64_t total, const std::optional<double>& pct,
                    const std::optional<std::int64_t>& count) {
  if (!pct && !count) return failures > 0;
  const bool over_count = !count || failures > *count;
  const bool over_pct = !pct || static_cast<double>(failures) * 100.0 > *pct * static_cast<double>(total);
  return over_count && over_pct;
}

// A child's outcome as ResultWriter and WriterConfig show it.
mapio::ChildOutcome child_outcome(const storage::ExecutionRecord& c) {
  mapio::ChildOutcome o;
  o.execution_arn = c.arn;
  o.name = c.name;
  o.state_machine_arn = c.state_machine_arn;
  o.status = std::string(storage::to_string(c.status));
  auto input = parse_json(c.input);
  o.input = input ? std::move(*input) : json::value();
  if (c.status == storage::ExecutionStatus::kSucceeded && c.output) {
    auto v = parse_json(*c.output);
    o.output = v ? std::move(*v) : json::value();
  }
  o.error = c.error;
  o.cause = c.cause;
  o.start_ns = c.start_date;
  o.stop_ns = c.stop_date.value_or(0);
  o.redrive_count = static_cast<int>(c.redrive_count);
  return o;
}

json::value error_output(const storage::ExecutionRecord& r) {
  json::object err;
  err["Error"] = r.error ? json::value(*r.error) : json::value();
  err["Cause"] = r.cause ? json::value(*r.cause) : json::value();
  return err;
}

constexpr int kChildPage = 1000;          // children read per store call
constexpr int kLaunchesPerRound = 1000;   // children created per map run per round
// "If you don't specify MaxConcurrency, Step Functions runs 10,000 parallel
// child workflow executions" (AWS developer guide, Distributed Map).
constexpr std::int64_t kUnsetConcurrency = 10000;

}  // namespace

Result<std::shared_ptr<const states::Definition>> Worker::map_run_definition(const std::string& map_run_arn) {
  if (auto it = map_run_definitions_.find(map_run_arn); it != map_run_definitions_.end()) return it->second;
  auto run = store_->describe_map_run(map_run_arn);
  if (!run.ok()) return Failure{"Stepwise.Store", run.status().to_string(), false};
  auto parsed = states::parse_definition_text(run->definition);
  if (!parsed.definition || !parsed.diagnostics.empty()) {
    return Failure{"Stepwise.InvalidDefinition", "the item processor of map run " + map_run_arn + " is invalid",
                   false};
  }
  map_run_definitions_.emplace(map_run_arn, parsed.definition);
  return std::shared_ptr<const states::Definition>(parsed.definition);
}

void Worker::start_map_run(const TaskRequest& r, TaskCompletion done) {
  // Only registered here (inside the engine's step); the store work happens
  // in the round (drive_map_runs), outside the engine.
  const json::object* p = r.payload.if_object();
  if (!p) {
    done(TaskOutcome::fail("States.Runtime", "malformed map run request"));
    return;
  }
  auto d = std::make_unique<MapDrive>();
  auto text = [&](const char* k) {
    const json::value* v = p->if_contains(k);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  d->arn = text("mapRunArn");
  d->parent_arn = r.execution_id;
  d->state_name = text("stateName");
  // MaxConcurrency and the tolerances go to the map run row, which the
  // driver reads every round (UpdateMapRun changes them there).
  std::int64_t max_concurrency = 0;
  std::optional<double> tolerated_percentage;
  std::optional<std::int64_t> tolerated_count;
  if (const json::value* v = p->if_contains("maxConcurrency"); v && v->is_int64()) max_concurrency = v->get_int64();
  if (const json::value* v = p->if_contains("toleratedFailurePercentage"); v && v->is_number())
    tolerated_percentage = v->to_number<double>();
  if (const json::value* v = p->if_contains("toleratedFailureCount"); v && v->is_number())
    tolerated_count = v->to_number<std::int64_t>();
  const std::string label = text("label");
  if (const json::value* v = p->if_contains("redrive"); v && v->is_int64()) d->redrive = v->get_int64();
  if (const json::value* v = p->if_contains("resultWriter")) d->writer_arguments = *v;
  if (const json::value* v = p->if_contains("items")) {
    d->stream = mapio::item_stream_from_json(*v);
    if (!d->stream) {
      done(TaskOutcome::fail("States.Runtime", "malformed map run request"));
      return;
    }
  }
  if (const json::value* v = p->if_contains("itemSelector")) {
    auto scope = selector_scope_from_json(*v);
    if (!scope) {
      done(TaskOutcome::fail("States.Runtime", "malformed map run request"));
      return;
    }
    d->selector = std::make_shared<const ItemSelectorScope>(std::move(*scope));
  }
  d->done = std::move(done);

  // The map run's identity and definition, from the parent's stored machine.
  auto parent = store_->describe_execution(r.execution_id);
  if (!parent.ok()) return;  // not ours any more: whoever resumes it asks again
  auto version = store_->get_state_machine_version(parent->state_machine_arn, parent->state_machine_version);
  if (!version.ok()) return;
  auto parent_def = parse_json(version->definition);
  const json::object* processor =
      parent_def && parent_def->is_object() ? find_processor(parent_def->get_object(), d->state_name) : nullptr;
  auto parsed = definition(parent->state_machine_arn, parent->state_machine_version);
  if (parsed) {
    d->parent_definition = *parsed;
    for (const auto& machine : d->parent_definition->machines) {
      const states::State* state = machine->find(d->state_name);
      if (state && state->type == states::StateType::Map) d->spec = &state->as<states::MapSpec>();
    }
  }
  if (!processor || !d->spec || (d->stream && !d->spec->item_reader)) {
    d->done(TaskOutcome::fail("States.Runtime", "the Map state '" + d->state_name + "' has no ItemProcessor"));
    return;
  }
  json::object child_def = *processor;
  child_def.erase("ProcessorConfig");
  if (const json::value* ql = parent_def->get_object().if_contains("QueryLanguage");
      ql && !child_def.contains("QueryLanguage"))
    child_def["QueryLanguage"] = *ql;
  const std::string& machine_arn = parent->state_machine_arn;
  const std::string machine_name = machine_arn.substr(machine_arn.rfind(':') + 1);
  d->child_machine_name = machine_name + "/" + label;
  const auto& eo = engine_.options();
  d->child_arn_prefix = "arn:aws:states:" + eo.region + ":" + eo.account + ":execution:" + d->child_machine_name + ":";

  storage::MapRunRecord run;
  run.arn = d->arn;
  run.execution_arn = d->parent_arn;
  run.state_name = d->state_name;
  run.state_machine_arn = machine_arn + "/" + label;
  run.state_machine_version = parent->state_machine_version;
  run.definition = to_json(json::value(std::move(child_def)));
  run.max_concurrency = max_concurrency;
  run.tolerated_failure_percentage = tolerated_percentage;
  run.tolerated_failure_count = tolerated_count;
  run.start_date = eo.clock->now();
  if (const json::value* items = p->if_contains("itemTotal"); items && items->is_number())
    run.item_total = items->to_number<std::int64_t>();
  if (const json::value* total = p->if_contains("total"); total && total->is_number()) {
    run.total = total->to_number<std::int64_t>();
  } else if (const json::value* inputs = p->if_contains("inputs"); inputs && inputs->is_array()) {
    run.total = static_cast<std::int64_t>(inputs->get_array().size());
  }
  auto created = store_->create_map_run(run);
  if (!created.ok()) {
    spdlog::warn("worker: map run {}: {}", d->arn, created.status().to_string());
    return;  // the parent is resumed again later (or by another worker)
  }
  map_drives_[d->arn] = std::move(d);
}

namespace {

// The inputs in the request of the Map frame of `st` that waits for map run `arn`.
const json::array* inputs_in(const ExecutionState& st, const std::string& arn) {
  for (const auto& f : st.frames) {
    if (!f.in_use || f.phase != FramePhase::Task || !f.effective.is_object()) continue;
    const json::object& payload = f.effective.get_object();
    const json::value* a = payload.if_contains("mapRunArn");
    if (!a || !a->is_string() || a->get_string() != arn) continue;
    const json::value* inputs = payload.if_contains("inputs");
    return inputs && inputs->is_array() ? &inputs->get_array() : nullptr;
  }
  return nullptr;
}

}  // namespace

void Worker::drive_map_runs() {
  for (auto it = map_drives_.begin(); it != map_drives_.end();) {
    if (!tracked_.count(it->second->parent_arn) || !drive(*it->second)) {
      it = map_drives_.erase(it);
    } else {
      ++it;
    }
  }
}

void Worker::abort_child(const storage::ExecutionRecord& child) {
  storage::Transition t;
  t.execution_arn = child.arn;
  t.expected_version = child.version;
  storage::EventRecord e;
  e.id = child.last_event_id + 1;
  e.previous_id = child.last_event_id;
  e.timestamp = engine_.options().clock->now();
  e.type = "ExecutionAborted";
  e.details = "{}";
  t.events.push_back(std::move(e));
  storage::ExecutionOutcome o;
  o.status = storage::ExecutionStatus::kAborted;
  o.stop_date = t.events.back().timestamp;
  t.outcome = std::move(o);
  // A Conflict (it moved on, or ended) is looked at again next round.
  (void)store_->commit_transition(t);
}

void Worker::redrive_map_run(MapDrive& d) {
  const Nanos now = engine_.options().clock->now();
  storage::MapRunUpdate u;
  u.status = storage::MapRunStatus::kRunning;
  u.clear_stop_date = true;
  u.redrive_date = now;
  if (!store_->update_map_run(d.arn, u).ok()) return;  // next round
  auto def = map_run_definition(d.arn);
  if (!def) return;
  // The children that did not succeed run again from where each stopped,
  // as RedriveExecution runs them; those never launched start as usual.
  storage::ExecutionFilter filter;
  filter.map_run_arn = d.arn;
  for (auto status : {storage::ExecutionStatus::kFailed, storage::ExecutionStatus::kTimedOut,
                      storage::ExecutionStatus::kAborted}) {
    filter.status = status;
    storage::PageRequest page{storage::kMaxPageSize, ""};
    for (;;) {
      auto listed = store_->list_executions(filter, page);
      if (!listed.ok()) break;
      for (const auto& c : listed->items) {
        auto child = store_->describe_execution(c.arn);
        if (!child.ok()) continue;
        auto stored = parse_json(child->state);
        if (!stored) continue;
        auto snapshot = snapshot_from_json(*stored);
        if (!snapshot) continue;
        auto plan = prepare_redrive(**def, *snapshot, now);
        if (!plan) continue;  // not redrivable: it stays a failure of the map run
        storage::Transition t;
        t.execution_arn = child->arn;
        t.expected_version = child->version;
        t.redrive_date = now;
        t.state = to_json(snapshot_to_json(plan->snapshot));
        for (const auto& e : plan->events) t.events.push_back(to_event_record(e));
        auto committed = store_->commit_transition(t);
        if (!committed.ok()) continue;
        if (store_->acquire_lease(child->arn, options_.owner, now, now + options_.lease_duration).ok()) {
          if (auto again = store_->describe_execution(child->arn); again.ok()) (void)run_claimed(*again, {});
        }
      }
      if (listed->next_token.empty()) break;
      page.next_token = listed->next_token;
    }
  }
}

bool Worker::drive(MapDrive& d) {
  // The children's inputs are in the parent's request, which its frame keeps
  // while it waits (no copy here); a resumed parent that has not reported
  // its state yet: read once from its stored state.
  auto request_inputs = [&]() -> const json::array* {
    auto it = tracked_.find(d.parent_arn);
    if (it == tracked_.end()) return nullptr;
    if (it->second->live) {
      if (const json::array* inputs = inputs_in(*it->second->live, d.arn)) {
        d.stored_inputs.reset();
        return inputs;
      }
    }
    if (d.stored_inputs) return &*d.stored_inputs;
    auto parent = store_->describe_execution(d.parent_arn);
    if (!parent.ok()) return nullptr;
    auto state = parse_json(parent->state);
    if (!state) return nullptr;
    auto snapshot = snapshot_from_json(*state);
    if (!snapshot) return nullptr;
    if (const json::array* inputs = inputs_in(snapshot->state, d.arn)) d.stored_inputs = *inputs;
    return d.stored_inputs ? &*d.stored_inputs : nullptr;
  };
  auto run = store_->describe_map_run(d.arn);
  if (!run.ok()) return true;  // the store is busy: next round
  const Nanos now = engine_.options().clock->now();
  if (d.redrive > 0 && run->redrive_count < d.redrive && run->status != storage::MapRunStatus::kRunning &&
      run->status != storage::MapRunStatus::kSucceeded) {
    redrive_map_run(d);
    return true;
  }
  const std::int64_t failures = run->failed + run->timed_out + run->aborted;
  const std::int64_t ended = run->succeeded + failures;
  auto fail = [&](storage::MapRunStatus status, bool record) {
    // The error: States.ExceedToleratedFailureThreshold when a tolerance was
    // set, else the failed child's own (as an inline Map's iteration).
    TaskOutcome out = TaskOutcome::fail("States.ExceedToleratedFailureThreshold",
                                        "The specified tolerated failure threshold was exceeded");
    if (!run->tolerated_failure_percentage && !run->tolerated_failure_count) {
      storage::ExecutionFilter filter;
      filter.map_run_arn = d.arn;
      for (auto st : {storage::ExecutionStatus::kFailed, storage::ExecutionStatus::kTimedOut,
                      storage::ExecutionStatus::kAborted}) {
        filter.status = st;
        auto listed = store_->list_executions(filter, storage::PageRequest{1000, ""});
        if (!listed.ok() || listed->items.empty()) continue;
        auto child = store_->describe_execution(listed->items.back().arn);
        if (!child.ok()) continue;
        out = TaskOutcome::fail(child->error.value_or(""), child->cause.value_or(""));
        out.failure.has_error = child->error.has_value();
        out.failure.has_cause = child->cause.has_value();
        break;
      }
    }
    if (record) {
      storage::MapRunUpdate u;
      u.status = status;
      u.stop_date = now;
      (void)store_->update_map_run(d.arn, u);
    }
    d.done(std::move(out));
  };
  if (run->status == storage::MapRunStatus::kFailed || run->status == storage::MapRunStatus::kAborted) {
    fail(run->status, false);  // ended before (e.g. by StopExecution, or before a crash)
    return false;
  }
  if (run->status == storage::MapRunStatus::kRunning &&
      over_tolerance(failures, run->total, run->tolerated_failure_percentage, run->tolerated_failure_count)) {
    // Abort the children still running, then fail the Map.
    storage::ExecutionFilter filter;
    filter.map_run_arn = d.arn;
    filter.status = storage::ExecutionStatus::kRunning;
    auto listed = store_->list_executions(filter, storage::PageRequest{kChildPage, ""});
    if (listed.ok()) {
      for (const auto& c : listed->items) {
        if (auto child = store_->describe_execution(c.arn); child.ok()) abort_child(*child);
      }
    }
    fail(storage::MapRunStatus::kFailed, true);
    return false;
  }
  if (run->status == storage::MapRunStatus::kRunning && run->launched < run->total) {
    // Launch children while MaxConcurrency allows.
    std::int64_t running = run->running;
    std::int64_t index = run->launched;
    const std::int64_t limit = run->max_concurrency > 0 ? run->max_concurrency : kUnsetConcurrency;
    if (running >= limit) return true;
    Engine preparer(engine_.options());  // prepare() arms timeouts in its engine: a throwaway one
    auto def = map_run_definition(d.arn);
    if (!def) {
      d.done(TaskOutcome::fail("States.Runtime", def.failure().cause));
      return false;
    }
    const json::array* inputs = d.stream ? nullptr : request_inputs();
    if (!d.stream && !inputs) return true;  // the parent's state is not reported yet: next round
    if (d.stream && (!d.source || d.source_next != index)) {
      // (Re)open the items at the next child's: after a restart, the
      // children already launched are skipped.
      d.source.reset();
      std::function<std::unique_ptr<mapio::ItemSource>(std::unique_ptr<mapio::ItemSource>)> shape;
      if (d.selector) {
        shape = [&d](std::unique_ptr<mapio::ItemSource> items) {
          return selected_items(std::move(items), *d.spec, d.selector);
        };
      }
      auto opened = mapio::open_item_stream(*d.spec->item_reader, *d.stream, engine_.options().data_dir,
                                            engine_.options().payload_limit, shape);
      if (opened) {
        auto skipped = (*opened)->skip(static_cast<std::uint64_t>(index));
        if (!skipped) opened = skipped.failure();
      }
      if (!opened) {
        storage::MapRunUpdate u;
        u.status = storage::MapRunStatus::kFailed;
        u.stop_date = now;
        (void)store_->update_map_run(d.arn, u);
        d.done(TaskOutcome::fail(opened.failure().error, opened.failure().cause));
        return false;
      }
      d.source = std::move(*opened);
      d.source_next = index;
    }
    std::vector<storage::NewExecution> batch;
    std::map<std::string, storage::Transition> endings;  // children that end at once
    while (index < run->total && running < limit && static_cast<int>(batch.size()) < kLaunchesPerRound) {
      const std::string name = child_name(d.arn, index);
      RunOptions ro;
      ro.state_machine_name = d.child_machine_name;
      ro.execution_name = name;
      ro.execution_arn = d.child_arn_prefix + name;
      json::value input;
      std::int64_t item_count = 1;
      if (d.stream) {
        // The file was read whole when the Map started; it changing since
        // fails the map run (States.ItemReaderFailed).
        auto item = d.source->next();
        if (!item || !*item) {
          Failure why = item ? Failure{mapio::kItemReaderFailed,
                                       "the item source ended at item " + std::to_string(index) + " of " +
                                           std::to_string(run->total) + " (changed since the Map started?)",
                                       false}
                             : item.failure();
          storage::MapRunUpdate u;
          u.status = storage::MapRunStatus::kFailed;
          u.stop_date = now;
          (void)store_->update_map_run(d.arn, u);
          d.done(TaskOutcome::fail(why.error, why.cause));
          return false;
        }
        input = std::move(**item);
        ++d.source_next;
      } else if (index < static_cast<std::int64_t>(inputs->size())) {
        input = (*inputs)[index];
      }
      if (d.spec->item_batcher) {  // a batch: {"BatchInput"?, "Items": [...]}
        const json::value* items = input.is_object() ? input.get_object().if_contains("Items") : nullptr;
        item_count = items && items->is_array() ? static_cast<std::int64_t>(items->get_array().size()) : 1;
      }
      std::string input_text = to_json(input);
      PreparedExecution prepared = preparer.prepare(*def, std::move(input), std::move(ro));
      const ExecutionState& st = prepared.snapshot.state;
      storage::NewExecution e;
      e.arn = st.arn;
      e.name = st.name;
      e.state_machine_arn = run->state_machine_arn;
      e.state_machine_version = run->state_machine_version;
      e.input = std::move(input_text);
      e.start_date = st.start_time;
      e.state = to_json(snapshot_to_json(prepared.snapshot));
      for (const auto& ev : prepared.events) e.events.push_back(to_event_record(ev));
      if (st.status != ExecutionStatus::Running) {
        // Its input is over the payload limit: created with ExecutionStarted,
        // then ended FAILED (States.DataLimitExceeded) as StartExecution does.
        storage::Transition end;
        end.execution_arn = e.arn;
        end.expected_version = 1;
        end.lease_owner = options_.owner;
        end.events.assign(e.events.begin() + 1, e.events.end());
        e.events.resize(1);
        storage::ExecutionOutcome o;
        o.status = to_store_status(st.status);
        if (st.has_error) o.error = st.error;
        if (st.has_cause) o.cause = st.cause;
        o.stop_date = end.events.empty() ? st.start_time : end.events.back().timestamp;
        end.outcome = std::move(o);
        endings.emplace(e.arn, std::move(end));
      }
      e.map_run_arn = d.arn;
      e.item_index = index;
      e.item_count = item_count;
      batch.push_back(std::move(e));
      ++index;
      ++running;
    }
    // One transaction for the batch, each child leased to this worker, which
    // runs them (any worker may claim them after a crash).
    const Nanos t = engine_.options().clock->now();
    auto created = store_->create_map_run_children(batch, options_.owner, t + options_.lease_duration);
    if (!created.ok()) {
      spdlog::warn("worker: map run {}: {}", d.arn, created.status().to_string());
      d.source.reset();  // these items are read again next round
      return true;
    }
    for (const auto& rec : *created) {
      if (auto ending = endings.find(rec.arn); ending != endings.end()) {
        (void)store_->commit_transition(ending->second);
      } else {
        (void)run_claimed(rec, {});
      }
    }
    return true;
  }
  if (ended < run->total) return true;  // children still running
  // Every child has ended within the tolerance: the Map's result, by item,
  // as the Map's ResultWriter wants it: the outputs; shaped by WriterConfig;
  // or written to files, a page of children at a time.
  auto result = map_run_result(d);
  if (result && !*result) return true;  // the store is busy: next round
  if (run->status == storage::MapRunStatus::kRunning) {
    storage::MapRunUpdate u;
    u.status = result ? storage::MapRunStatus::kSucceeded : storage::MapRunStatus::kFailed;
    u.stop_date = now;
    (void)store_->update_map_run(d.arn, u);
  }
  d.done(result ? TaskOutcome::success(std::move(**result))
                : TaskOutcome::fail(result.failure().error, result.failure().cause));
  return false;
}

Result<std::optional<json::value>> Worker::map_run_result(MapDrive& d) {
  const states::ResultWriterSpec* writer = d.spec->result_writer ? &*d.spec->result_writer : nullptr;
  std::unique_ptr<mapio::ResultWriterSink> sink;
  if (writer && writer->writes_files()) {
    auto target = mapio::result_writer_target(*writer, d.writer_arguments.value_or(json::value()));
    if (!target) return target.failure();
    auto opened = mapio::ResultWriterSink::open(engine_.options().data_dir, std::move(*target), d.arn);
    if (!opened) return opened.failure();
    sink = std::move(*opened);
  }
  json::array results;
  for (std::int64_t from = 0;;) {
    auto page = store_->list_map_run_children(d.arn, from, kChildPage);
    if (!page.ok()) return std::optional<json::value>();  // next round
    if (page->empty()) break;
    for (const auto& c : *page) {
      if (sink) {
        if (auto failed = sink->add(child_outcome(c))) return *failed;
      } else if (writer) {
        mapio::append_result(results, child_outcome(c), writer->effective_transformation());
      } else if (c.status == storage::ExecutionStatus::kSucceeded && c.output) {
        auto v = parse_json(*c.output);
        results.push_back(v ? std::move(*v) : json::value());
      } else {
        results.push_back(error_output(c));
      }
      from = c.item_index + 1;
    }
  }
  if (sink) {
    auto written = sink->finish();
    if (!written) return written.failure();
    return std::optional<json::value>(std::move(*written));
  }
  return std::optional<json::value>(json::value(std::move(results)));
}

}  // namespace stepwise
