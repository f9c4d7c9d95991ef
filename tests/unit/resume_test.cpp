// Snapshots and resume: each workflow runs once to its end while a snapshot is
// taken at every transition; then every snapshot is resumed in a fresh engine
// (a "restarted process") and must end exactly as the uninterrupted run did,
// without invoking again a task that had completed, and invoking again each
// task that was in flight. Time is virtual; randomness is deterministic.
#include <algorithm>
#include <map>
#include <set>

#include "engine/snapshot.h"
#include "engine_test_util.h"
#include "states/timestamp.h"

using namespace stepwise;
using stepwise::testing::CountingRandom;
using stepwise::testing::parse_or_fail;

namespace {

json::value J(const char* text) {
  return *parse_json(text);
}

// One task invocation: which state, which attempt, which Map item (the
// payload's "idx", -1 without one).
struct Invocation {
  std::string state;
  int attempt = 0;
  std::int64_t idx = -1;
  std::string idempotency_key;
  std::size_t after_checkpoints = 0;  // snapshots taken before it was invoked
  std::string key() const {
    return state + "#" + std::to_string(attempt) + "#" + std::to_string(idx);
  }
};

std::int64_t idx_of(const json::value& payload) {
  if (const auto* o = payload.if_object())
    if (const auto* i = o->if_contains("idx"); i && i->is_int64()) return i->get_int64();
  return -1;
}

// Records invocations of the test functions in one engine.
struct Recorder {
  std::vector<Invocation> calls;
  std::vector<TaskCompletion> parked;  // tasks that never answer
  const std::size_t* checkpoints = nullptr;

