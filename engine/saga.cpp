// Sagas (docs/sagas.md): the record of completed compensable steps and the
// roll-back that runs their compensations, newest first, one at a time.
//
// Everything lives in ExecutionState::saga, so a snapshot taken in the middle
// of a roll-back resumes it: the compensation in flight is invoked again with
// the same idempotency key (at-least-once), one that had succeeded or failed
// is never run again. A roll-back's call is not a frame: its deliveries carry
// Wakeup::frame kSagaFrame and its own token.
#include <algorithm>
#include <cmath>

#include "engine/engine_impl.h"

namespace stepwise {
namespace {

using Status = CompensationRecord::Status;

// ASL's error names: States.ALL matches every error but States.Runtime,
// States.TaskFailed every error but States.Timeout.
bool error_matches(const std::vector<std::string>& names, const std::string& error) {
  for (const auto& n : names) {
    if (n == error) return true;
    if (error == "States.Runtime") continue;
    if (n == "States.ALL") return true;
    if (n == "States.TaskFailed" && error != "States.Timeout") return true;
  }
  return false;
}

}  // namespace

// One call into the roll-back. Short-lived: built per call.
struct Saga {
  Engine::Impl& E;
  Execution& ex;

  SagaState& sg() { return ex.st.saga; }
  RollBack& rb() { return *ex.st.saga.active; }
  const states::State& step_of(const CompensationRecord& r) const { return ex.def->machine(r.machine).states[r.state]; }
  CompensationRecord& current() { return sg().records[rb().order[rb().next]]; }

  // Appends an event that belongs to no state (previousEventId: the last event).
  void emit(const char* type, const char* member, json::object details) {
    const std::int64_t id = ex.st.next_event_id++;
    if (!ex.options.record_history && !ex.options.on_event && ex.options.event_writer == nullptr) return;
    HistoryEvent e;
    e.id = id;
    e.previous_event_id = id - 1;
    e.timestamp = E.clock->now();
    e.type = type;
    json::object d;
    d[member] = std::move(details);
    e.details = to_json(d);
    if (ex.options.event_writer != nullptr) {
      ex.options.event_writer->begin_event(e.id, e.previous_event_id, e.timestamp, e.type) += e.details;
      ex.options.event_writer->end_event();
    }
    if (!ex.options.record_history && !ex.options.on_event) return;
    if (ex.options.record_history) {
      if (ex.options.on_event) ex.options.on_event(HistoryEvent(e));
      ex.history.push_back(std::move(e));
    } else {
      ex.options.on_event(std::move(e));
    }
  }

  // Whether frame serial `serial` encloses the step (0: the whole execution).
  static bool in_scope(const CompensationRecord& r, std::uint64_t serial) {
    return serial == 0 || std::find(r.scope.begin(), r.scope.end(), serial) != r.scope.end();
  }

  bool any_pending(std::uint64_t serial) const {
    for (const auto& r : ex.st.saga.records)
      if (r.status == Status::Pending && in_scope(r, serial)) return true;
    return false;
  }

  // Starts the roll-back asked for by `frame` (kRollBackExecution: the
  // execution failed): claims the pending steps of its scope, newest first.
  void start(std::uint32_t frame) {
    RollBack next;
    next.frame = frame;
    const std::uint64_t serial = frame == kRollBackExecution ? 0 : ex.st.frames[frame].serial;
    auto& records = sg().records;
    for (std::size_t i = records.size(); i-- > 0;) {
      if (records[i].status != Status::Pending || !in_scope(records[i], serial)) continue;
      records[i].status = Status::Running;
      next.order.push_back(static_cast<std::uint32_t>(i));
    }
    json::object det;
    if (frame == kRollBackExecution) {
      det["trigger"] = "EXECUTION_FAILED";
      if (sg().has_error) det["error"] = sg().error;
      if (sg().has_cause) det["cause"] = sg().cause;
    } else {
      const Frame& f = ex.st.frames[frame];
      det["trigger"] = "COMPENSATE_STATE";
      det["name"] = ex.def->machine(f.machine).states[f.state].name;
    }
    det["steps"] = next.order.size();
    sg().active = std::move(next);
    if (!rb().order.empty()) emit("CompensationStarted", "compensationStartedEventDetails", std::move(det));
    run_current();
  }

