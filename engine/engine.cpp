// The execution loop: one thread drives every execution. Work arrives as
// ready frames, task completions (posted through Boost.Asio from any thread)
// and timers; the loop sleeps only when none of them is due.
#include <algorithm>
#include <boost/asio/post.hpp>
#include <stdexcept>

#include "engine/engine_impl.h"

namespace stepwise {
namespace {

// How long poll() keeps running ready work before it returns to its caller.
constexpr std::chrono::milliseconds kPollWorkSlice{100};

// "$$" (JSONPath), or a JSONata $states that may read $states.context.
bool text_reads_context(std::string_view s) {
  if (s.find("$$") != std::string_view::npos) return true;
  for (auto at = s.find("$states"); at != std::string_view::npos; at = s.find("$states", at + 1)) {
    std::string_view rest = s.substr(at + 7);
    if (!(rest.starts_with(".input") || rest.starts_with(".result") || rest.starts_with(".errorOutput")))
      return true;
  }
  return false;
}

bool contains_context_ref(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string: return text_reads_context(v.get_string());
    case json::kind::array:
      for (const auto& e : v.get_array())
        if (contains_context_ref(e)) return true;
      return false;
    case json::kind::object:
      for (const auto& kv : v.get_object()) {
        // Nested machines have their own plan entries.
        if (kv.key() == "Branches" || kv.key() == "ItemProcessor" || kv.key() == "Iterator") continue;
        if (contains_context_ref(kv.value())) return true;
      }
      return false;
    default: return false;
  }
}

const json::value* at_pointer(const json::value& root, const std::string& ptr) {
  if (ptr.empty()) return &root;
  boost::system::error_code ec;
  const json::value* v = root.find_pointer(ptr, ec);
  return ec ? nullptr : v;
}

}  // namespace

const char* status_name(ExecutionStatus s) {
  switch (s) {
    case ExecutionStatus::Running: return "RUNNING";
    case ExecutionStatus::Succeeded: return "SUCCEEDED";
    case ExecutionStatus::Failed: return "FAILED";
    case ExecutionStatus::TimedOut: return "TIMED_OUT";
    case ExecutionStatus::Aborted: return "ABORTED";
  }
  return "UNKNOWN";
}

Engine::Impl::Impl(EngineOptions o) : opts(std::move(o)), guard(io.get_executor()) {
  if (!opts.clock) opts.clock = std::make_shared<SystemClock>();
  clock = opts.clock.get();
  manual_clock = dynamic_cast<ManualClock*>(clock);
  if (opts.virtual_time && !manual_clock)
    throw std::invalid_argument("EngineOptions::virtual_time requires a ManualClock");
  random = opts.random ? opts.random : std::make_shared<DefaultRandom>();
  invoker = functions;
}

std::shared_ptr<const DefinitionPlan> Engine::Impl::plan_for(
    const std::shared_ptr<const states::Definition>& def) {
  auto& slot = plans[def.get()];
  if (auto p = slot.lock()) return p;
  auto plan = std::make_shared<DefinitionPlan>();
  for (const auto& m : def->machines) {
    std::vector<bool> flags(m->states.size(), true);
    const json::value* mv = at_pointer(def->source, m->pointer);
    const json::object* states_obj = nullptr;
    if (mv && mv->is_object()) {
      if (const auto* s = mv->get_object().if_contains("States")) states_obj = s->if_object();
    }
    if (states_obj) {
      for (const auto& st : m->states) {
        const json::value* sv = states_obj->if_contains(st.name);
        flags[st.index] = !sv || contains_context_ref(*sv);
      }
    }
    plan->uses_context.push_back(std::move(flags));
  }
  slot = plan;
  return plan;
}

Execution& Engine::Impl::add_execution(std::shared_ptr<const states::Definition> def, RunOptions options,
                                       std::function<void(ExecutionResult)> on_done) {
  auto ex = std::make_unique<Execution>();
  ex->key = next_key++;
  ex->plan = plan_for(def);
  ex->def = std::move(def);
  ex->invoker = options.invoker ? options.invoker : invoker;
  ex->hooked = static_cast<bool>(options.on_transition);
  ex->options = std::move(options);
  ex->on_done = std::move(on_done);
  Execution& ref = *ex;
  executions.emplace(ref.key, std::move(ex));
  return ref;
}