  void note(const json::value& ev, const InvocationContext& ctx) {
    calls.push_back(Invocation{ctx.state_name, ctx.attempt, idx_of(ev), ctx.idempotency_key,
                               checkpoints ? *checkpoints : 0});
  }
};

// The functions every workflow uses. Each answer depends only on the state,
// the attempt and the payload, so a resumed run behaves as the original.
void register_functions(Engine& e, Recorder& rec) {
  auto& fns = e.functions();
  fns.add("Echo", [&rec](const json::value& ev, const InvocationContext& ctx) {
    rec.note(ev, ctx);
    return ev;
  });
  fns.add("Flaky", [&rec](const json::value& ev, const InvocationContext& ctx) -> json::value {
    rec.note(ev, ctx);
    if (ctx.attempt < 2) throw TaskError("Boom", "attempt " + std::to_string(ctx.attempt));
    return json::object{{"ok", ctx.attempt}};
  });
  fns.add("AlwaysFails",
          [&rec](const json::value& ev, const InvocationContext& ctx) -> json::value {
            rec.note(ev, ctx);
            throw TaskError("Nope", "never works");
          });
  fns.add("Item", [&rec](const json::value& ev, const InvocationContext& ctx) -> json::value {
    rec.note(ev, ctx);
    const std::int64_t i = idx_of(ev);
    if (i % 3 == 1) throw TaskError("ItemFailed", "item " + std::to_string(i));
    return i * 10;
  });
  // Never answers on its first attempt; answers afterwards.
  fns.add_async("HangOnce",
                [&rec](const json::value& ev, const InvocationContext& ctx, TaskCompletion done) {
                  rec.note(ev, ctx);
                  if (ctx.attempt == 0)
                    rec.parked.push_back(std::move(done));
                  else
                    done(TaskOutcome::success(json::object{{"late", ctx.attempt}}));
                });
  fns.add_async("HangAlways",
                [&rec](const json::value& ev, const InvocationContext& ctx, TaskCompletion done) {
                  rec.note(ev, ctx);
                  rec.parked.push_back(std::move(done));
                });
}

EngineOptions options_at(Nanos now) {
  EngineOptions o;
  o.clock = std::make_shared<ManualClock>(now);
  o.virtual_time = true;
  o.random = std::make_shared<CountingRandom>();
  return o;
}

constexpr Nanos kStart = 1735689600LL * kNanosPerSecond;

struct Snap {
  json::value json;
  Nanos time = 0;
};

struct Run {
  ExecutionResult result;
  std::vector<Snap> snaps;
  std::vector<Invocation> calls;
};

RunOptions run_options() {
  RunOptions o;
  o.execution_name = "resume-test";
  o.record_history = true;
  return o;
}

Run run_with_snapshots(const std::shared_ptr<const states::Definition>& def,
                       const json::value& input) {
  Run out;
  Engine e(options_at(kStart));
  Recorder rec;
  std::size_t count = 0;
  rec.checkpoints = &count;
  register_functions(e, rec);
  auto clock = std::dynamic_pointer_cast<ManualClock>(e.options().clock);
  RunOptions o = run_options();
  o.on_transition = [&](const Checkpoint& c) {
    out.snaps.push_back(Snap{c.to_json(), clock->now()});
    count = out.snaps.size();
  };
  out.result = e.run(def, input, std::move(o));
  out.calls = rec.calls;
  return out;
}

void check_same_outcome(const ExecutionResult& got, const ExecutionResult& want) {
  CHECK(status_name(got.status) == std::string(status_name(want.status)));
  CHECK(to_json(got.output) == to_json(want.output));
  CHECK(got.error == want.error);
  CHECK(got.cause == want.cause);
  CHECK(got.has_error == want.has_error);
  CHECK(got.has_cause == want.has_cause);
  CHECK(got.execution_arn == want.execution_arn);
  CHECK(got.events == want.events);
  CHECK(got.states_entered == want.states_entered);
}

// The keys of the tasks in flight in a snapshot.
std::multiset<std::string> in_flight(const states::Definition& def, const ExecutionSnapshot& s) {
  std::multiset<std::string> keys;
  std::set<std::uint32_t> timed_out;  // a pending timeout: the task is over
  for (const auto& p : s.queue.pending)
    if (p.kind == PendingWakeup::Kind::TaskTimeout ||
        p.kind == PendingWakeup::Kind::HeartbeatTimeout)
      timed_out.insert(p.frame);
  for (const auto& f : s.state.frames) {
    if (!f.in_use || f.phase != FramePhase::Task || timed_out.count(f.id)) continue;
    Invocation i{def.machine(f.machine).states[f.state].name, static_cast<int>(f.retry_count),
                 idx_of(f.effective)};
    keys.insert(i.key());
  }
  return keys;
}

struct Coverage {
  std::size_t snapshots = 0;
  std::size_t with_task_in_flight = 0;
  std::size_t reinvoked = 0;
};

// Runs `def` once, then resumes every snapshot and compares.
Coverage check_every_snapshot(const char* text, const char* input_text) {
  auto def = parse_or_fail(text);
  const json::value input = J(input_text);
  Run orig = run_with_snapshots(def, input);
  REQUIRE(!orig.snaps.empty());
  CHECK(orig.result.status != ExecutionStatus::Running);

  // Sanity of the uninterrupted run: each (state, attempt, item) runs once.
  std::map<std::string, std::string> idempotency;  // key -> idempotency key
  for (const auto& c : orig.calls) {
    INFO("invocation " << c.key());
    CHECK(idempotency.emplace(c.key(), c.idempotency_key).second);
  }
  // The last snapshot shows the end.
  auto last = snapshot_from_json(orig.snaps.back().json);
  REQUIRE_MESSAGE(last.ok(), (last.ok() ? "" : last.failure().cause));
  CHECK(last->state.status == orig.result.status);

  Coverage cov;
  for (std::size_t i = 0; i < orig.snaps.size(); ++i) {
    INFO("snapshot " << i << " of " << orig.snaps.size() << ": "
                     << json::serialize(orig.snaps[i].json));
    const json::value& sj = orig.snaps[i].json;

    // Round trip: JSON -> text -> JSON -> snapshot -> JSON is exact.
    const std::string text1 = json::serialize(sj);
    auto reparsed = parse_json(text1);
    REQUIRE(reparsed);
    auto parsed = snapshot_from_json(*reparsed);
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.failure().cause));
    CHECK(json::serialize(snapshot_to_json(*parsed)) == text1);
    auto direct = snapshot_from_json(sj);
    REQUIRE_MESSAGE(direct.ok(), (direct.ok() ? "" : direct.failure().cause));
    CHECK(*direct == *parsed);
    auto mismatch = check_snapshot(*def, *parsed);
    CHECK_MESSAGE(!mismatch, (mismatch ? mismatch->cause : ""));