  // The compensation's input: {"Input": ..., "Result": ...}, and a context
  // object naming the execution and the step.
  void run_current() {
    if (rb().next >= rb().order.size()) return finish();
    CompensationRecord& r = current();
    const states::State& step = step_of(r);
    const states::CompensationSpec& spec = *step.compensate;
    json::value payload = json::object{{"Input", r.input}, {"Result", r.result}};
    if (spec.parameters) {
      json::object exo{{"Id", ex.st.arn},
                       {"Name", ex.st.name},
                       {"Input", ex.st.input},
                       {"StartTime", ex.st.start_time_text},
                       {"RoleArn", ex.st.role_arn}};
      json::value ctx = json::object{
          {"Execution", std::move(exo)},
          {"StateMachine", json::object{{"Id", ex.st.state_machine_arn}, {"Name", ex.st.state_machine_name}}},
          {"State", json::object{{"Name", step.name}, {"RetryCount", rb().retry_count}}}};
      auto v = spec.parameters->evaluate(states::Scope{payload, ctx, E.random.get()});
      if (!v) return step_failed(v.failure());  // Parameters that cannot apply: no attempt is made
      payload = std::move(*v);
    }
    json::object det{{"name", step.name},
                     {"resource", spec.resource},
                     {"input", to_json(payload)},
                     {"inputDetails", json::object{{"truncated", false}}},
                     {"retryCount", rb().retry_count}};
    if (spec.timeout_seconds) det["timeoutInSeconds"] = static_cast<std::int64_t>(*spec.timeout_seconds);
    emit("CompensationStepStarted", "compensationStepStartedEventDetails", std::move(det));
    RollBack& b = rb();
    b.phase = RollBack::Phase::Task;
    b.token = ex.st.next_token++;
    b.timeout_seconds = spec.timeout_seconds.value_or(0);
    b.task_deadline = b.timeout_seconds > 0 ? E.clock->now() + seconds_to_nanos(b.timeout_seconds) : 0;
    b.payload = std::move(payload);
    invoke();
  }

  // Hands the current call (payload in rb().payload) to the invoker; also how
  // a resumed roll-back invokes it again.
  void invoke() {
    RollBack& b = rb();
    const std::uint32_t index = b.order[b.next];
    const states::State& step = step_of(sg().records[index]);
    if (b.task_deadline) E.arm(b.task_deadline, Wakeup{ex.key, kSagaFrame, b.token, Wakeup::Kind::TaskTimeout, {}});
    TaskRequest req;
    req.execution_id = ex.st.arn;
    req.state_name = step.name;
    req.resource = step.compensate->resource;
    req.payload = std::move(b.payload);
    req.attempt = static_cast<int>(b.retry_count);
    req.idempotency_key =
        ex.st.arn + "/" + step.name + "/compensate/" + std::to_string(index) + "/" + std::to_string(b.retry_count);
    req.timeout_seconds = b.timeout_seconds;
    ++E.in_flight;
    std::shared_ptr<Mailbox> mailbox = E.mailbox;
    const std::uint64_t key = ex.key;
    const std::uint64_t token = b.token;
    ex.invoker->invoke(
        req,
        [mailbox, key, token](TaskOutcome o) {
          mailbox->deliver(Wakeup{key, kSagaFrame, token, Wakeup::Kind::TaskDone, std::move(o)});
        },
        [] {});
    rb().payload = std::move(req.payload);
  }