std::uint64_t Engine::Impl::start(std::shared_ptr<const states::Definition> def, json::value input,
                                  RunOptions options, std::function<void(ExecutionResult)> on_done) {
  Execution& ref = add_execution(std::move(def), std::move(options), std::move(on_done));
  ref.st.input = std::move(input);
  begin(ref);
  if (ref.hooked) checkpoint(ref);
  return ref.key;
}

Result<std::uint64_t> Engine::Impl::resume(std::shared_ptr<const states::Definition> def,
                                           ExecutionSnapshot snapshot, RunOptions options,
                                           std::function<void(ExecutionResult)> on_done) {
  if (!def) return Failure{"Stepwise.SnapshotMismatch", "No definition to resume the snapshot against", false};
  if (auto bad = check_snapshot(*def, snapshot)) return std::move(*bad);
  Execution& ref = add_execution(std::move(def), std::move(options), std::move(on_done));
  ref.st = std::move(snapshot.state);
  // An execution that had already ended is reported by the loop's first reap.
  if (ref.st.status != ExecutionStatus::Running) {
    ref.finished = true;
    return ref.key;
  }
  if (ref.st.deadline)
    arm(ref.st.deadline, Wakeup{ref.key, UINT32_MAX, 0, Wakeup::Kind::ExecutionTimeout, {}});
  // The frames that ran before the pending deliveries run first; the loop
  // calls finish_restore once they have (at its first visit if there are none).
  RunQueue& q = snapshot.queue;
  for (std::uint32_t i = 0; i < q.ready_first; ++i) {
    const Frame& f = ref.st.frames[q.ready[i]];
    if (f.in_use && f.phase == FramePhase::Ready) schedule(ref, q.ready[i]);
  }
  if (ref.ready.empty()) runnable.push_back(ref.key);
  q.ready.erase(q.ready.begin(), q.ready.begin() + q.ready_first);
  q.ready_first = 0;
  auto rest = std::make_unique<ResumeRest>();
  rest->queue = std::move(q);
  for (const auto& f : ref.st.frames) {
    if (f.in_use && (f.phase == FramePhase::Timer || f.phase == FramePhase::Task))
      rest->waiting.emplace_back(f.id, f.token);
  }
  std::sort(rest->waiting.begin(), rest->waiting.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  rest->token_of.assign(ref.st.frames.size(), 0);
  for (const auto& [id, token] : rest->waiting) rest->token_of[id] = token;
  rest->handled.assign(ref.st.frames.size(), false);
  ref.resume_rest = std::move(rest);
  return ref.key;
}

void Engine::Impl::checkpoint(Execution& ex, std::uint32_t current) {
  if (!ex.hooked) return;
  ++ex.checkpoints;
  const auto& frames = ex.st.frames;
  // The memory of the previous checkpoint, taken out (a hook that runs the
  // engine again gets its own) and given back at the end.
  RunQueue q = std::move(checkpoint_queue);
  q.ready.clear();
  q.ready_first = 0;
  q.pending.clear();
  // Ready frames in the order the loop advances them: the frame being
  // advanced (it continues at once), then the queue. A frame may be queued
  // twice; a queued frame may have stopped being ready since.
  std::vector<bool> seen = std::move(checkpoint_seen);
  seen.assign(frames.size(), false);
  auto add = [&](std::uint32_t id) {
    if (id >= frames.size() || seen[id] || !frames[id].in_use || frames[id].phase != FramePhase::Ready) return;
    seen[id] = true;
    q.ready.push_back(id);
  };
  if (current != kNoFrame) add(current);
  // Inside a delivery the loop finishes the inbox before the queue; inside a
  // batch of ready frames it finishes the batch first.
  if (in_wakeup) q.ready_first = static_cast<std::uint32_t>(q.ready.size());
  for (auto id : ex.ready) add(id);
  if (!in_wakeup) q.ready_first = static_cast<std::uint32_t>(q.ready.size());
  for (const auto& w : local_inbox) {
    if (w.exec != ex.key) continue;
    using K = PendingWakeup::Kind;
    if (w.kind == Wakeup::Kind::ExecutionTimeout) {
      q.pending.push_back(PendingWakeup{0, K::ExecutionTimeout});
      continue;
    }
    if (w.frame >= frames.size() || w.token == 0 || frames[w.frame].token != w.token) continue;  // stale
    const FramePhase phase = frames[w.frame].phase;
    switch (w.kind) {
      case Wakeup::Kind::TaskDone:
        if (phase == FramePhase::Task) q.pending.push_back(PendingWakeup{w.frame, K::TaskDone});
        break;
      case Wakeup::Kind::Timer:
        if (phase == FramePhase::Timer) q.pending.push_back(PendingWakeup{w.frame, K::Timer});
        break;
      case Wakeup::Kind::TaskTimeout:
        if (phase == FramePhase::Task) q.pending.push_back(PendingWakeup{w.frame, K::TaskTimeout});
        break;
      case Wakeup::Kind::HeartbeatTimeout:
        if (phase == FramePhase::Task) q.pending.push_back(PendingWakeup{w.frame, K::HeartbeatTimeout});
        break;
      default: break;  // a heartbeat only moves a deadline the frame already records
    }
  }
  ex.options.on_transition(Checkpoint{ex.st, q});
  checkpoint_queue = std::move(q);
  checkpoint_seen = std::move(seen);
}

void Engine::Impl::schedule(Execution& ex, std::uint32_t fid) {
  ex.ready.push_back(fid);
  if (ex.ready.size() == 1) runnable.push_back(ex.key);
}

void Engine::Impl::arm(Nanos due, Wakeup w) { timers.push(TimerEntry{due, timer_seq++, std::move(w)}); }

void Engine::Impl::deliver(Wakeup w) {
  if (std::this_thread::get_id() == loop_thread) {
    local_inbox.push_back(std::move(w));
    return;
  }
  boost::asio::post(io, [this, w = std::move(w)]() mutable { local_inbox.push_back(std::move(w)); });
}

void Mailbox::deliver(Wakeup w) {
  std::lock_guard lock(mu_);  // the engine is not destroyed while this is held
  if (impl_) impl_->deliver(std::move(w));
}

void Engine::Impl::complete(Execution& ex) {
  ex.finished = true;
  ex.ready.clear();
}

Execution* Engine::Impl::find(const std::string& arn) {
  for (auto& [key, ex] : executions) {
    if (ex->st.arn == arn) return ex.get();
  }
  return nullptr;
}

void Engine::Impl::run_until(const std::function<bool()>& done, std::optional<Steady::time_point> until) {
  loop_thread = std::this_thread::get_id();
  struct InLoop {
    bool& flag;
    bool was;
    explicit InLoop(bool& f) : flag(f), was(f) { flag = true; }
    ~InLoop() { flag = was; }
  } in_loop_guard(in_loop);
  const Steady::time_point started = until ? Steady::now() : Steady::time_point{};
  auto reap = [&](Execution& ex) {
    if (!ex.finished) return;
    if (ex.abandoned) {
      executions.erase(ex.key);
      return;
    }
    ExecutionResult r;
    r.status = ex.st.status;
    r.output = std::move(ex.st.output);
    r.error = std::move(ex.st.error);
    r.cause = std::move(ex.st.cause);
    r.has_error = ex.st.has_error;
    r.has_cause = ex.st.has_cause;
    r.execution_arn = ex.st.arn;
    r.events = ex.st.next_event_id - 1;
    r.states_entered = ex.st.states_entered;
    r.history = std::move(ex.history);
    auto cb = std::move(ex.on_done);
    executions.erase(ex.key);
    if (cb) cb(std::move(r));
  };
  // Executions that ended while being started.
  for (auto it = executions.begin(); it != executions.end();) {
    auto next = std::next(it);
    reap(*it->second);
    it = next;
  }
  bool did_work = false;
  while (!done()) {
    if (!local_inbox.empty()) {
      Wakeup w = std::move(local_inbox.front());
      local_inbox.pop_front();
      if (w.kind == Wakeup::Kind::TaskDone && in_flight > 0) --in_flight;
      did_work = true;
      auto it = executions.find(w.exec);
      if (it == executions.end() || it->second->finished) continue;
      in_wakeup = true;
      on_wakeup(*it->second, w);
      in_wakeup = false;
      reap(*it->second);
      continue;
    }
    if (!runnable.empty()) {
      std::uint64_t key = runnable.front();
      runnable.pop_front();
      did_work = true;
      auto it = executions.find(key);
      if (it == executions.end()) continue;
      Execution& ex = *it->second;
      if (ex.finished) {  // abandoned or stopped between rounds
        reap(ex);
        continue;
      }
      if (ex.resume_rest && !ex.resume_rest->pending_restored) restore_pending(ex);
      // Advance a bounded number of frames, then give other executions a turn.
      for (int i = 0; i < 64 && !ex.ready.empty() && !ex.finished; ++i) {
        std::uint32_t fid = ex.ready.front();
        ex.ready.pop_front();
        advance(ex, fid);
      }
      if (ex.resume_rest && !ex.finished && ex.ready.empty()) finish_restore(ex);
      if (!ex.finished && !ex.ready.empty()) runnable.push_back(key);
      reap(ex);
      // Continuous work also yields now and then (a long Pass chain), so a
      // polling caller can commit and renew its leases.
      if (until && Steady::now() >= std::max(*until, started + kPollWorkSlice)) break;
      continue;
    }
    io.poll();
    if (!local_inbox.empty()) continue;
    if (done() || (timers.empty() && in_flight == 0)) break;
    Nanos now = clock->now();
    if (!timers.empty() && timers.top().due <= now) {
      while (!timers.empty() && timers.top().due <= now) {
        local_inbox.push_back(timers.top().w);
        timers.pop();
      }
      continue;
    }
    // A bounded run (poll) returns once the work it found is done, so its
    // caller can act on it before anything more arrives.
    if (until && did_work) break;
    if (opts.virtual_time) {
      // Nothing to do but wait: jump to the next timer. With tasks in flight,
      // first give them a real moment to answer (a hung task still times out).
      if (in_flight == 0 || (io.run_one_for(std::chrono::milliseconds(100)) == 0 && local_inbox.empty())) {
        if (!timers.empty()) {
          manual_clock->set(timers.top().due);
        } else if (until && Steady::now() >= *until) {
          break;  // only the caller can bring the answer (e.g. a worker's map run): let it
        }
      }
      continue;
    }
    if (until && Steady::now() >= *until) break;
    Nanos wait = timers.empty() ? kNanosPerSecond : std::min<Nanos>(timers.top().due - now, kNanosPerSecond);
    if (until) {
      wait = std::min<Nanos>(
          wait, std::chrono::duration_cast<std::chrono::nanoseconds>(*until - Steady::now()).count());
      wait = std::max<Nanos>(wait, 0);
    }
    io.run_one_for(std::chrono::nanoseconds(wait));
  }
}

Engine::Engine(EngineOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Engine::~Engine() = default;

FunctionRegistry& Engine::functions() { return *impl_->functions; }
void Engine::set_invoker(std::shared_ptr<Invoker> invoker) { impl_->invoker = std::move(invoker); }
std::shared_ptr<Invoker> Engine::invoker() const { return impl_->invoker; }
const EngineOptions& Engine::options() const { return impl_->opts; }

ExecutionResult Engine::run(std::shared_ptr<const states::Definition> definition, json::value input,
                            RunOptions options) {
  ExecutionResult result;
  bool got = false;
  impl_->start(std::move(definition), std::move(input), std::move(options), [&](ExecutionResult r) {
    result = std::move(r);
    got = true;
  });
  impl_->run_until([&] { return got; });
  if (!got) {
    result.status = ExecutionStatus::Failed;
    result.error = "States.Runtime";
    result.cause = "The execution can make no further progress (no task in flight and no timer armed)";
    result.has_error = result.has_cause = true;
  }
  return result;
}

std::string Engine::start(std::shared_ptr<const states::Definition> definition, json::value input,
                          RunOptions options, std::function<void(ExecutionResult)> on_done) {
  auto key = impl_->start(std::move(definition), std::move(input), std::move(options), std::move(on_done));
  auto it = impl_->executions.find(key);
  return it == impl_->executions.end() ? std::string() : it->second->st.arn;
}

Result<std::string> Engine::resume(std::shared_ptr<const states::Definition> definition, ExecutionSnapshot snapshot,
                                   RunOptions options, std::function<void(ExecutionResult)> on_done) {
  auto key = impl_->resume(std::move(definition), std::move(snapshot), std::move(options), std::move(on_done));
  if (!key) return key.failure();
  auto it = impl_->executions.find(*key);
  return it == impl_->executions.end() ? std::string() : it->second->st.arn;
}

Result<std::string> Engine::resume(std::shared_ptr<const states::Definition> definition, const json::value& snapshot,
                                   RunOptions options, std::function<void(ExecutionResult)> on_done) {
  auto parsed = snapshot_from_json(snapshot);
  if (!parsed) return parsed.failure();
  return resume(std::move(definition), std::move(*parsed), std::move(options), std::move(on_done));
}

void Engine::run_pending() {
  impl_->run_until([this] { return impl_->executions.empty(); });
}

void Engine::poll(Nanos max_wait) {
  impl_->run_until([] { return false; }, Impl::Steady::now() + std::chrono::nanoseconds(std::max<Nanos>(max_wait, 0)));
}

std::size_t Engine::active() const { return impl_->executions.size(); }

bool Engine::busy() const { return !impl_->runnable.empty() || !impl_->local_inbox.empty(); }

PreparedExecution Engine::prepare(std::shared_ptr<const states::Definition> definition, json::value input,
                                  RunOptions options) {
  PreparedExecution out;
  options.record_history = true;
  options.on_transition = nullptr;
  Execution& ex = impl_->add_execution(std::move(definition), std::move(options), nullptr);
  ex.st.input = std::move(input);
  impl_->begin(ex);
  // The loop would advance the top frame first.
  for (auto id : ex.ready) out.snapshot.queue.ready.push_back(id);
  out.snapshot.queue.ready_first = static_cast<std::uint32_t>(out.snapshot.queue.ready.size());
  out.snapshot.state = std::move(ex.st);
  out.events = std::move(ex.history);
  // begin() may have queued the execution and armed its timeout; both are
  // ignored once it is gone.
  impl_->executions.erase(ex.key);
  return out;
}

bool Engine::stop(const std::string& execution_arn, std::optional<std::string> error,
                  std::optional<std::string> cause) {
  Execution* ex = impl_->find(execution_arn);
  if (!ex || ex->finished) return false;
  impl_->stop(*ex, std::move(error), std::move(cause));
  impl_->runnable.push_back(ex->key);  // the loop reports it
  return true;
}

bool Engine::task_started(const std::string& execution_arn, const std::string& task_token,
                          const std::string& worker_name) {
  Execution* ex = impl_->find(execution_arn);
  return ex && !ex->finished && impl_->task_started(*ex, task_token, worker_name);
}

bool Engine::task_heartbeat(const std::string& execution_arn, const std::string& task_token, Nanos at) {
  Execution* ex = impl_->find(execution_arn);
  return ex && !ex->finished && impl_->task_heartbeat(*ex, task_token, at);
}

bool Engine::abandon(const std::string& execution_arn) {
  Execution* ex = impl_->find(execution_arn);
  if (!ex) return false;
  ex->abandoned = true;
  ex->hooked = false;
  ex->on_done = nullptr;
  for (auto& f : ex->st.frames) f.token = 0;  // stale every pending answer and timer
  if (!impl_->in_loop) {
    impl_->executions.erase(ex->key);  // nothing uses it now
    return true;
  }
  if (!ex->finished) {
    impl_->complete(*ex);
    impl_->runnable.push_back(ex->key);
  }
  return true;
}

}  // namespace stepwise