    // Resume in a fresh engine, its clock where the original's stood.
    Engine e(options_at(orig.snaps[i].time));
    Recorder rec;
    register_functions(e, rec);
    std::optional<ExecutionResult> got;
    std::int64_t first_new_event = parsed->state.next_event_id;
    auto arn =
        e.resume(def, *reparsed, run_options(), [&](ExecutionResult r) { got = std::move(r); });
    REQUIRE_MESSAGE(arn.ok(), (arn.ok() ? "" : arn.failure().cause));
    CHECK(*arn == orig.result.execution_arn);
    e.run_pending();
    REQUIRE(got.has_value());
    check_same_outcome(*got, orig.result);

    // History continues where the snapshot stood: no event twice, none missing.
    std::vector<std::pair<std::int64_t, std::string>> want_events, got_events;
    for (const auto& ev : orig.result.history)
      if (ev.id >= first_new_event) want_events.emplace_back(ev.id, ev.type);
    for (const auto& ev : got->history) got_events.emplace_back(ev.id, ev.type);
    CHECK(got_events == want_events);

    // Invocations: those begun after the snapshot, plus those in flight at it.
    const auto flying = in_flight(*def, *parsed);
    std::multiset<std::string> expected = flying, actual;
    for (const auto& c : orig.calls)
      if (c.after_checkpoints > i) expected.insert(c.key());
    for (const auto& c : rec.calls) actual.insert(c.key());
    auto show = [](const std::multiset<std::string>& m) {
      std::string out;
      for (const auto& k : m) out += k + " ";
      return out;
    };
    INFO("invoked again: " << show(actual) << "| expected: " << show(expected));
    CHECK(actual == expected);
    for (const auto& c : rec.calls) {
      // At-least-once, with the very same attempt and idempotency key.
      CHECK(c.idempotency_key == idempotency[c.key()]);
    }
    for (const auto& c : orig.calls) {
      const bool completed = c.after_checkpoints <= i && !flying.count(c.key());
      if (completed) {
        INFO("completed before the snapshot: " << c.key());
        CHECK(std::none_of(rec.calls.begin(), rec.calls.end(),
                           [&](const Invocation& r) { return r.key() == c.key(); }));
      }
    }
    for (const auto& k : flying) {
      INFO("in flight at the snapshot: " << k);
      CHECK(actual.count(k) >= 1);
    }
    ++cov.snapshots;
    if (!flying.empty()) ++cov.with_task_in_flight;
    cov.reinvoked += flying.size();
  }
  return cov;
}

}  // namespace

TEST_CASE("resume: a Pass chain and a Choice loop continue from every transition") {
  auto cov = check_every_snapshot(R"J({"StartAt":"Init","States":{
      "Init":{"Type":"Pass","Parameters":{"n":0,"log":[]},"Next":"Loop"},
      "Loop":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericGreaterThanEquals":3,"Next":"Done"}],"Default":"Inc"},
      "Inc":{"Type":"Pass","Parameters":{"n.$":"States.MathAdd($.n, 1)","log.$":"States.ArrayPartition($.log, 1)"},
             "Next":"Loop"},
      "Done":{"Type":"Pass","Parameters":{"final.$":"$.n","entered.$":"$$.State.EnteredTime"},"End":true}}})J",
                                  "{}");
  // Start + Init + 4 Choice + 3 Inc + Done.
  CHECK(cov.snapshots == 10);
}