  bool wakeup(Wakeup& w) {
    if (!sg().active || w.token == 0 || w.token != rb().token) return false;  // stale
    RollBack& b = rb();
    switch (w.kind) {
      case Wakeup::Kind::TaskDone:
      case Wakeup::Kind::TaskTimeout: {
        if (b.phase != RollBack::Phase::Task) return false;
        b.phase = RollBack::Phase::Ready;
        b.token = 0;
        b.payload = nullptr;
        b.task_deadline = 0;
        if (w.kind == Wakeup::Kind::TaskDone && w.outcome.ok) {
          step_succeeded(std::move(w.outcome.output));
        } else {
          Failure f =
              w.kind == Wakeup::Kind::TaskTimeout ? Failure{"States.Timeout", "", false} : std::move(w.outcome.failure);
          attempt_failed(std::move(f));
        }
        return true;
      }
      case Wakeup::Kind::Timer:
        if (b.phase != RollBack::Phase::Timer) return false;
        b.phase = RollBack::Phase::Ready;
        b.token = 0;
        run_current();
        return true;
      default:
        return false;
    }
  }

  // The compensation's Retry, as a Task's (ASL "Retrying after error").
  void attempt_failed(Failure failure) {
    RollBack& b = rb();
    const auto& retry = step_of(current()).compensate->retry;
    for (std::size_t i = 0; i < retry.size(); ++i) {
      const auto& r = retry[i];
      if (!error_matches(r.errors, failure.error)) continue;
      if (b.attempts.size() < retry.size()) b.attempts.resize(retry.size(), 0);
      if (b.attempts[i] >= static_cast<std::uint32_t>(r.max_attempts)) break;
      double delay = r.interval_seconds * std::pow(r.backoff_rate, static_cast<double>(b.attempts[i]));
      if (r.max_delay_seconds) delay = std::min(delay, *r.max_delay_seconds);
      if (r.jitter == states::Jitter::Full) {
        delay *= static_cast<double>(E.random->next_u64() >> 11) * (1.0 / 9007199254740992.0);
      }
      ++b.attempts[i];
      ++b.retry_count;
      json::object det{{"name", step_of(current()).name}, {"retryCount", b.retry_count}};
      if (failure.has_error) det["error"] = failure.error;
      if (failure.has_cause) det["cause"] = failure.cause;
      emit("CompensationStepRetrying", "compensationStepRetryingEventDetails", std::move(det));
      b.phase = RollBack::Phase::Timer;
      b.token = ex.st.next_token++;
      b.due = E.clock->now() + seconds_to_nanos(delay);
      E.arm(b.due, Wakeup{ex.key, kSagaFrame, b.token, Wakeup::Kind::Timer, {}});
      return;
    }
    step_failed(std::move(failure));
  }

  void step_succeeded(json::value output) {
    CompensationRecord& r = current();
    r.status = Status::Succeeded;
    emit("CompensationStepSucceeded", "compensationStepSucceededEventDetails",
         json::object{{"name", step_of(r).name},
                      {"output", to_json(output)},
                      {"outputDetails", json::object{{"truncated", false}}}});
    next_step();
  }

  void step_failed(Failure failure) {
    CompensationRecord& r = current();
    r.status = Status::Failed;
    r.error = failure.has_error ? failure.error : "";
    r.cause = failure.has_cause ? failure.cause : "";
    ++rb().failed;
    json::object det{{"name", step_of(r).name}};
    if (failure.has_error) det["error"] = failure.error;
    if (failure.has_cause) det["cause"] = failure.cause;
    emit("CompensationStepFailed", "compensationStepFailedEventDetails", std::move(det));
    next_step();
  }

  void next_step() {
    RollBack& b = rb();
    ++b.next;
    b.retry_count = 0;
    b.attempts.clear();
    b.phase = RollBack::Phase::Ready;
    run_current();
  }

  // {"Compensated":[state names, in the order run],
  //  "Failed":[{"State","Error","Cause"}, ...]}
  json::value report(const RollBack& done) const {
    json::array compensated, failed;
    for (auto i : done.order) {
      const CompensationRecord& r = ex.st.saga.records[i];
      if (r.status == Status::Succeeded) {
        compensated.emplace_back(step_of(r).name);
      } else if (r.status == Status::Failed) {
        failed.emplace_back(json::object{{"State", step_of(r).name}, {"Error", r.error}, {"Cause", r.cause}});
      }
    }
    return json::object{{"Compensated", std::move(compensated)}, {"Failed", std::move(failed)}};
  }