TEST_CASE("resume: Wait fires at its original due time; a Task with Retry fails, then succeeds") {
  auto cov = check_every_snapshot(R"({"StartAt":"W","States":{
      "W":{"Type":"Wait","Seconds":30,"Next":"T"},
      "T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Flaky",
           "Retry":[{"ErrorEquals":["Boom"],"IntervalSeconds":2,"BackoffRate":3,"MaxAttempts":3}],
           "ResultPath":"$.r","Next":"After"},
      "After":{"Type":"Wait","Seconds":5,"Next":"End"},
      "End":{"Type":"Pass","Parameters":{"r.$":"$.r","t.$":"$$.State.EnteredTime"},"End":true}}})",
                                  R"({"x":1})");
  CHECK(cov.with_task_in_flight == 3);  // attempts 0, 1 and 2, each right after it was scheduled
  CHECK(cov.reinvoked == 3);
}

TEST_CASE("resume: Task timeouts (retried, then caught) and Catch") {
  auto cov = check_every_snapshot(R"({"StartAt":"Slow","States":{
      "Slow":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:HangOnce","TimeoutSeconds":5,
              "Retry":[{"ErrorEquals":["States.Timeout"],"IntervalSeconds":1,"MaxAttempts":1}],
              "ResultPath":"$.slow","Next":"Stuck"},
      "Stuck":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:HangAlways",
               "TimeoutSeconds":7,"HeartbeatSeconds":3,
               "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.stuck","Next":"Bad"}],"Next":"Bad"},
      "Bad":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:AlwaysFails",
             "Catch":[{"ErrorEquals":["Nope"],"ResultPath":"$.err","Next":"Out"}],"End":true},
      "Out":{"Type":"Pass","End":true}}})",
                                  R"({"in":true})");
  CHECK(cov.with_task_in_flight >= 4);
}

TEST_CASE(
    "resume: Parallel with a failing branch caught; the machine-level timeout keeps its deadline") {
  check_every_snapshot(R"({"StartAt":"P","States":{
      "P":{"Type":"Parallel","Branches":[
          {"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Echo",
                                        "Parameters":{"branch":"a"},"Next":"AW"},
                                   "AW":{"Type":"Wait","Seconds":20,"End":true}}},
          {"StartAt":"BW","States":{"BW":{"Type":"Wait","Seconds":3,"Next":"B"},
                                    "B":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:AlwaysFails",
                                         "End":true}}},
          {"StartAt":"C","States":{"C":{"Type":"Pass","Result":"c","End":true}}}],
           "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.error","Next":"Handled"}],"End":true},
      "Handled":{"Type":"Pass","Next":"Long"},
      "Long":{"Type":"Wait","Seconds":100,"End":true}},
      "TimeoutSeconds":60})",
                       "{}");
}

TEST_CASE("resume: Map with MaxConcurrency and tolerated failures keeps its results") {
  auto cov = check_every_snapshot(R"({"StartAt":"M","States":{
      "M":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":2,"ToleratedFailureCount":2,
           "ItemSelector":{"idx.$":"$$.Map.Item.Index","v.$":"$$.Map.Item.Value"},
           "ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"Pause","States":{
              "Pause":{"Type":"Wait","SecondsPath":"$.v","Next":"Work"},
              "Work":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Item","End":true}}},
           "Next":"Done"},
      "Done":{"Type":"Pass","End":true}}})",
                                  R"({"items":[3,1,4,1,5,2]})");
  CHECK(cov.with_task_in_flight >= 6);
}

TEST_CASE("resume: Map over its tolerated failures fails the execution the same way") {
  check_every_snapshot(R"({"StartAt":"M","States":{
      "M":{"Type":"Map","MaxConcurrency":3,"ToleratedFailurePercentage":10,
           "ItemSelector":{"idx.$":"$$.Map.Item.Index"},
           "ItemProcessor":{"StartAt":"Work","States":{
              "Work":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Item","End":true}}},
           "End":true}}})",
                       R"([0,0,0,0,0])");
}

TEST_CASE("resume: nested Map in Parallel, with retries inside") {
  check_every_snapshot(R"({"StartAt":"P","States":{
      "P":{"Type":"Parallel","Branches":[
          {"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":2,
              "ItemSelector":{"idx.$":"$$.Map.Item.Index","v.$":"$$.Map.Item.Value"},
              "ItemProcessor":{"StartAt":"W","States":{
                  "W":{"Type":"Wait","SecondsPath":"$.v","Next":"E"},
                  "E":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Echo","End":true}}},
              "End":true}}},
          {"StartAt":"R","States":{"R":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Flaky",
              "Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":4,"MaxAttempts":5}],"End":true}}}],
           "Next":"Out"},
      "Out":{"Type":"Pass","Parameters":{"all.$":"$"},"End":true}}})",
                       R"({"items":[2,7,1]})");
}

TEST_CASE("on_transition fires after the start, after each step, and last with the end") {
  auto def = parse_or_fail(R"({"StartAt":"A","States":{
      "A":{"Type":"Pass","Next":"T"},
      "T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Echo","Next":"B"},
      "B":{"Type":"Pass","End":true}}})");
  Engine e(options_at(kStart));
  Recorder rec;
  register_functions(e, rec);
  std::vector<std::string> seen;  // status and the top frame's state/phase at each call
  std::vector<std::int64_t> next_events;
  RunOptions o;
  o.on_transition = [&](const Checkpoint& c) {
    const Frame& top = c.state.frames.at(0);
    seen.push_back(std::string(status_name(c.state.status)) + " " + std::to_string(top.state) +
                   " " + phase_name(top.phase) + (top.entered ? " entered" : ""));
    next_events.push_back(c.state.next_event_id);
  };
  auto r = e.run(def, J("{}"), o);
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  // Start (A ready), A left (T ready), T scheduled (waiting), T done and left
  // (B ready), B left (the end).
  CHECK(seen == std::vector<std::string>{"RUNNING 0 READY", "RUNNING 1 READY",
                                         "RUNNING 1 TASK entered", "RUNNING 2 READY",
                                         "SUCCEEDED 2 READY entered"});
  // ExecutionStarted; A in/out; T in, scheduled, started; succeeded, out; B in/out,
  // ExecutionSucceeded.
  CHECK(next_events == std::vector<std::int64_t>{2, 4, 7, 9, 12});
}

TEST_CASE(
    "resume: a Wait that fell due while the process was down fires at once; a later one at its due "
    "time") {
  auto def =
      parse_or_fail(R"({"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"Next":"Out"},
      "Out":{"Type":"Pass","Parameters":{"t.$":"$$.State.EnteredTime"},"End":true}}})");
  Run orig = run_with_snapshots(def, J("{}"));
  REQUIRE(orig.snaps.size() == 4);  // start, W waiting, W left, Out left
  auto waiting = snapshot_from_json(orig.snaps[1].json);
  REQUIRE(waiting.ok());
  REQUIRE(waiting->state.frames[0].phase == FramePhase::Timer);
  CHECK(waiting->state.frames[0].due == kStart + 3600 * kNanosPerSecond);

  for (Nanos restart : {kStart + 1000 * kNanosPerSecond, kStart + 7200 * kNanosPerSecond}) {
    Engine e(options_at(restart));
    auto clock = std::dynamic_pointer_cast<ManualClock>(e.options().clock);
    std::optional<ExecutionResult> got;
    REQUIRE(
        e.resume(def, orig.snaps[1].json, {}, [&](ExecutionResult r) { got = std::move(r); }).ok());
    e.run_pending();
    REQUIRE(got);
    CHECK(got->status == ExecutionStatus::Succeeded);
    const Nanos fired = std::max(restart, kStart + 3600 * kNanosPerSecond);
    CHECK(clock->now() == fired);
    CHECK(to_json(got->output) == "{\"t\":\"" + states::format_timestamp(fired) + "\"}");
  }
}