  void finish() {
    RollBack done = std::move(*sg().active);
    sg().active.reset();
    json::value rep = report(done);
    if (!done.order.empty()) {
      const std::size_t ok = done.order.size() - done.failed;
      if (done.failed == 0) {
        emit("CompensationSucceeded", "compensationSucceededEventDetails", json::object{{"compensated", ok}});
      } else {
        std::string names;
        for (const auto& f : rep.get_object().at("Failed").get_array()) {
          if (!names.empty()) names += ", ";
          names += std::string(f.at("State").get_string());
        }
        emit("CompensationFailed", "compensationFailedEventDetails",
             json::object{{"error", "Stepwise.CompensationFailed"},
                          {"cause", std::to_string(done.failed) + " of " + std::to_string(done.order.size()) +
                                        " compensations failed: " + names},
                          {"compensated", ok},
                          {"failed", done.failed}});
      }
    }
    if (sg().failing) {
      // A Compensate state's roll-back was running when the execution failed:
      // the rest of the execution's steps are rolled back next.
      if (done.frame != kRollBackExecution && any_pending(0)) return start(kRollBackExecution);
      E.end_rolled_back(ex);
      return;
    }
    E.compensate_state_done(ex, done.frame, std::move(rep));
    // The next Compensate state in line.
    while (!sg().active && !sg().failing && !sg().waiting.empty()) {
      const std::uint32_t fid = sg().waiting.front();
      sg().waiting.erase(sg().waiting.begin());
      if (any_pending(ex.st.frames[fid].serial)) {
        start(fid);
      } else {
        E.compensate_state_done(ex, fid, report(RollBack{}));
      }
    }
  }
};

void Engine::Impl::saga_record(Execution& ex, std::uint32_t fid, json::value input, json::value result) {
  const Frame& f = ex.st.frames[fid];
  CompensationRecord r;
  r.machine = f.machine;
  r.state = f.state;
  r.input = std::move(input);
  r.result = std::move(result);
  for (std::int32_t id = static_cast<std::int32_t>(fid); id >= 0; id = ex.st.frames[id].parent)
    r.scope.push_back(ex.st.frames[id].serial);
  ex.st.saga.records.push_back(std::move(r));
}

bool Engine::Impl::saga_fail(Execution& ex, const Failure& failure) {
  Saga s{*this, ex};
  SagaState& sg = ex.st.saga;
  if (sg.failing) return true;  // already rolling back for an earlier failure
  if (!sg.active && !s.any_pending(0)) return false;
  sg.failing = true;
  sg.error = failure.error;
  sg.cause = failure.cause;
  sg.has_error = failure.has_error;
  sg.has_cause = failure.has_cause;
  sg.waiting.clear();
  for (auto& f : ex.st.frames) f.token = 0;  // nothing the frames wait for matters now
  ex.ready.clear();
  if (!sg.active) s.start(kRollBackExecution);
  return true;
}

std::optional<json::value> Engine::Impl::saga_request(Execution& ex, std::uint32_t fid) {
  Saga s{*this, ex};
  SagaState& sg = ex.st.saga;
  Frame& f = ex.st.frames[fid];
  if (!sg.active && !s.any_pending(f.serial)) return s.report(RollBack{});
  f.phase = FramePhase::Children;  // waits for the roll-back
  if (sg.active) {
    sg.waiting.push_back(fid);
  } else {
    s.start(fid);
  }
  return std::nullopt;
}

bool Engine::Impl::saga_wakeup(Execution& ex, Wakeup& w) {
  return Saga{*this, ex}.wakeup(w);
}

void Engine::Impl::saga_restore(Execution& ex) {
  SagaState& sg = ex.st.saga;
  if (!sg.active) return;
  Saga s{*this, ex};
  switch (sg.active->phase) {
    case RollBack::Phase::Task:
      s.invoke();
      break;  // at-least-once: same attempt, same idempotency key
    case RollBack::Phase::Timer:
      arm(sg.active->due, Wakeup{ex.key, kSagaFrame, sg.active->token, Wakeup::Kind::Timer, {}});
      break;
    case RollBack::Phase::Ready:
      s.run_current();
      break;
  }
}

}  // namespace stepwise