TEST_CASE("resume: a snapshot of an ended execution reports its result at once") {
  auto def =
      parse_or_fail(R"({"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E","Cause":"C"}}})");
  Run orig = run_with_snapshots(def, J("{}"));
  Engine e(options_at(kStart));
  std::optional<ExecutionResult> got;
  REQUIRE(e.resume(def, orig.snaps.back().json, {}, [&](ExecutionResult r) {
             got = std::move(r);
           }).ok());
  e.run_pending();
  REQUIRE(got);
  CHECK(got->status == ExecutionStatus::Failed);
  CHECK(got->error == "E");
  CHECK(got->cause == "C");
}

TEST_CASE("resume refuses a snapshot that does not fit the definition") {
  auto map_def = parse_or_fail(R"({"StartAt":"S","States":{"S":{"Type":"Pass","Next":"M"},
      "M":{"Type":"Map","ItemProcessor":{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":5,"End":true}}},
           "End":true}}})");
  Run orig = run_with_snapshots(map_def, J("[1,2]"));
  // The snapshot where the Map waits for its iterations.
  const json::value* children_snap = nullptr;
  for (const auto& s : orig.snaps) {
    auto p = snapshot_from_json(s.json);
    REQUIRE(p.ok());
    if (p->state.frames.size() > 1 && p->state.frames[0].phase == FramePhase::Children) {
      children_snap = &s.json;
      break;
    }
  }
  REQUIRE(children_snap);
  Engine e(options_at(kStart));
  auto none = [](ExecutionResult) { FAIL("must not run"); };

  auto one_state = parse_or_fail(R"({"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}})");
  auto r = e.resume(one_state, *children_snap, {}, none);
  REQUIRE(!r.ok());
  CHECK(r.failure().error == "Stepwise.SnapshotMismatch");
  CHECK(r.failure().cause ==
        "The snapshot does not fit this definition: frame 0 is at state 1 of machine 0, which has "
        "1 states");

  auto no_map = parse_or_fail(R"({"StartAt":"S","States":{"S":{"Type":"Pass","Next":"M"},
      "M":{"Type":"Pass","End":true}}})");
  r = e.resume(no_map, *children_snap, {}, none);
  REQUIRE(!r.ok());
  CHECK(r.failure().cause ==
        "The snapshot does not fit this definition: frame 0 is in phase CHILDREN, which state 'M' "
        "cannot be in");

  auto parallel = parse_or_fail(R"({"StartAt":"S","States":{"S":{"Type":"Pass","Next":"M"},
      "M":{"Type":"Parallel","Branches":[{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":5,"End":true}}}],
           "End":true}}})");
  r = e.resume(parallel, *children_snap, {}, none);
  REQUIRE(!r.ok());
  CHECK(r.failure().cause ==
        "The snapshot does not fit this definition: frame 2 is branch 1 of Parallel state 'M', "
        "which has 1 branches");
  e.run_pending();
}

TEST_CASE("snapshot_from_json refuses malformed snapshots, naming the member") {
  auto def =
      parse_or_fail(R"({"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":5,"End":true}}})");
  Run orig = run_with_snapshots(def, J("{}"));
  const json::value good = orig.snaps[1].json;
  REQUIRE(snapshot_from_json(good).ok());

  auto cause_of = [](const json::value& v) {
    auto r = snapshot_from_json(v);
    REQUIRE(!r.ok());
    CHECK(r.failure().error == "Stepwise.InvalidSnapshot");
    return r.failure().cause;
  };
  CHECK(cause_of(J("[]")) == "a snapshot is a JSON object");
  json::value v = good;
  v.as_object()["version"] = 2;
  CHECK(cause_of(v) == "snapshot version 2 is not supported (this engine reads version 1)");
  v = good;
  v.as_object().erase("execution");
  CHECK(cause_of(v) == "snapshot.execution is missing");
  v = good;
  v.as_object()["frames"].as_array()[0].as_object()["state"] = "W";
  CHECK(cause_of(v) == "snapshot.frames[0].state is not an integer in range");
  v = good;
  v.as_object()["frames"].as_array()[0].as_object()["phase"] = "SLEEPING";
  CHECK(cause_of(v) == "snapshot.frames[0].phase is not a known name");
  v = good;
  v.as_object()["frames"].as_array()[0].as_object()["parent"] = 4;
  CHECK(cause_of(v) == "snapshot.frames[0].parent is not a frame in use");
  v = good;
  v.as_object()["ready"] = json::array{7};
  CHECK(cause_of(v) == "snapshot.ready names frame 7, which is not in use");
}

TEST_CASE("snapshot JSON: defaults omitted, free frames null, numbers keep their kind") {
  ExecutionState st;
  st.arn = "arn";
  st.input = J(R"({"d":1.5,"i":-3,"big":18446744073709551615,"s":"x"})");
  st.frames.resize(3);
  for (std::uint32_t i = 0; i < 3; ++i) st.frames[i].id = i;
  st.frames[0].in_use = true;
  st.frames[0].phase = FramePhase::Children;
  st.frames[0].children = {2};
  st.frames[0].results = json::array{nullptr, 2.0};
  st.frames[0].tolerated_percentage = 12.5;
  st.frames[0].tolerated_count = 0;
  st.frames[2].in_use = true;
  st.frames[2].parent = 0;
  st.frames[2].slot = 1;
  st.frames[2].task_token = "";
  st.free_frames = {1};
  RunQueue queue;
  queue.ready = {2};
  queue.ready_first = 1;
  queue.pending = {{0, PendingWakeup::Kind::Timer}, {0, PendingWakeup::Kind::ExecutionTimeout}};
  json::value j = snapshot_to_json(st, queue);
  CHECK(json::serialize(j.at("pending")) ==
        R"([{"frame":0,"kind":"TIMER"},{"kind":"EXECUTION_TIMEOUT"}])");
  const auto& frames = j.at("frames").as_array();
  CHECK(
      json::serialize(frames[0]) ==
      R"({"phase":"CHILDREN","inUse":true,"results":[null,2E0],"toleratedPercentage":1.25E1,"toleratedCount":0,"children":[2]})");
  CHECK(frames[1].is_null());
  CHECK(json::serialize(frames[2]) == R"({"parent":0,"slot":1,"inUse":true,"taskToken":""})");
  auto back = snapshot_from_json(*parse_json(json::serialize(j)));
  REQUIRE(back.ok());
  CHECK(back->state == st);
  CHECK(back->queue == queue);
  CHECK(back->state.input.at("big").is_uint64());
  CHECK(back->state.frames[0].results.at(1).is_double());
}

TEST_CASE("resume: JSONata states and workflow variables continue from every transition") {
  auto cov = check_every_snapshot(R"J({"QueryLanguage":"JSONata","StartAt":"Init","States":{
      "Init":{"Type":"Pass","Assign":{"n":0,"seen":[]},"Next":"Loop"},
      "Loop":{"Type":"Choice","Choices":[{"Condition":"{% $n >= 3 %}","Next":"Done"}],"Default":"Inc"},
      "Inc":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Echo",
             "Arguments":{"n":"{% $n %}","idx":"{% $n %}"},
             "Assign":{"n":"{% $n + 1 %}","seen":"{% $append($seen, $states.result.n) %}"},"Next":"Nap"},
      "Nap":{"Type":"Wait","Seconds":"{% $n %}","Next":"Loop"},
      "Done":{"Type":"Pass","Output":{"n":"{% $n %}","seen":"{% $seen %}"},"End":true}}})J",
                                  "{}");
  CHECK(cov.snapshots > 10);
  CHECK(cov.reinvoked == 3);
}
